"""The language model: the ``ChatModel`` interface and its llama.cpp engine."""

from .base import ChatModel, GenerationOptions, Message, complete, fit_to_context
from .llamacpp import LlamaCppChatModel

__all__ = [
    "ChatModel",
    "GenerationOptions",
    "LlamaCppChatModel",
    "Message",
    "complete",
    "fit_to_context",
]
