"""The spoken utterances of ``bench turns``: sentences with a pause in the middle.

Each line is one utterance; ``|`` marks where the speaker stops to think for a moment
(300-700 ms) before going on. The pauses sit where people do pause: after "I'd like
to", a filler, a conjunction, an article, a preposition, or a phrase that could be the
end ("Set a timer | for ten minutes"). Nothing here is used to train or tune the turn
model (``training/turn`` builds its data from chatterbot-corpus).
"""

from __future__ import annotations

__all__ = ["UTTERANCES"]

UTTERANCES: tuple[str, ...] = (
    "I'd like to | book a table for two tonight.",
    "Can you tell me | what the weather will be tomorrow?",
    "I was wondering if | you could help me with my homework.",
    "What is the | capital of Australia?",
    "Set a timer | for ten minutes.",
    "Remind me to | call my sister at six.",
    "I need to buy | milk, eggs and bread.",
    "How long does it take to | boil an egg?",
    "Tell me about | the history of the Roman empire.",
    "Could you explain | how a rainbow forms?",
    "My favourite colour is | dark green.",
    "I think that | we should leave early tomorrow.",
    "What time does the | train to London leave?",
    "Um | what's the best way to learn French?",
    "So I went to the shop and | they had no bread left.",
    "Play some music | by the Beatles.",
    "How many kilometres | are there in a mile?",
    "I'm looking for a | good recipe for pancakes.",
    "Why is the sky | blue during the day?",
    "Please turn | the volume down a little.",
    "Who wrote | the novel Pride and Prejudice?",
    "I want to know | how far away the moon is.",
    "Can you recommend | a good book about space?",
    "Write a short poem | about the sea.",
    "What should I cook | for dinner tonight?",
    "The meeting is on | Thursday afternoon at three.",
    "We could go to the park or | stay at home and watch a film.",
    "How do I | reset my password?",
    "Translate good morning | into Spanish.",
    "I was born in | a small town near the coast.",
    "What's the difference between | a frog and a toad?",
    "Add apples to | my shopping list.",
    "If it rains tomorrow | we will stay inside.",
    "Give me three ideas | for a birthday present.",
    "When did the | first man walk on the moon?",
    "I don't really know | what to do this weekend.",
    "Is it true that | cats sleep most of the day?",
    "Let me think | about a name for my dog.",
    "Well | I suppose I could try again later.",
    "Explain to me how | a car engine works.",
    "What's a good name for | a black and white cat?",
    "I have a question about | my electricity bill.",
    "Find me a | quiet place to read nearby.",
    "Because I was tired | I went to bed early.",
    "Do you know | any good jokes about computers?",
    "How much water should I | drink every day?",
    "Send a message to | my brother saying I'm late.",
    "The thing is | I never learned to swim.",
    "Which planet is | closest to the sun?",
    "Can you help me | plan a trip to Italy | in the spring?",
    "I'd like to | hear the news | from this morning.",
    "What are the | main ingredients of | a good curry?",
)
"""52 sentences; ``bench turns`` speaks each with two voices (104 utterances)."""
