"""``assistant bench latency``: voice-to-voice latency of the live pipeline beside a
sequential one, barge-in stop times and memory.

A tiny run (two questions, one round, one barge-in, short replies) shared by the tests.
Speed is measured, never asserted: the tests check that the figures exist, are sane
numbers and that the summary figures are computed from the per-turn ones.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import isolate

from assistant.bench.report import percentile
from assistant.cli import main

QUESTIONS = Path(__file__).resolve().parent / "bench_questions"
PICKED = ("q01.wav", "q02.wav")  # a story (a long reply to barge into) and a short answer
MAX_TOKENS = 40

Run = tuple[int, dict[str, Any], str]


@pytest.fixture(scope="module")
def latency_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Exit code, JSON figures and printed table of one short in-process run."""
    home = tmp_path_factory.mktemp("latency-home")
    questions = home / "questions"
    questions.mkdir()
    for name in (*PICKED, "stop.wav"):
        shutil.copy(QUESTIONS / name, questions / name)
    out = home / "out.json"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)  # as conftest does per test, for this module-wide run
        with contextlib.redirect_stdout(stdout):
            code = main(
                ["bench", "latency", "--questions", str(questions), "--repeats", "1",
                 "--max-tokens", str(MAX_TOKENS), "--barge-ins", "1", "--json", str(out)]
            )  # fmt: skip
    figures = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return code, figures, stdout.getvalue()


def _positive(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_bench_latency_exits_zero(latency_run: Run) -> None:
    assert latency_run[0] == 0


def test_every_question_is_answered_once_per_pipeline(latency_run: Run) -> None:
    figures = latency_run[1]
    for pipeline in ("streaming", "baseline"):
        turns = figures[pipeline]["turns"]
        assert [t["question"] for t in turns] == list(PICKED), pipeline
        assert figures[pipeline]["answered"] == len(PICKED)
        for turn in turns:
            assert _positive(turn["voice_to_voice_s"]), (pipeline, turn)
            assert turn["heard"].strip() and turn["reply"].strip(), (pipeline, turn)


def test_both_pipelines_write_the_same_reply(latency_run: Run) -> None:
    streaming, baseline = (latency_run[1][p]["turns"] for p in ("streaming", "baseline"))
    for live, naive in zip(streaming, baseline, strict=True):
        # Greedy decoding, same prompt: the live reply (cut once it plays) begins as the
        # baseline's does.
        words = live["reply"].split()[:4]
        assert naive["reply"].split()[: len(words)] == words, (live, naive)


def test_summary_figures_are_positive_and_come_from_the_turns(latency_run: Run) -> None:
    figures = latency_run[1]
    for pipeline in ("streaming", "baseline"):
        values = [t["voice_to_voice_s"] for t in figures[pipeline]["turns"]]
        for q in (50, 90):
            reported = figures[pipeline][f"p{q}_s"]
            assert _positive(reported), (pipeline, q)
            assert reported == pytest.approx(percentile(values, q), rel=1e-9)


def test_ratios_are_streaming_over_baseline(latency_run: Run) -> None:
    figures = latency_run[1]
    for q in ("p50", "p90"):
        expected = figures["streaming"][f"{q}_s"] / figures["baseline"][f"{q}_s"]
        assert figures["ratio"][q] == pytest.approx(expected, rel=1e-9), q
    goals = figures["goals"]
    met = all(figures["ratio"][q] <= goals["ratio_max"] for q in ("p50", "p90"))
    assert goals["ratio_met"] is met
    assert (goals["conversation_p50_max_s"], goals["conversation_ratio_p50_max"]) == (0.65, 0.3)
    conversational = figures["streaming"]["p50_s"] <= 0.65 and figures["ratio"]["p50"] <= 0.3
    assert goals["conversation_met"] is conversational


def test_barge_in_is_measured(latency_run: Run) -> None:
    barge_in = latency_run[1]["barge_in"]
    assert barge_in["tried"] == 1
    assert barge_in["measured"] == len(barge_in["stops_s"]) == 1
    # 0: the reply was paused before the VAD was sure (the fast onset detector).
    assert all(0 <= s < 2 for s in barge_in["stops_s"])
    assert barge_in["p90_s"] == pytest.approx(percentile(barge_in["stops_s"], 90))
    at_output = barge_in["at_output"]
    assert at_output["measured"] == 1 and 0 <= at_output["p90_s"] < 2


def test_each_live_turn_has_its_waterfall(latency_run: Run) -> None:
    for turn in latency_run[1]["streaming"]["turns"]:
        steps = turn["steps_s"]
        assert {"transcript", "first_token", "first_sentence", "voiced", "confirmed"} <= set(steps)
        assert steps["transcript"] <= steps["first_token"] <= steps["first_sentence"]
        assert steps["first_sentence"] <= steps["voiced"]
        # Nothing plays before the reply is voiced and the turn confirmed.
        assert turn["voice_to_voice_s"] >= max(steps["voiced"], steps["confirmed"])


def test_json_has_memory_settings_and_machine(latency_run: Run) -> None:
    figures = latency_run[1]
    memory = figures["memory"]
    assert all(_positive(memory[k]) for k in ("rss_start_mb", "rss_loaded_mb", "rss_end_mb"))
    assert memory["peak_mb"] >= memory["rss_loaded_mb"]
    settings = figures["settings"]
    assert settings["min_silence_ms"] == 700  # the config's default
    assert settings["max_tokens"] == MAX_TOKENS
    assert settings["temperature"] == 0.0
    assert settings["questions"] == list(PICKED)
    assert set(settings["models"]) == {"vad", "asr", "llm", "voice", "turn"}
    assert "min_silence_ms" in settings["method"]
    assert figures["machine"]["cpu_count"] >= 1


def test_table_shows_each_figure_and_the_goals(latency_run: Run) -> None:
    table = latency_run[2]
    for row in ("streaming (s)", "baseline (s)", "ratio stream/base", "barge-in stop (ms)"):
        assert any(line.startswith(row) for line in table.splitlines()), row
    assert "waits the endpointer's 700 ms of silence" in table
    assert "less when the end-of-turn model finds its speculative transcript" in table
    assert "memory: peak" in table
    assert any(line.startswith("ratio ≤ 0.40") for line in table.splitlines())
    assert any(
        line.startswith("speed of conversation, p50 ≤ 0.65 s and ratio p50 ≤ 0.30: ")
        for line in table.splitlines()
    )
    assert any(line.startswith("barge-in p90 ≤ 100 ms") for line in table.splitlines())


def test_a_missing_question_folder_says_where_to_get_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "latency", "--questions", str(tmp_path / "nowhere")])
    assert code == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "make_questions.py" in err


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == pytest.approx(3.7)
    assert percentile([5.0], 90) == 5.0


def test_the_second_question_set_is_other_questions_in_espeak_voices() -> None:
    from assistant.audio import read_audio
    from assistant.bench.latency import find_questions

    here = Path(__file__).parent
    questions, stop = find_questions(here / "bench_questions_espeak")
    first = find_questions(here / "bench_questions")[0]
    assert len(questions) == 8 and stop.is_file()
    lines = (here / "bench_questions_espeak" / "questions.txt").read_text().splitlines()
    assert not set(lines) & set(
        (here / "bench_questions" / "questions.txt").read_text().splitlines()
    )
    for path in (*questions, stop):
        audio = read_audio(path)
        assert audio.sample_rate == 16000 and 1.0 <= audio.duration <= 4.0, path
    assert [q.name for q in questions] == [q.name for q in first]
