"""The learned end-of-turn model (assistant/turnmodel, training/turn): the embedded
default (a GRU over the transcript's tokens) loads from the store and tells finished turns
from cut ones, fast; a missing or corrupt model, one of an unknown features version and
a transcript in another language fall back to the silence rule; the trainer writes a
model the store accepts, and a model of the earlier kind (hashed features) still loads."""

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
from assistant.turnmodel.features import (
    GAP,
    MAX_FEATURES,
    NUM,
    PAD,
    SEQ_LEN,
    SPECIALS,
    START,
    UNK,
    encode,
    featurize,
)


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


def test_sequences_keep_the_start_and_the_end_of_a_transcript() -> None:
    vocab = {t: i for i, t in enumerate((*SPECIALS, "what", "is", "the", "capital", "of", "?"))}
    ids = encode("What is the capital of Narnia?", vocab)
    assert len(ids) == SEQ_LEN and ids[: SEQ_LEN - 8] == [PAD] * (SEQ_LEN - 8)
    assert ids[-8:] == [START, *(vocab[w] for w in ("what", "is", "the", "capital", "of")),
                        UNK, vocab["?"]]  # fmt: skip
    assert encode("what is the capital of narnia ?", vocab) == ids
    assert encode("What is the capital of Narnia", vocab)[-1] == UNK
    assert encode("Set a timer for 10", vocab)[-1] == NUM
    long = encode("What is " + "very " * 40 + "far?", vocab)
    assert len(long) == SEQ_LEN and long[:5] == [START, vocab["what"], vocab["is"], UNK, GAP]
    assert long[-1] == vocab["?"]


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
    text = "What is the capital of Spain?"
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


def test_a_plain_question_the_model_doubts_is_never_held_past_the_silence(
    scorer: TurnScorer,
) -> None:
    # Whole questions whose last words could go on score under the hold; closed by a
    # question mark they wait the silence rule, no longer. Without the mark, held.
    for text in ("What is the meaning of life?", "What time does the sun set?"):
        assert scorer.score(text) < MODES["patient"].hold
        for mode in MODES:
            assert TurnPolicy(scorer, mode).pause(text) == MODES[mode].unsure_wait, (mode, text)
        held = TurnPolicy(scorer).pause(text.rstrip("?"))
        assert held == MODES["patient"].hold_wait, text
    # A question mark after a hanging word is still held ("Which planet is?").
    assert TurnPolicy(scorer).pause("Which planet is?") == MODES["patient"].hold_wait


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


def test_scores_do_not_depend_on_the_batch(scorer: TurnScorer) -> None:
    texts = ["What time is it?", "I'd like to", "Tell me about the history of Rome.", "So,"]
    batch = scorer.score_batch(texts)
    one_by_one = [float(scorer.score_batch([t])[0]) for t in texts]
    assert batch.tolist() == pytest.approx(one_by_one, abs=1e-5)


def test_a_model_of_another_features_version_falls_back_with_one_warning(
    scorer: TurnScorer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "turn.onnx"
    shutil.copy(scorer.path, model)
    side = tmp_path / "turn.onnx.json"
    info = json.loads(scorer.path.with_name(scorer.path.name + ".json").read_text())
    assert info["feature_version"] == 2
    side.write_text(json.dumps({**info, "feature_version": 99}))
    with pytest.raises(ModelError, match=r"features version 99"):
        check_model("turn", model)
    caplog.set_level(logging.WARNING)
    assert load_scorer(model) is None and load_scorer(model) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "silence rule" in warnings[0], warnings
    side.write_text(json.dumps({**info, "vocab": ["what", "is"]}))
    with pytest.raises(ModelError, match=r"vocab must be a list of tokens starting with <pad>"):
        check_model("turn", model)
    side.write_text(json.dumps({**info, "feature_version": 1, "buckets": 1 << 14}))
    with pytest.raises(ModelError, match=r"takes 24 ids per transcript"):
        TurnScorer(model)


def test_a_model_without_its_companion_is_refused(scorer: TurnScorer, tmp_path: Path) -> None:
    lone = tmp_path / "turn.onnx"
    shutil.copy(scorer.path, lone)
    with pytest.raises(ModelError, match=r"turn\.onnx\.json: missing"):
        check_model("turn", lone)


# ~6 s on 2 cores: the data, one epoch of two small GRUs and of the bag, two ONNX exports
def test_train_turn_writes_a_model_the_store_accepts(tmp_path: Path) -> None:
    from training.turn.fit import TurnTrainOptions, train_turn_model
    from training.turn.heard import HEARD_FILE

    options = TurnTrainOptions(
        output=tmp_path / "gru", seq_epochs=1, ensemble=2, templates=200, heard=HEARD_FILE
    )
    result = train_turn_model(options)
    check_model("turn", result.onnx)
    companion = json.loads(result.companion.read_text())
    assert "heard-en.jsonl" in companion["data"]
    assert companion["feature_version"] == 2 and companion["vocab"][: len(SPECIALS)] == list(
        SPECIALS
    )
    scorer = TurnScorer(result.onnx)
    assert scorer.score("What is the capital of Spain?") > scorer.score("What is the capital of")
    metrics = result.metrics
    assert metrics["examples"] == result.held_out_examples > 500
    assert metrics["accuracy"] > 0.75
    assert set(metrics["modes"]) == set(MODES)
    # The model before it (hashed features, version 1) still trains and loads.
    bag = train_turn_model(
        TurnTrainOptions(output=tmp_path / "bag", architecture="bag", epochs=1, templates=200)
    )
    check_model("turn", bag.onnx)
    old = TurnScorer(bag.onnx)
    assert old.info.feature_version == 1 and old.info.buckets == options.buckets
    assert old.score("What is the capital of Spain?") > old.score("What is the capital of")


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
        _end_pause(scorer, config)[0]("What is the capital of Spain?") == MODES["patient"].sure_wait
    )
    assert _end_pause(scorer, config)[1] == 0.0
    config.vad.min_silence_ms = 700
    config.turn.mode = "patient"
    assert (
        _end_pause(scorer, config)[0]("What is the capital of Spain?") == MODES["patient"].sure_wait
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
