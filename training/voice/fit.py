"""Fitting a VITS voice with Coqui TTS: from scratch or from a base checkpoint, with
atomic checkpoints, resume after a kill, mixed precision on GPU, TensorBoard logs and a
loss-curve PNG.

The loop is ours (Coqui's ``Vits.train_step`` does the maths) so that checkpoints are
written atomically and hold everything a resume needs: weights, both optimizers' state,
the grad scaler, the step and the loss history.

From a Piper voice (``--base`` an installed voice id or an ``.onnx``): the model is built
at the voice's own sizes and holds its generator (see :mod:`.piper_base`); the ids are
the voice's ``phoneme_id_map``. The posterior encoder, the duration predictor's posterior
flows and the discriminator start fresh. Bring-up: for the first ``bring_up_steps`` the
imported weights are frozen and only the fresh parts train. Why: at step 0 the fresh
posterior encoder hands the decoder random latents and the fresh discriminator's
verdicts are noise; with everything trainable, those gradients would flow into the
trained decoder, flow and text encoder and undo them in the first hundred steps (the
voice turns to buzz, and a CPU budget never wins it back). Frozen, the trained parts act
as fixed targets: the posterior encoder learns to produce latents that the frozen flow
maps onto the text prior (KL) and the frozen decoder turns into the recording (mel), and
the discriminator learns what real speech looks like. Once they agree, everything is
unfrozen and fine-tunes together at a low learning rate.

On a CPU (the ``cpu`` recipe) only the decoder of the imported parts trains after the
bring-up; the text encoder, the duration predictor and the flow stay the base's
(``Preset.frozen_after_bring_up``). Why: a CPU affords a few hundred steps of batch 4.
*What* is said and its timing live in the text encoder, the duration predictor and the
flow that maps the text's prior onto the latents; the timbre a listener (and a speaker
encoder) hears as *who* speaks is largely the decoder's. Measured on joe -> the Asterisk
speaker: with the flow training too, 96 steps past the bring-up moved the similarity
(0.444 -> 0.492) but whisper's held-out WER went from 0.004 to 0.40; the latents the
flow is fitted to come from a posterior encoder only a hundred steps old. Frozen, those
parts keep the base's pronunciation and no gradient is computed for them (a cheaper
step). The decoder alone still drifts at 2e-4 (similarity 0.558 but WER 0.23 after 193
steps); at 1e-4, 152 steps kept WER under 0.08 and raised similarity 0.449 -> 0.48.
Recordings longer than ``Preset.max_clip_s`` are left out on a CPU: the text encoder's
attention, the alignment search and the posterior encoder run over whole utterances, so
one 70-second prompt makes a step of a minute instead of 1-2 seconds.

Several GPUs: start the same command under accelerate, e.g.
``accelerate launch --multi_gpu --num_processes 2 -m assistant train voice fit ...``;
each process trains on its shard of the data and gradients are averaged across them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.tts.vits import phonemize

from ..common import TrainError, choose_precision, plot_losses, resolve_device
from .checkpoints import (
    base_weights,
    latest_voice_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_matching,
    prune_checkpoints,
    save_checkpoint,
)
from .data import Utterance, dataset_language, read_metadata, short_enough, split_heldout
from .loader import Clip, ClipDataset, make_loader
from .presets import get_preset
from .run_files import average_gradients, tensorboard, write_progress, write_run_record

__all__ = [
    "StepReport",
    "VoiceFitOptions",
    "VoiceFitResult",
    "fit",
    "latest_voice_checkpoint",
    "list_checkpoints",
    "plot_losses",
]

log = logging.getLogger(__name__)

_GEN_PARTS = {
    "loss_mel": "mel",
    "loss_kl": "kl",
    "loss_feat": "feat",
    "loss_duration": "duration",
    "loss_gen": "adv",
}
"""Coqui's names of the generator loss's parts -> ours."""


@dataclass(frozen=True)
class VoiceFitOptions:
    """What ``assistant train voice fit`` is asked to do."""

    data_dir: Path
    """A prepared dataset (LJSpeech layout)."""
    output_dir: Path
    """The run folder: checkpoints, logs, plots. An existing run there is resumed."""
    preset: str = "standard"
    """``tiny`` or ``standard``."""
    steps: int | None = None
    """Train until this step (the preset's count when ``None``)."""
    checkpoint_every: int | None = None
    """Steps between checkpoints (the preset's when ``None``)."""
    base: Path | None = None
    """A checkpoint to start from (fine-tuning); ignored when the run is resumed."""
    language: str | None = None
    """espeak-ng voice of the transcripts; from the dataset's report when ``None``."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``cuda``."""
    mixed_precision: str = "auto"
    """``auto`` (bf16/fp16 on CUDA, none on CPU), ``no``, ``fp16`` or ``bf16``."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    seed: int = 1234
    """Seed of the initial weights and the data order."""
    batch_size: int | None = None
    """Utterances per step (the preset's when ``None``)."""
    speaker: str | None = None
    """Speaker (name or index) of a multi-speaker base voice to fine-tune from."""
    recipe: str = "auto"
    """Schedule of a fine-tune from a voice: ``cpu``, ``gpu`` or ``auto`` (by device)."""
    workers: int = 0
    """Data loader processes (0: batches are made in the training process)."""
    bring_up_steps: int | None = None
    """Steps with the base voice's weights frozen (the preset's when ``None``)."""
    heldout_every: int = 20
    """Every n-th recording is held out for evaluation (20: 5 %, 10: 10 %)."""
    time_budget_s: float | None = None
    """Stop (with a checkpoint) once this session has trained this long."""
    threads: int | None = None
    """CPU threads torch may use (``None``: torch's default, one per core). On a machine
    busy with other work, use fewer than its cores: torch's threads wait for each other
    at every operation, so one busy core stalls them all (2 cores with another job
    running: 20 s a step with 2 threads, 2.1 s with 1)."""


@dataclass(frozen=True)
class StepReport:
    """Progress after a step (for progress bars and the GUI)."""

    step: int
    """Steps done."""
    total: int
    """Steps the run will do."""
    seconds_per_step: float
    """Mean over this session's steps so far."""
    eta_s: float
    """Estimated seconds left."""
    losses: dict[str, float]
    """This step's losses (``disc``, ``gen``, ``mel``...)."""


@dataclass(frozen=True)
class VoiceFitResult:
    """What a fit left behind."""

    run_dir: Path
    """The run folder."""
    checkpoint: Path
    """The latest checkpoint."""
    step: int
    """Steps done in all."""
    resumed_from: int
    """Step the session started at (0 for a new run)."""
    steps_per_second: float
    """Training speed of this session."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Per-step losses of the whole run."""


def _check_rate(wav: Path, expected: int, data_dir: Path) -> None:
    """The model learns at one rate: a dataset at another would train a wrong voice."""
    import soundfile as sf

    try:
        rate = sf.info(str(wav)).samplerate
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise TrainError(f"{wav} is not readable audio ({exc})") from exc
    if rate != expected:
        raise TrainError(
            f"the dataset {data_dir} is at {rate} Hz but the voice is trained at {expected} Hz",
            hint=f"prepare it again with `assistant train voice prepare ... --sample-rate "
            f"{expected}`",
        )


def fit(
    options: VoiceFitOptions, on_step: Callable[[StepReport], None] | None = None
) -> VoiceFitResult:
    """Train (or resume training) the voice; see :class:`VoiceFitOptions`."""
    import torch
    from accelerate import PartialState

    from .model import build_config, config_from_dict, new_model, preset_of
    from .piper_base import model_from_piper
    from .piper_tokens import check_language
    from .voice_base import (
        coqui_base_config,
        imported_params,
        is_voice_base,
        load_voice_base,
        pick_speaker,
    )

    if options.threads:
        torch.set_num_threads(options.threads)
    preset = get_preset(options.preset)
    state_acc = PartialState()  # one process, or several under `accelerate launch`
    world = state_acc.num_processes
    main = state_acc.is_main_process
    device = resolve_device(options.device) if world == 1 else str(state_acc.device)
    dtype_name = choose_precision(options.mixed_precision, "cuda" if "cuda" in device else "cpu")

    run_dir = Path(options.output_dir).absolute()
    data_dir = Path(options.data_dir).absolute()
    utterances = read_metadata(data_dir)
    language = options.language or dataset_language(data_dir)
    train_set, heldout = split_heldout(utterances, every=options.heldout_every)
    if not train_set:
        raise TrainError(f"{data_dir} has no recordings left to train on")

    resume_path = latest_voice_checkpoint(run_dir)
    resumed: dict[str, Any] | None = load_checkpoint(resume_path) if resume_path else None
    piper_config: dict[str, Any] | None = None
    imported: list[str] = []
    speaker: int | None = None
    voice_model = None
    torch.manual_seed(options.seed)
    if resumed is not None:
        preset = preset_of(resumed)  # a run keeps its preset
        config = config_from_dict(resumed["config"])
        piper_config = resumed.get("piper")
        imported = list(resumed.get("imported", []))
        speaker = resumed.get("speaker")
    elif options.base is not None and is_voice_base(options.base):
        recipe = options.recipe
        if recipe == "auto":
            recipe = "gpu" if "cuda" in device else "cpu"
        base = load_voice_base(options.base)
        # Before the (slow) model build: a dataset in another language is refused now.
        check_language(language, base.language, data_dir)
        config, preset, voice_model = model_from_piper(base, run_dir, recipe=recipe)
        piper_config = base.config
        imported = sorted(imported_params(voice_model, base))
        speaker = pick_speaker(base, options.speaker)
        language = base.language if options.language is None else language
        if options.batch_size:
            config.batch_size = options.batch_size
    elif options.base is not None and (coqui := coqui_base_config(options.base)) is not None:
        # A Coqui VITS .pth with its config.json: the model is built as that config says
        # (sizes, characters), not as the preset says, so every tensor fits.
        config, preset = coqui
        config.output_path = str(run_dir)
        if options.batch_size:
            config.batch_size = options.batch_size
    else:
        config = build_config(preset, run_dir, language=language)
        if options.batch_size:
            config.batch_size = options.batch_size
    if piper_config is None:
        _check_rate(train_set[0].wav, preset.sample_rate, data_dir)
    total = options.steps or (resumed or {}).get("target_steps") or preset.steps
    every = options.checkpoint_every or preset.checkpoint_every

    model = voice_model if voice_model is not None else new_model(config, preset)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
    elif voice_model is not None:
        pass
    elif options.base is not None:
        copied, skipped = load_matching(model, base_weights(options.base))
        log.info(
            "started from %s: %d tensors copied, %d skipped", options.base, copied, len(skipped)
        )
        if not copied:
            raise TrainError(
                f"base checkpoint {options.base} shares no layer with preset {preset.name}",
                hint="pick the preset the base was trained with",
            )
    model.to(device)
    model.train()
    optimizers = model.get_optimizer()
    criteria = model.get_criterion()
    use_scaler = dtype_name == "fp16"
    scalers = [torch.amp.GradScaler("cuda", enabled=use_scaler) for _ in optimizers]
    history: list[dict[str, float]] = []
    step = 0
    if resumed is not None:
        for opt, opt_state in zip(optimizers, resumed["optimizers"], strict=True):
            opt.load_state_dict(opt_state)
        for scaler, sc_state in zip(scalers, resumed.get("scalers", []), strict=False):
            scaler.load_state_dict(sc_state)
        step = int(resumed["step"])
        history = [h for h in resumed.get("history", []) if h["step"] <= step]
        log.info("resuming %s from step %d (%s)", run_dir, step, resume_path)
    start_step = step
    bring_up = preset.bring_up_steps if options.bring_up_steps is None else options.bring_up_steps
    prefixes = tuple(preset.frozen_after_bring_up)
    kept_frozen = [n for n in imported if prefixes and n.startswith(prefixes)]
    train_set = short_enough(train_set, preset.max_clip_s, data_dir)

    # Token ids: a voice's own phoneme map for fine-tunes from a Piper voice, Coqui's
    # vocabulary otherwise. Audio: decoded once with soundfile (see .loader).
    clips = _clips(train_set, language, model, piper_config, data_dir)
    dataset = ClipDataset(clips, int(config.audio.sample_rate))
    loader = make_loader(
        dataset,
        int(config.batch_size),
        seed=options.seed + step,
        world=world,
        rank=state_acc.process_index,
        workers=options.workers,
        pin_memory="cuda" in device,
    )
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_record(run_dir, options, preset.to_dict(), language, train_set, heldout)
    writer = tensorboard(run_dir / "tensorboard", step) if main else None

    autocast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(dtype_name)
    grad_clip = list(getattr(config, "grad_clip", [1000.0, 1000.0]))
    torch.manual_seed(options.seed + step)
    began = time.monotonic()
    last_progress = 0.0
    checkpoint = resume_path
    while step < total:
        for batch in loader:
            if step >= total:
                break
            if imported:
                _freeze(model, imported, frozen=step < bring_up)
                if kept_frozen and step >= bring_up:
                    _freeze(model, kept_frozen, frozen=True)
            losses = _train_step(
                model,
                batch,
                device,
                optimizers,
                criteria,
                scalers,
                autocast_dtype,
                grad_clip,
                world,
                speaker,
            )
            step += 1
            if options.time_budget_s and time.monotonic() - began >= options.time_budget_s:
                total = step  # out of time: checkpoint this step and stop
            losses["step"] = step
            history.append(losses)
            if writer is not None:
                for key, value in losses.items():
                    if key != "step":
                        writer.add_scalar(f"loss/{key}", value, step)
            elapsed = time.monotonic() - began
            per_step = elapsed / (step - start_step)
            if main and (time.monotonic() - last_progress >= 1.0 or step == total):
                # At most once a second: a fast GPU must not wait on a file write per step.
                write_progress(run_dir, step, total, per_step, history)
                last_progress = time.monotonic()
            if on_step is not None and main:
                on_step(
                    StepReport(
                        step,
                        total,
                        per_step,
                        per_step * (total - step),
                        {k: v for k, v in losses.items() if k != "step"},
                    )
                )
            if main and (step % every == 0 or step == total):
                checkpoint = run_dir / "checkpoints" / f"step-{step:07d}.pt"
                save_checkpoint(
                    checkpoint,
                    {
                        "model": model.state_dict(),
                        "optimizers": [o.state_dict() for o in optimizers],
                        "scalers": [s.state_dict() for s in scalers],
                        "step": step,
                        "target_steps": total,
                        "config": config.to_dict(),
                        "language": language,
                        "preset": preset.name,
                        "preset_data": preset.to_dict(),
                        "piper": piper_config,
                        "imported": imported,
                        "speaker": speaker,
                        "history": history,
                    },
                )
                prune_checkpoints(run_dir, options.keep_checkpoints)
                plot_losses(history, run_dir / "loss.png", keys=("gen", "disc", "mel"))
                if writer is not None:
                    writer.flush()
    if writer is not None:
        writer.close()
    elapsed = time.monotonic() - began
    done = step - start_step
    assert checkpoint is not None
    return VoiceFitResult(
        run_dir=run_dir,
        checkpoint=checkpoint,
        step=step,
        resumed_from=start_step,
        steps_per_second=done / elapsed if done and elapsed > 0 else 0.0,
        history=history,
    )


def _train_step(
    model: Any,
    batch: dict[str, Any],
    device: str,
    optimizers: list[Any],
    criteria: list[Any],
    scalers: list[Any],
    autocast_dtype: Any,
    grad_clip: list[float],
    world: int,
    speaker: int | None = None,
) -> dict[str, float]:
    """One GAN step: the discriminator (optimizer 0), then the generator (optimizer 1)."""
    import torch

    batch = model.format_batch(batch)
    if speaker is not None:
        batch["speaker_ids"] = torch.full((batch["tokens"].shape[0],), speaker, dtype=torch.long)
    non_blocking = "cuda" in device
    batch = {
        k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }
    batch = model.format_batch_on_device(batch)
    # Losses stay on the device until the step is done: one synchronisation per step
    # (a float() per loss would stall a GPU's queue seven times a step).
    parts: dict[str, Any] = {}
    for idx, (opt, criterion, scaler) in enumerate(zip(optimizers, criteria, scalers, strict=True)):
        autocast = (
            torch.autocast("cuda", dtype=autocast_dtype)
            if autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            _, loss_dict = model.train_step(batch, criterion, idx)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss_dict["loss"]).backward()
        scaler.unscale_(opt)
        params = [p for group in opt.param_groups for p in group["params"]]
        if world > 1:
            average_gradients(params, world)
        torch.nn.utils.clip_grad_norm_(params, grad_clip[idx])
        scaler.step(opt)
        scaler.update()
        # Total of each network's loss, plus the generator's parts (mel, kl, ...; "adv"
        # is its adversarial part, Coqui's loss_gen).
        parts["disc" if idx == 0 else "gen"] = loss_dict["loss"].detach()
        if idx == 1:
            for key, name in _GEN_PARTS.items():
                if isinstance(loss_dict.get(key), torch.Tensor):
                    parts[name] = loss_dict[key].detach()
    values = torch.stack([v.float().reshape(()) for v in parts.values()]).cpu().tolist()
    return dict(zip(parts, values, strict=True))


def _freeze(model: Any, names: list[str], *, frozen: bool) -> None:
    """Freeze (or unfreeze) the parameters that came from the base voice."""
    wanted = set(names)
    for name, param in model.named_parameters():
        if name in wanted:
            param.requires_grad_(not frozen)


def _clips(
    utterances: list[Utterance],
    language: str,
    model: Any,
    piper_config: dict[str, Any] | None,
    data_dir: Path,
) -> list[Clip]:
    """Training examples with their token ids."""
    if piper_config is not None:
        from .piper_tokens import PiperTokenizer

        tok = PiperTokenizer(piper_config)
        clips = [Clip(u.id, u.text, tok.ids(u.text), u.wav) for u in utterances]
        tok.check_language(language, data_dir)
        return clips
    return [
        Clip(u.id, u.text, list(model.tokenizer.text_to_ids(phonemize(u.text, language))), u.wav)
        for u in utterances
    ]
