"""``assistant bench soak``, shortened: turns through the live pipeline on the scripted
engines, with barge-ins; threads and descriptors flat, every turn's events in order."""

from __future__ import annotations

import json

from assistant import cli
from assistant.bench.soak import SoakOptions, run_soak
from assistant.config import Config


def test_a_short_soak_completes_every_turn_in_order_with_no_thread_or_fd_growth():
    report = run_soak(Config(), SoakOptions(turns=60, barge_in_every=10, samples=6))
    assert report.problems == []
    assert report.turns_asked == 66
    assert report.turns_completed == 66
    assert report.barge_ins >= 3  # most cuts land while the reply is being written
    assert report.thread_growth <= 0
    assert report.fd_growth is not None and report.fd_growth <= 0
    assert report.rss_end_mb is not None and report.rss_end_mb > 0


def test_bench_soak_prints_the_figures_and_writes_them(tmp_path, capsys):
    path = tmp_path / "soak.json"
    assert cli.main(["bench", "soak", "--turns", "20", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "22/22 turns completed" in out
    assert "resident (MiB)" in out and "threads" in out and "file descriptors" in out
    assert "every turn's events complete and in order: yes" in out
    figures = json.loads(path.read_text())
    assert figures["turns_completed"] == 22
    assert {"rss_start_mb", "rss_end_mb", "growth", "thread_growth", "fd_growth"} <= set(figures)
