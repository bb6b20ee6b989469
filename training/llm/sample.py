"""A generated chat dataset for the bench when the user gives none: short questions with
replies of varied length (one to six sentences), like real assistant conversations."""

from __future__ import annotations

import random

from .data import Example

__all__ = ["sample_examples"]

_TOPICS = ["the weather", "cooking rice", "a train timetable", "planting tomatoes",
           "fixing a bicycle", "learning French", "the night sky", "saving energy"]  # fmt: skip
_SENTENCES = [
    "Start with the simplest step and check the result before going on.",
    "Most people find it easier in the morning, when it is quiet.",
    "Keep a small notebook so you remember what worked.",
    "If something goes wrong, go back one step and try again slowly.",
    "It usually takes about twenty minutes the first time.",
    "Ask a friend to help if you need a second pair of hands.",
]


def sample_examples(count: int = 48, seed: int = 0, system: str | None = None) -> list[Example]:
    """``count`` conversations (one question, one reply of 1-6 sentences)."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        topic = rng.choice(_TOPICS)
        reply = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(1, 6)))
        messages = [
            {"role": "user", "content": f"Can you help me with {topic}?"},
            {"role": "assistant", "content": f"Of course, here is how with {topic}. {reply}"},
        ]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        out.append(Example(where=f"sample:{index + 1}", messages=tuple(messages)))
    return out
