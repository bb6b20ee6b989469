"""The learned end-of-turn model (assistant/turnmodel, training/turn): the embedded
default loads from the store and tells finished turns from cut ones, fast; a missing or
corrupt model and a transcript in another language fall back to the silence rule; the
trainer writes a model the store accepts."""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import time
from pathlib import Path

import pytest

from assistant.config import Config, ConfigError
from assistant.errors import ModelError
from assistant.store import Catalog, ModelStore
from assistant.store.check import check_model
from assistant.turnmodel import MODES, TurnPolicy, TurnScorer, load_scorer
from assistant.turnmodel.features import MAX_FEATURES, PAD, featurize


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> TurnScorer:
    store = ModelStore(tmp_path_factory.mktemp("store"), Catalog.load())
    model = store.resolve("turn", Config().turn.model)
    assert model.source == "embedded"
    check_model("turn", model.path)
    return TurnScorer(model.path)


def test_features_are_fixed_length_and_stable() -> None:
    ids = featurize("What time is it?", 1 << 14)
    assert len(ids) == MAX_FEATURES and ids == featurize("what time is it ?", 1 << 14)
    assert all(0 < i < 1 << 14 for i in ids if i != PAD)
    assert ids != featurize("What time is it", 1 << 14)


def test_embedded_model_tells_finished_from_cut(scorer: TurnScorer) -> None:
    finished = ["What's the capital of Italy?", "Please turn off the kitchen lights.",
                "How tall is the Eiffel tower?"]  # fmt: skip
    cut = ["I'd like to", "Can you tell me about the", "What is the weather like and",
           "So I was thinking, um,", "I would like to.", "I was wondering if."]  # fmt: skip
    for text in finished:
        assert (p := scorer.score(text)) is not None and p > 0.5, (text, p)
    for text in cut:
        assert (p := scorer.score(text)) is not None and p < 0.5, (text, p)


def test_scoring_one_transcript_takes_under_20_ms(scorer: TurnScorer) -> None:
    times = []
    for i in range(200):
        start = time.perf_counter()
        scorer.score(f"could you set a timer for {i} minutes")
        times.append(time.perf_counter() - start)
    assert statistics.quantiles(times, n=10)[-1] < 0.020


def test_other_languages_get_the_silence_rule(scorer: TurnScorer) -> None:
    policy = TurnPolicy(scorer)
    assert scorer.score("Quelle est la capitale de la France ?") is None
    assert scorer.score("Wie spät ist es heute Abend bitte?") is None
    assert scorer.score("Какая сегодня погода?") is None
    assert scorer.score("What is the capital of France?", language="de") is None
    assert policy.pause("Quelle est la capitale de la France ?") is None
    waits = MODES["patient"]  # the default mode
    assert policy.pause("How tall is the Eiffel tower?") in (waits.sure_wait, waits.likely_wait)


def test_modes_order_the_waits(scorer: TurnScorer) -> None:
    assert MODES["eager"].sure <= MODES["balanced"].sure <= MODES["patient"].sure
    text = "Could you play some music?"
    waits = [TurnPolicy(scorer, mode).pause(text) for mode in ("eager", "balanced", "patient")]
    assert waits[0] == MODES["eager"].sure_wait < Config().vad.min_silence_ms / 1000
    assert all(w is None or w >= waits[0] for w in waits)
    hold = MODES["patient"].hold_wait
    assert TurnPolicy(scorer).pause("I'd like to") == hold > Config().vad.min_silence_ms / 1000
    with pytest.raises(ValueError, match=r"turn mode"):
        TurnPolicy(scorer, "hasty")
    config = Config()
    config.turn.mode = "hasty"
    with pytest.raises(ConfigError, match=r"turn\.mode"):
        config.validate()


def test_a_transcript_left_hanging_waits_longer_than_the_silence(scorer: TurnScorer) -> None:
    # The recogniser closes half a question as one; the last word still hangs.
    silence = Config().vad.min_silence_ms / 1000
    for text in ("How long does it take to?", "Which planet is?", "Tell me about the.", "So, um."):
        for mode in MODES:
            wait = TurnPolicy(scorer, mode).pause(text)
            assert wait == MODES[mode].hold_wait > silence, (mode, text)
            assert TurnPolicy(scorer, mode).longest >= wait


def test_missing_or_corrupt_model_falls_back_with_one_warning(
    scorer: TurnScorer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt = tmp_path / "turn.onnx"
    corrupt.write_bytes(scorer.path.read_bytes()[:5000])
    shutil.copy(scorer.path.with_name(scorer.path.name + ".json"), tmp_path / "turn.onnx.json")
    with pytest.raises(ModelError, match=r"turn\.onnx"):
        check_model("turn", corrupt)
    caplog.set_level(logging.WARNING)
    for path in (corrupt, corrupt, tmp_path / "missing.onnx", None):
        assert load_scorer(path) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    assert all("silence rule" in w for w in warnings)
    assert TurnPolicy(None).pause("What time is it?") is None


def test_a_model_without_its_companion_is_refused(scorer: TurnScorer, tmp_path: Path) -> None:
    lone = tmp_path / "turn.onnx"
    shutil.copy(scorer.path, lone)
    with pytest.raises(ModelError, match=r"turn\.onnx\.json: missing"):
        check_model("turn", lone)


@pytest.mark.slow  # ~30 s on a loaded 2-core machine: one epoch, torch, ONNX export
def test_train_turn_writes_a_model_the_store_accepts(tmp_path: Path) -> None:
    from training.turn.fit import TurnTrainOptions, train_turn_model
    from training.turn.heard import HEARD_FILE

    options = TurnTrainOptions(output=tmp_path, epochs=1, templates=200, heard=HEARD_FILE)
    result = train_turn_model(options)
    check_model("turn", result.onnx)
    assert "heard-en.jsonl" in json.loads(result.companion.read_text())["data"]
    scorer = TurnScorer(result.onnx)
    assert scorer.score("What is the capital of Spain?") > scorer.score("What is the capital of")
    metrics = result.metrics
    assert metrics["examples"] == result.held_out_examples > 500
    assert metrics["accuracy"] > 0.75
    assert set(metrics["modes"]) == set(MODES)


def test_train_turn_refuses_bad_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli import main

    assert main(["train", "turn", "--epochs", "0", "--output", str(tmp_path)]) != 0
    assert "--epochs must be at least 1" in capsys.readouterr().err
    assert main(["train", "turn", "--exclude", str(tmp_path / "nope.txt")]) != 0
    assert "cannot read --exclude" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_the_pipeline_waits_as_the_model_says(scorer: TurnScorer) -> None:
    from assistant.pipeline.conversation import _end_pause
    from assistant.pipeline.turns import early_end_pause

    config = Config()
    wait, longest = _end_pause(scorer, config)
    assert wait("What is the capital of Italy?") == MODES["patient"].sure_wait
    assert wait("I'd like to") == MODES["patient"].hold_wait == longest
    assert wait(None) is None
    assert _end_pause(None, config)[0]("What is the capital of Italy?") is None  # no model
    assert _end_pause(None, config)[1] == 0.0  # the silence rule holds nothing longer
    assert _end_pause("punctuation", config) == (early_end_pause, 0.0)  # a bare conversation
    config.vad.min_silence_ms = 1500  # longer than the hold: unfinished waits for all of it
    assert _end_pause(scorer, config)[0]("I'd like to") is None
    assert (
        _end_pause(scorer, config)[0]("How tall is the Eiffel tower?") == MODES["patient"].sure_wait
    )
    assert _end_pause(scorer, config)[1] == 0.0
    config.vad.min_silence_ms = 700
    config.turn.mode = "patient"
    assert (
        _end_pause(scorer, config)[0]("How tall is the Eiffel tower?") == MODES["patient"].sure_wait
    )
    config.asr.language = "fr"
    assert _end_pause(scorer, config)[0]("How tall is the Eiffel tower?") is None


def test_engines_load_the_turn_model_or_fall_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from assistant.engines import load_turn_model

    store = ModelStore(tmp_path, Catalog.load())
    config = Config()
    assert isinstance(load_turn_model(config, store), TurnScorer)
    config.turn.model = "no-such-turn-model"
    caplog.set_level(logging.WARNING)
    assert load_turn_model(config, store) is None
    assert any("silence rule" in r.getMessage() for r in caplog.records)
