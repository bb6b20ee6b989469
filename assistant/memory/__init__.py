"""Conversation memory: conversations and their turns in SQLite in the user's data
directory, read back as the model's history and exported as chat-training JSONL."""

from .db import SCHEMA_VERSION, HistoryCorruptError, HistoryError
from .records import ConversationSummary, Turn
from .store import ConversationStore, default_history_path, open_history

__all__ = [
    "SCHEMA_VERSION",
    "ConversationStore",
    "ConversationSummary",
    "HistoryCorruptError",
    "HistoryError",
    "Turn",
    "default_history_path",
    "open_history",
]
