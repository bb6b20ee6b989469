"""Sentence chunking, speakable text and word error rate."""

from __future__ import annotations

from assistant.text import SentenceChunker, speakable, split_sentences, word_error_rate


def test_sentences_are_cut_at_their_end_but_not_at_abbreviations_or_decimals():
    text = "Dr. Smith said pi is 3.14 today! Is that right? Yes, e.g. in maths. Done"
    assert split_sentences(text) == [
        "Dr. Smith said pi is 3.14 today!",
        "Is that right?",
        "Yes, e.g. in maths.",
        "Done",
    ]


def test_chunker_yields_a_sentence_as_soon_as_the_next_word_begins():
    chunker = SentenceChunker()
    assert chunker.feed("The capital of France") == []
    assert chunker.feed(" is Paris.") == []  # could still be "Paris.com"
    assert chunker.feed(" It") == ["The capital of France is Paris."]
    assert chunker.feed(" is big.") == []
    assert chunker.flush() == ["It is big."]
    assert chunker.flush() == []


def test_list_items_and_paragraphs_are_separate_sentences():
    assert split_sentences("Options:\n- tea\n- coffee\n\nPick one") == [
        "Options:",
        "- tea",
        "- coffee",
        "Pick one",
    ]


def test_speakable_removes_markdown_links_urls_code_and_emoji():
    text = "# Answer\n**Paris** is the _capital_. See [the wiki](https://w.org/x) 🇫🇷😀\n`x = 1`"
    assert speakable(text) == "Answer\nParis is the capital. See the wiki\nx = 1"
    assert speakable("Visit https://example.com/a?b=c now") == "Visit a link now"
    assert speakable("```python\nprint(1)\n```\nDone.") == "Done."


def test_word_error_rate_ignores_case_and_punctuation():
    assert (
        word_error_rate("The capital of France is Paris.", "the capital of france, is paris") == 0
    )
    assert word_error_rate("a b c d", "a x c") == 0.5  # one substitution, one deletion
    assert word_error_rate("", "") == 0
    assert word_error_rate("", "words") == 1


def test_first_piece_may_end_at_a_clause_so_the_voice_starts_sooner():
    chunker = SentenceChunker(first_clause_words=3)
    text = "Once upon a time, in a land far away, there lived a dragon. It was big, and red."
    pieces = [piece for word in text.split(" ") for piece in chunker.feed(word + " ")]
    pieces += chunker.flush()
    assert pieces == [
        "Once upon a time,",
        "in a land far away, there lived a dragon.",
        "It was big, and red.",
    ]
    # Too few words before the comma: no early cut.
    assert split_sentences("Yes, it is.") == ["Yes, it is."]


def _first_pieces(text: str, words: int = 2) -> list[str]:
    chunker = SentenceChunker(first_clause_words=words)
    pieces = [piece for word in text.split(" ") for piece in chunker.feed(word + " ")]
    return pieces + chunker.flush()


def test_a_long_first_sentence_without_a_comma_is_cut_before_a_clause_opener():
    assert _first_pieces("The sky is blue because of Rayleigh scattering. It is.") == [
        "The sky is blue",
        "because of Rayleigh scattering.",
        "It is.",
    ]
    # Only the first piece is cut early; later sentences stay whole.
    assert _first_pieces("Yes. The sky is blue because of the air.") == [
        "Yes.",
        "The sky is blue because of the air.",
    ]
    # Too few words before the opener, and "and" joins words: no cut there.
    assert _first_pieces("It is blue because of air.") == ["It is blue", "because of air."]
    assert _first_pieces("Blue because of air.") == ["Blue because of air."]
    assert _first_pieces("A brave and fearless dragon flew home.") == [
        "A brave and fearless dragon flew home."
    ]
    # "whenever" is not "when"; the word must be whole.
    assert _first_pieces("The dragon sleeps whenever it rains.") == [
        "The dragon sleeps whenever it rains."
    ]
    assert _first_pieces("One day, a dragon woke.") == ["One day,", "a dragon woke."]


def test_a_long_first_sentence_is_cut_before_its_verb_or_a_number():
    assert _first_pieces("The capital of France is Paris. It is big.") == [
        "The capital of France",
        "is Paris.",
        "It is big.",
    ]
    assert _first_pieces("The moon is approximately 384,400 kilometers away. It is far.") == [
        "The moon is approximately",
        "384,400 kilometers away.",
        "It is far.",
    ]
    # A short subject or a short start is not cut, nor a later sentence.
    assert _first_pieces("The sky is blue.") == ["The sky is blue."]
    assert _first_pieces("There are 8 planets.") == ["There are 8 planets."]
    assert _first_pieces("Yes. The capital of France is Paris.") == [
        "Yes.",
        "The capital of France is Paris.",
    ]
    # Still going after six words: before a preposition (not "of" or "to").
    assert _first_pieces("I'm a helpful voice assistant running on your computer.") == [
        "I'm a helpful voice assistant running",
        "on your computer.",
    ]
    assert _first_pieces("Leaves change colour in autumn due to the cold.") == [
        "Leaves change colour in autumn due to the cold."
    ]
    # "is" must be the whole word.
    assert _first_pieces("The tallest mountain island fell.") == [
        "The tallest mountain island fell."
    ]


def _pieces_per_token(tokens: list[str]) -> list[tuple[str, list[str]]]:
    chunker = SentenceChunker(first_clause_words=2)
    return [(token, got) for token in tokens if (got := chunker.feed(token))]


def test_the_first_piece_ends_as_soon_as_its_mark_is_written():
    # As SmolLM2 writes them: the mark is a token of its own.
    assert _pieces_per_token(["I", "'m", " sorry", " for", " your", " loss", ",", " but"]) == [
        (",", ["I'm sorry for your loss,"])
    ]
    assert _pieces_per_token(["Yes", ".", " It", " is", ".", " Done"]) == [
        (".", ["Yes."]),
        (" Done", ["It is."]),  # a later sentence waits for the next word
    ]
    # Not a number's comma or point, an abbreviation or an initial.
    assert _pieces_per_token(["It", " is", " 8", ",", "849", ".", " So"]) == [
        (" So", ["It is 8,849."])
    ]
    assert _pieces_per_token(["Dr", ".", " Smith", " came", "."]) == [(".", ["Dr. Smith came."])]
    assert _pieces_per_token(["J", ".", " R", ".", " wrote", "."]) == [(".", ["J. R. wrote."])]
    # A clause break still needs its words.
    assert _pieces_per_token(["Sure", ",", " I", " can", "."]) == [(".", ["Sure, I can."])]


def test_a_sentence_said_over_and_over_is_kept_once() -> None:
    from assistant.text import collapse_repeats

    assert collapse_repeats("Stop. Stop. Stop. Stop.") == "Stop."
    assert collapse_repeats("Stop. stop! What time is it?") == "Stop. What time is it?"
    # Not a repeat: different words, or the same sentence apart.
    assert collapse_repeats("Stop. Stup.") == "Stop. Stup."
    assert collapse_repeats("No. Yes. No.") == "No. Yes. No."
    assert collapse_repeats("Set a timer,  please.") == "Set a timer,  please."
    assert collapse_repeats("") == ""
