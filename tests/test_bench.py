"""``assistant bench engines``: every engine measured beside its raw library call.

Speed is measured, never asserted: these tests check that the figures exist, are sane
numbers and that the ratios are computed from them.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import isolate

from assistant.bench import Metric
from assistant.cli import main

EXPECTED = {
    "asr": ("rtf",),
    "llm": ("first_token_s", "tokens_per_s"),
    "tts": ("rtf", "first_audio_s"),
}


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    """One short in-process run shared by the tests: exit code, JSON figures, table."""
    home = tmp_path_factory.mktemp("bench-home")
    out = home / "out.json"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)  # as conftest does per test, for this module-wide run
        with contextlib.redirect_stdout(stdout):
            code = main(
                ["bench", "engines", "--repeats", "1", "--tokens", "32", "--json", str(out)]
            )
    figures = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return code, figures, stdout.getvalue()


def test_bench_engines_exits_zero(bench_run: tuple[int, dict[str, Any], str]) -> None:
    assert bench_run[0] == 0


def test_json_has_every_engine_and_metric_as_positive_numbers(
    bench_run: tuple[int, dict[str, Any], str],
) -> None:
    figures = bench_run[1]
    for engine, metrics in EXPECTED.items():
        assert set(figures[engine]) == set(metrics), engine
        for metric in metrics:
            for key in ("ours", "raw", "ratio"):
                value = figures[engine][metric][key]
                assert isinstance(value, float), (engine, metric, key)
                assert math.isfinite(value) and value > 0, (engine, metric, key, value)


def test_ratio_is_ours_over_raw_and_inverted_for_rates(
    bench_run: tuple[int, dict[str, Any], str],
) -> None:
    figures = bench_run[1]
    for engine, metrics in EXPECTED.items():
        for metric in metrics:
            f = figures[engine][metric]
            expected = f["raw"] / f["ours"] if metric == "tokens_per_s" else f["ours"] / f["raw"]
            assert f["ratio"] == pytest.approx(expected, rel=1e-9), (engine, metric)


def test_json_describes_the_machine(bench_run: tuple[int, dict[str, Any], str]) -> None:
    machine = bench_run[1]["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"].count(".") == 2
    for package in ("faster-whisper", "llama_cpp_python", "piper-tts"):
        assert machine["versions"][package][0].isdigit(), package


def test_table_lists_every_metric_and_a_verdict(
    bench_run: tuple[int, dict[str, Any], str],
) -> None:
    table = bench_run[2]
    for engine, metrics in EXPECTED.items():
        for metric in metrics:
            assert any(line.split()[:2] == [engine, metric] for line in table.splitlines())
    assert table.splitlines()[-1].startswith("all ratios ≤ 1.05: ")


def test_metric_ratio_above_one_means_ours_is_slower() -> None:
    time = Metric("rtf", "x", False, ours_runs=(2.0, 1.1, 9.0), raw_runs=(1.0, 3.0, 1.0))
    rate = Metric("tokens_per_s", "tok/s", True, ours_runs=(50.0,), raw_runs=(100.0,))
    assert time.ours == 2.0 and time.raw == 1.0  # medians
    assert time.ratio == pytest.approx(2.0)
    assert rate.ratio == pytest.approx(2.0)


def test_metric_spread_is_how_much_the_noisier_side_varied() -> None:
    metric = Metric("rtf", "x", False, ours_runs=(1.0, 1.2, 1.1), raw_runs=(2.0, 3.0))
    assert metric.spread == pytest.approx(0.5)


def test_repeats_below_one_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["bench", "engines", "--repeats", "0", "--json", str(tmp_path / "x.json")])
    assert exc.value.code == 2
    assert not (tmp_path / "x.json").exists()
