"""``assistant bench gui``, run small: the figures' structure, not their speed."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

from assistant import cli


def test_bench_gui_writes_the_launch_and_stall_figures(qapp, tmp_path: Path, capsys):
    out = tmp_path / "gui.json"
    code = cli.main(
        ["bench", "gui", "--launches", "1", "--turns", "1", "--max-tokens", "20",
         "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    figures = json.loads(out.read_text())
    launch, stall = figures["launch"], figures["stall"]
    assert launch["errors"] == [] and len(launch["runs"]) == 1
    run = launch["runs"][0]
    assert 0 < run["from_run_s"] < run["from_spawn_s"]
    assert launch["worst_s"] == run["from_spawn_s"] and launch["goal_s"] == 1.5
    assert isinstance(launch["goal_met"], bool)
    assert len(stall["turns"]) == 1 and stall["goal_s"] == 0.05
    turn = stall["turns"][0]
    assert turn["answered"] and turn["question"] == "q01.wav" and turn["ticks"] > 10
    assert stall["worst_s"] == turn["longest_stall_s"] >= 0
    assert isinstance(stall["goal_met"], bool) and stall["heartbeat_ms"] == 5
    assert figures["settings"]["turns"] == 1 and figures["machine"]["cpu_count"] >= 1
    table = capsys.readouterr().out
    assert "window visible, worst (s)" in table and "GUI stall, worst (ms)" in table


def test_bench_gui_can_skip_both_parts(tmp_path: Path, capsys):
    out = tmp_path / "gui.json"
    assert cli.main(["bench", "gui", "--launches", "0", "--turns", "0", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["launch"]["worst_s"] is None and figures["launch"]["goal_met"] is None
    assert figures["stall"]["turns"] == [] and figures["stall"]["goal_met"] is None
    assert "GUI stall, worst (ms)" in capsys.readouterr().out


def test_gui_has_a_hidden_bench_visible_option(capsys):
    parser = cli.build_parser()
    assert parser.parse_args(["gui", "--bench-visible"]).bench_visible
    parser.parse_args(["gui"])
    import contextlib

    with contextlib.suppress(SystemExit):
        parser.parse_args(["gui", "--help"])
    assert "bench-visible" not in capsys.readouterr().out
