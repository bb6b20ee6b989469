"""``assistant bench turns``: the end-of-turn rules replayed on what the live capture
stage saw of spoken sentences with a pause in the middle.

A tiny run (one sentence, spoken by Piper and an espeak-ng voice) through the real VAD
and recogniser checks that the stage reports its pauses with their transcripts and that
the report is complete; the judging is checked on pauses written by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from conftest import isolate

from assistant.bench.turns import PauseSeen, UtteranceResult, judge
from assistant.cli import main


@pytest.fixture(scope="module")
def turns_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    home = tmp_path_factory.mktemp("turns-home")
    out = home / "turns.json"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        with contextlib.redirect_stdout(stdout):
            code = main(["bench", "turns", "--limit", "1", "--json", str(out)])
    figures = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return code, figures, stdout.getvalue()


def test_every_utterance_is_heard_with_its_pauses(turns_run) -> None:
    code, figures, table = turns_run
    assert code == 0
    assert figures["utterances"] == 2 and figures["inner_pauses"] == 2
    voices = [r["voice"] for r in figures["results"]]
    assert voices[0].startswith("piper:") and voices[1].startswith("espeak:")
    for result in figures["results"]:
        assert "table" in result["heard"].lower(), result
        assert result["silence_turns"] == 1  # no pause outlasted the endpointer's silence
        assert all(0.3 <= p <= 0.7 for p in result["pauses_s"])
        # The transcript of each pause: as it came in the pause, or made afterwards.
        inner, last = result["seen"][:-1], result["seen"][-1]
        assert inner and "like" in (inner[0]["text"] or inner[0]["late_text"]).lower(), result
        assert "table" in (last["text"] or last["late_text"]).lower(), result
    assert figures["rules"]["silence"]["as_run"]["cut_ins"] == 0
    # The silence rule ends the turn on the first block (30 ms) at or past its silence.
    silence = figures["silence_wait_s"]
    assert silence <= figures["rules"]["silence"]["as_run"]["wait_p50_s"] <= silence + 0.035
    assert figures["stage_silence_s"] > silence  # room for the model's hold
    assert set(figures["rules"]) == {"eager", "balanced", "patient", "punctuation", "silence"}
    for name in ("eager", "balanced", "patient", "punctuation", "silence"):
        assert name in table
    assert "cut-ins ≤ 2 %" in table


def _result(*seen: PauseSeen, turns: int = 1) -> UtteranceResult:
    return UtteranceResult("a | b", "piper:x", (0.5,), list(seen), turns, "", 0.0)


def _seen(text: str | None, ready: float, longest: float) -> PauseSeen:
    steps = [round(ready + 0.03 * i, 3) for i in range(100) if ready + 0.03 * i <= longest]
    return PauseSeen(text, steps if text else [], longest)


def test_a_rule_cuts_in_only_when_the_pause_outlasts_its_wait() -> None:
    def rule(text: str) -> float | None:
        return 0.25 if text.endswith(".") else None

    finished_early = _result(_seen("I'd like to.", 0.2, 0.5), _seen("Book it.", 0.2, 0.68))
    assert judge(finished_early, rule, 0.7) == (True, 0.26)
    short_pause = _result(_seen("I'd like to.", 0.2, 0.24), _seen("Book it.", 0.2, 0.68))
    assert judge(short_pause, rule, 0.7) == (False, 0.26)
    late_text = _result(_seen("I'd like to.", 0.45, 0.5), _seen("Book it.", 0.5, 0.68))
    assert judge(late_text, rule, 0.7) == (True, 0.5)
    assert judge(late_text, rule, 0.7, instant=True) == (True, 0.25)
    unsure = _result(_seen("I'd like to", 0.2, 0.6), _seen("Book it", 0.2, 0.68))
    assert judge(unsure, rule, 0.7) == (False, 0.7)
    split = _result(_seen("I'd like to", 0.2, 0.6), _seen("Book it", 0.2, 0.68), turns=2)
    assert judge(split, rule, 0.7)[0]


def test_a_rule_may_hold_a_pause_past_the_silence() -> None:
    def hold(text: str) -> float | None:
        return 0.25 if text.endswith(".") else 1.1

    # An 0.8 s pause inside the sentence: the silence rule (0.7 s) cuts in, the hold does not.
    long_pause = _result(_seen("I'd like to", 0.3, 0.8), _seen("Book it.", 0.3, 1.3))
    assert judge(long_pause, lambda _t: None, 0.7, longest=1.3) == (True, 0.72)
    assert judge(long_pause, hold, 0.7, longest=1.3) == (False, 0.3)
    # A transcript that came after the silence ran out: the silence rule ended the turn.
    late = _result(_seen("I'd like to", 0.75, 0.8), _seen("Book it", 0.9, 1.3))
    assert judge(late, hold, 0.7, longest=1.3) == (True, 0.7)
    # Held to the end: the wait is the stage's longest silence.
    held = _result(_seen("Book it", 0.3, 1.0))
    assert judge(held, hold, 0.7, longest=1.3) == (False, 1.3)


def test_the_held_out_sentences_are_new_to_the_bench_and_to_the_turn_model():
    from pathlib import Path

    from assistant.bench.turn_set import HELD_OUT, UTTERANCES
    from assistant.turnmodel.features import words
    from training.turn.fit import TurnTrainOptions, bench_sentences, training_turns

    def norm(text: str) -> str:
        return " ".join(words(text.replace("|", " ")))

    assert len(HELD_OUT) == len(UTTERANCES) == 52
    for sentence in HELD_OUT:
        before, _, after = sentence.partition(" | ")
        assert before and after and "|" not in after, sentence
    held = {norm(s) for s in HELD_OUT}
    assert len(held) == 52 and not held & {norm(s) for s in UTTERANCES}
    # Never trained on (nor its first part as a whole line), and kept out of future data.
    trained = {norm(t) for t in training_turns(TurnTrainOptions(output=Path("unused")))}
    assert not held & trained
    assert not {norm(s.partition(" | ")[0]) for s in HELD_OUT} & trained
    assert held <= {norm(s) for s in bench_sentences()}
