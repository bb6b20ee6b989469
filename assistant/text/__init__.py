"""Text for speaking: sentence chunking, cleanup for a voice, word error rate."""

from .sentences import SentenceChunker, collapse_repeats, split_sentences
from .speakable import speakable
from .wer import edit_distance, normalize_words, word_error_rate

__all__ = [
    "SentenceChunker",
    "collapse_repeats",
    "edit_distance",
    "normalize_words",
    "speakable",
    "split_sentences",
    "word_error_rate",
]
