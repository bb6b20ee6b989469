"""A Piper voice as the base of a fine-tune, on the real embedded joe voice: its sizes
read from the graph, every weight mapped (step-0 parity with the ONNX voice, noise off),
a short fit from the installed voice id with the imported weights frozen during bring-up,
the export as a standard Piper voice that piper itself speaks, and bad bases."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assistant.errors import AssistantError
from training.voice.parity import PARITY_SENTENCES, piper_ids, step0_parity
from training.voice.piper_base import load_into, model_from_piper, read_piper_voice

pytestmark = pytest.mark.timeout(900)

JOE = "piper-en_US-joe-medium"


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_joe_is_read_at_its_own_sizes_and_every_weight_lands(piper_onnx, tmp_path):
    base = read_piper_voice(piper_onnx)
    args = base.model_args
    assert (args["num_chars"], args["hidden_channels"]) == (256, 192)
    assert args["hidden_channels_ffn_text_encoder"] == 768
    assert (args["num_heads_text_encoder"], args["num_layers_text_encoder"]) == (2, 6)
    assert args["resblock_type_decoder"] == "2"
    assert args["upsample_rates_decoder"] == [8, 8, 4]
    assert args["upsample_kernel_sizes_decoder"] == [16, 16, 8]
    assert args["resblock_dilation_sizes_decoder"] == [[1, 2], [2, 6], [3, 12]]
    assert args["use_sdp"] and base.sample_rate == 22050 and base.num_speakers == 1
    # Weights named only onnx::Conv_* in the file were traced to their layer.
    assert (
        "dec.ups.0.weight" in base.weights and "flow.flows.6.enc.in_layers.0.weight" in base.weights
    )
    _, _, model = model_from_piper(base, tmp_path, discriminator=False)
    set_names, fresh = load_into(model, base)
    assert len(set_names) >= len(base.weights)
    # What a voice file lacks, and only that, is fresh.
    lacking = (
        "posterior_encoder.",
        "disc.",
        "duration_predictor.post_",
        "duration_predictor.flows.1.",
    )
    assert fresh and all(name.startswith(lacking) for name in fresh), [
        n for n in fresh if not n.startswith(lacking)
    ][:5]


@pytest.mark.slow
def test_step0_parity_with_the_onnx_voice(piper_onnx, transcriber):
    report = step0_parity(piper_onnx, transcriber=transcriber)
    assert len(report.correlations) == len(PARITY_SENTENCES) == 10
    assert report.min_correlation >= 0.99, report.to_dict()
    assert report.length_mismatches == 0
    assert report.wer_onnx is not None and report.wer_torch is not None
    assert abs(report.wer_torch - report.wer_onnx) <= 0.02, report.to_dict()


@pytest.fixture(scope="module")
def dataset_16k(tmp_path_factory, speak) -> Path:
    """Six clips at 16 kHz (the base is 22.05 kHz): a prepared dataset folder."""
    from scipy.signal import resample_poly

    data = tmp_path_factory.mktemp("data16k")
    rows = []
    for i, text in enumerate(PARITY_SENTENCES[:6]):
        samples, _rate = sf.read(speak(text), dtype="float32")
        low = resample_poly(samples, 160, 441).astype(np.float32)
        (data / "wavs").mkdir(exist_ok=True)
        sf.write(data / "wavs" / f"c{i:02d}.wav", low, 16000, subtype="PCM_16")
        rows.append(f"c{i:02d}|{text}|{text}")
    (data / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (data / "report.json").write_text(json.dumps({"language": "en-us"}), encoding="utf-8")
    return data


@pytest.mark.slow
def test_fit_from_installed_voice_then_export_a_piper_voice(dataset_16k, piper_onnx, tmp_path):
    import piper
    import torch

    run = tmp_path / "run"
    done = _cli(
        "train", "voice", "fit", str(dataset_16k), "-o", str(run), "--base", JOE,
        "--allow-little-data",
        "--steps", "1", "--checkpoint-every", "1", "--batch-size", "2", "--device", "cpu",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resampled" in done.stderr
    state = torch.load(run / "checkpoints" / "step-0000001.pt", weights_only=False)
    assert state["piper"]["phoneme_id_map"] == read_piper_voice(piper_onnx).phoneme_id_map
    assert state["preset"] == "piper-medium" and state["imported"]
    # Bring-up: the imported weights did not move, the fresh posterior encoder did.
    base = read_piper_voice(piper_onnx)
    emb = state["model"]["text_encoder.emb.weight"].numpy()
    assert np.array_equal(emb, base.weights["enc_p.emb.weight"])
    torch.manual_seed(1234)  # the fit's seed: the same fresh initial weights
    _, _, fresh_model = model_from_piper(base, tmp_path)
    initial = fresh_model.state_dict()
    moved = [
        k for k, v in state["model"].items()
        if k.startswith("posterior_encoder.") and not torch.equal(v, initial[k])
    ]  # fmt: skip
    assert moved

    out = tmp_path / "voice"
    done = _cli(
        "train", "voice", "export", str(run), "--name", "my-voice", "-o", str(out), "--no-register"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((out / "my-voice.onnx.json").read_text(encoding="utf-8"))
    assert config["phoneme_id_map"] == base.phoneme_id_map and config["dataset"] == "my-voice"
    assert config["audio"]["sample_rate"] == 22050
    voice = piper.PiperVoice.load(out / "my-voice.onnx")
    steady = piper.SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    ours = np.concatenate(
        [c.audio_float_array for c in voice.synthesize(PARITY_SENTENCES[2], steady)]
    )
    joe = piper.PiperVoice.load(piper_onnx)
    ref = np.concatenate([c.audio_float_array for c in joe.synthesize(PARITY_SENTENCES[2], steady)])
    assert len(ours) > 0.5 * 22050
    # Only frozen weights reach the exported graph so far: it still speaks as joe.
    n = min(len(ours), len(ref))
    assert np.corrcoef(ours[:n], ref[:n])[0, 1] >= 0.99
    ids = piper_ids(joe, PARITY_SENTENCES[2])
    assert ids[0] == base.phoneme_id_map["^"][0]


def test_cpu_recipe_moves_the_decoder_not_what_is_said(dataset_16k, piper_onnx, tmp_path):
    """After the bring-up the CPU recipe trains the decoder (the speaker's timbre); the
    text encoder, duration predictor and flow stay the base's; a recording over the
    recipe's length limit is left out of training."""
    import torch

    from training.voice.fit import VoiceFitOptions, fit

    data = tmp_path / "data"
    shutil.copytree(dataset_16k, data)
    long = np.concatenate([sf.read(data / "wavs" / "c00.wav", dtype="float32")[0]] * 4)
    long = np.concatenate([long, np.zeros(9 * 16000, dtype=np.float32)])  # > 8 s
    sf.write(data / "wavs" / "long.wav", long, 16000, subtype="PCM_16")
    with open(data / "metadata.csv", "a", encoding="utf-8") as meta:
        meta.write(f"long|{PARITY_SENTENCES[0]}|{PARITY_SENTENCES[0]}\n")
    run = tmp_path / "run"
    fit(
        VoiceFitOptions(
            data, run, base=piper_onnx, steps=2, checkpoint_every=1, device="cpu",
            batch_size=2, bring_up_steps=1, recipe="cpu",
        )
    )  # fmt: skip
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert "long" not in record["train"] and len(record["train"]) == 5
    frozen = ["text_encoder.", "duration_predictor.", "flow."]
    assert record["preset"]["frozen_after_bring_up"] == frozen
    one = torch.load(run / "checkpoints" / "step-0000001.pt", weights_only=False)["model"]
    state = torch.load(run / "checkpoints" / "step-0000002.pt", weights_only=False)
    two = state["model"]
    base = read_piper_voice(piper_onnx)
    emb = base.weights["enc_p.emb.weight"]
    assert np.array_equal(two["text_encoder.emb.weight"].numpy(), emb)
    kept = [k for k in state["imported"] if k.startswith(tuple(frozen))]
    assert kept and all(torch.equal(one[k], two[k]) for k in kept)
    assert any(not torch.equal(one[k], two[k]) for k in two if k.startswith("waveform_decoder."))


def test_not_a_vits_voice_is_refused_naming_the_file(vad_onnx, piper_onnx, tmp_path):
    fake = tmp_path / "vad.onnx"
    shutil.copy(vad_onnx, fake)
    shutil.copy(f"{piper_onnx}.json", f"{fake}.json")
    with pytest.raises(AssistantError, match=r"vad\.onnx is not a VITS-shaped Piper voice"):
        read_piper_voice(fake)
    lone = tmp_path / "lone.onnx"
    shutil.copy(vad_onnx, lone)
    with pytest.raises(AssistantError, match=r"lone\.onnx has no lone\.onnx\.json"):
        read_piper_voice(lone)


def test_dataset_in_another_language_is_refused(dataset_16k, tmp_path):
    data = tmp_path / "fr"
    shutil.copytree(dataset_16k, data)
    (data / "report.json").write_text(json.dumps({"language": "fr"}), encoding="utf-8")
    run = tmp_path / "run"
    done = _cli("train", "voice", "fit", str(data), "-o", str(run), "--base", JOE, "--steps", "1",
                "--allow-little-data")
    assert done.returncode != 0
    assert "prepared for fr but the base voice speaks en-us" in done.stderr
    assert not (run / "checkpoints").exists()


def _as_piper_checkpoint(base, folder: Path) -> Path:
    """joe's generator written in piper1-gpl's Lightning layout (weight norm as
    weight_g/weight_v pairs, model_g./model_d. prefixes, sizes in hyper_parameters)."""
    import re

    import torch

    normed = re.compile(
        r"^(dec\.ups\.\d+|dec\.resblocks\.\d+\.convs\.\d+|flow\.flows\.\d+\.enc\.(in|res_skip)_layers\.\d+)\.weight$"
    )
    sd = {}
    for key, array in base.weights.items():
        w = torch.from_numpy(np.array(array))
        if normed.match(key):
            stem = key[: -len(".weight")]
            sd[f"model_g.{stem}.weight_g"] = torch.norm_except_dim(w, 2, 0)
            sd[f"model_g.{stem}.weight_v"] = w
        else:
            sd[f"model_g.{key}"] = w
    sd["model_d.discriminators.0.conv_post.weight"] = torch.zeros(1, 1024, 3)
    args = base.model_args
    ckpt = folder / "epoch=2164-step=1355540.ckpt"
    torch.save(
        {
            "epoch": 2164,
            "global_step": 1355540,
            "pytorch-lightning_version": "1.9.5",
            "state_dict": sd,
            "hyper_parameters": {
                "num_symbols": args["num_chars"],
                "num_speakers": 1,
                "sample_rate": base.sample_rate,
                "resblock": args["resblock_type_decoder"],
                "resblock_kernel_sizes": args["resblock_kernel_sizes_decoder"],
                "resblock_dilation_sizes": args["resblock_dilation_sizes_decoder"],
                "upsample_rates": args["upsample_rates_decoder"],
                "upsample_initial_channel": args["upsample_initial_channel_decoder"],
                "upsample_kernel_sizes": args["upsample_kernel_sizes_decoder"],
                "hidden_channels": args["hidden_channels"],
            },
        },
        ckpt,
    )
    return ckpt


def test_piper_training_checkpoint_is_a_base(piper_onnx, tmp_path):
    from training.voice.piper_ckpt import read_piper_checkpoint

    onnx_base = read_piper_voice(piper_onnx)
    ckpt = _as_piper_checkpoint(onnx_base, tmp_path)
    with pytest.raises(AssistantError, match=r"has no voice config beside it"):
        read_piper_checkpoint(ckpt)
    shutil.copy(f"{piper_onnx}.json", tmp_path / "config.json")
    base = read_piper_checkpoint(ckpt)
    assert base.model_args == onnx_base.model_args
    assert base.phoneme_id_map == onnx_base.phoneme_id_map
    assert set(base.weights) == set(onnx_base.weights)
    for key, array in onnx_base.weights.items():
        np.testing.assert_allclose(base.weights[key], array, rtol=1e-5, atol=1e-6, err_msg=key)
    junk = tmp_path / "other.ckpt"
    import torch

    torch.save({"state_dict": {"encoder.weight": torch.zeros(2)}}, junk)
    with pytest.raises(AssistantError, match=r"other\.ckpt is not a Piper training checkpoint"):
        read_piper_checkpoint(junk)


@pytest.mark.slow
def test_coqui_pth_with_its_config_json_is_built_as_published(speak, tmp_path):
    """A Coqui VITS base (.pth + the config.json beside it, Coqui's published layout):
    the model takes the config's sizes, not the preset's, so every tensor is copied."""
    import torch

    from training.voice.model import build_config, new_model
    from training.voice.presets import get_preset

    data = tmp_path / "data"
    (data / "wavs").mkdir(parents=True)
    rows = []
    for i, text in enumerate(PARITY_SENTENCES[:5]):
        shutil.copy(speak(text), data / "wavs" / f"c{i}.wav")
        rows.append(f"c{i}|{text}|{text}")
    (data / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    tiny = get_preset("tiny")
    config = build_config(tiny, tmp_path / "coqui", language="en-us")
    model = new_model(config, tiny)
    base = tmp_path / "coqui" / "best_model.pth"
    base.parent.mkdir(exist_ok=True)
    torch.save({"model": model.state_dict(), "step": 100}, base)
    (base.parent / "config.json").write_text(json.dumps(config.to_dict()), encoding="utf-8")
    run = tmp_path / "run"
    done = _cli(
        "train", "voice", "fit", str(data), "-o", str(run), "--base", str(base),
        "--preset", "standard", "--steps", "1", "--batch-size", "2", "--device", "cpu",
        "--allow-little-data",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    state = torch.load(run / "checkpoints" / "step-0000001.pt", weights_only=False)
    assert state["config"]["model_args"]["hidden_channels"] == 32  # the base's, not standard's
    # Every generator tensor of the base has its place (the discriminator is Coqui's full
    # one: a config.json does not say the base trained against a narrow one).
    generator = {k: v for k, v in model.state_dict().items() if not k.startswith("disc.")}
    assert set(generator) <= set(state["model"])
    assert all(state["model"][k].shape == v.shape for k, v in generator.items())
    (base.parent / "config.json").write_text(json.dumps({"model": "glow_tts"}), encoding="utf-8")
    done = _cli(
        "train", "voice", "fit", str(data), "-o", str(tmp_path / "run2"), "--base", str(base),
        "--allow-little-data",
    )  # fmt: skip
    assert done.returncode != 0 and "is not a Coqui VITS config" in done.stderr


def test_training_reads_audio_with_soundfile_not_torchaudio(tmp_path, monkeypatch):
    """No FFmpeg/torchcodec at training time: clips are decoded with soundfile,
    resampled to the voice's rate once, and batched in Coqui's layout."""
    import torchaudio

    from training.voice.loader import Clip, ClipDataset, collate

    def refuse(*_a, **_k):
        raise AssertionError("torchaudio.load must not be used")

    monkeypatch.setattr(torchaudio, "load", refuse)
    t = np.linspace(0, 1, 16000, endpoint=False)
    sf.write(tmp_path / "a.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 16000, subtype="PCM_16")
    sf.write(tmp_path / "b.wav", np.zeros(11025, np.float32), 22050, subtype="PCM_16")
    clips = [
        Clip("a", "x", [1, 0, 5, 0, 2], tmp_path / "a.wav"),
        Clip("b", "y", [1, 0, 2], tmp_path / "b.wav"),
    ]
    data = ClipDataset(clips, 22050)
    assert data.resampled_from == [16000]
    batch = collate([data[0], data[1]])
    assert batch["waveform"].shape == (2, 1, 22050) and batch["tokens"].shape == (2, 5)
    assert batch["waveform_lens"].tolist() == [22050, 11025] and batch["token_lens"].tolist() == [
        5,
        3,
    ]
