"""``export``: merge the adapter, write GGUF F16 with our converter, quantize with
llama.cpp, and register the result in the model store.

Everything that can fail on the user's input (model id, quantization names, architecture)
is checked before any weights are loaded or files written.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.fsutil import replace_dir

from .base import load_base, offline
from .errors import ExportError, TrainError
from .gguf_export import check_supported, read_config, write_gguf
from .gguf_vocab import vocab_from_gguf, vocab_from_hf
from .quantize import check_quant_types, quantize

if TYPE_CHECKING:
    from assistant.store import InstalledModel, ModelStore

__all__ = ["ExportResult", "check_export", "export", "gguf_from_folder", "merge_adapter"]

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """What export wrote."""

    merged: Path
    """The merged Hugging Face folder."""
    f16: Path
    """The F16 GGUF."""
    quantized: dict[str, Path] = field(default_factory=dict)
    """Quantization name -> GGUF file."""
    registered: str | None = None
    """Model id in the store, when registered."""
    onnx: Path | None = None
    """The int8 ONNX model, when asked for."""
    registered_onnx: str | None = None
    """Model id of the ONNX model in the store (``NAME-onnx``), when registered."""


def _base_config(base: Path) -> dict[str, Any]:
    if base.is_dir():
        return read_config(base)
    from transformers import AutoConfig

    offline()
    config = AutoConfig.from_pretrained(
        str(base.parent), gguf_file=base.name, local_files_only=True
    )
    return dict(config.to_dict())


def check_export(
    base: Path,
    quants: list[str],
    name: str | None,
    store: ModelStore | None,
    replace: bool,
    onnx: bool = False,
) -> list[str]:
    """Check everything export depends on before it starts; returns the quant names."""
    quants = check_quant_types(quants)
    check_supported(_base_config(base), f"the base model {base}")
    if name is not None and store is not None:
        for model_id in [name, f"{name}-onnx"] if onnx else [name]:
            _check_free(store, model_id, replace)
    return quants


def _check_free(store: ModelStore, name: str, replace: bool) -> None:
    from assistant.errors import ModelError
    from assistant.store.catalog import check_model_id

    try:
        check_model_id(name)
    except ModelError as exc:
        raise ExportError(f"{name!r} cannot be a model id: {exc.message}") from exc
    entry = store.catalog.find(name)
    if entry is not None and entry.embedded:
        raise ExportError(f"{name!r} is the id of an embedded model", hint="choose another --name")
    if (store.root / name).exists() and not replace:
        raise ExportError(
            f"a model named {name!r} is already installed",
            hint=f"choose another --name, or add --replace (or `assistant models remove {name}`)",
        )


def merge_adapter(base: Path, adapter: Path, target: Path) -> Path:
    """Base + LoRA adapter merged into plain weights, saved (with the tokenizer) as a
    Hugging Face folder; replaced atomically."""
    from peft import PeftModel

    from .base import load_tokenizer

    if not (adapter / "adapter_config.json").is_file():
        raise TrainError(
            f"no adapter in {adapter}", hint="run `assistant train llm fit RUN_DIR` first"
        )
    model = load_base(base)
    model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    merged = model.merge_and_unload()
    tokenizer = load_tokenizer(base)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    replace_dir(tmp, target)
    return target


def gguf_from_folder(folder: Path, out: Path, base: Path | None = None, name: str = "") -> Path:
    """Write the Hugging Face model in ``folder`` as F16 GGUF. The tokenizer is carried
    over from ``base`` when that is a GGUF file, else built from ``folder``."""
    from_gguf = base is not None and base.is_file()
    vocab = vocab_from_gguf(base) if from_gguf and base else vocab_from_hf(folder)
    return write_gguf(folder, out, vocab, name=name)


def export(
    run_dir: Path,
    base: Path,
    quants: list[str],
    *,
    name: str | None = None,
    store: ModelStore | None = None,
    replace: bool = False,
    licence: str = "unknown",
    onnx: bool = False,
) -> ExportResult:
    """Merge, convert, quantize; register the first quantization (or F16) as ``name``."""
    run_dir = Path(run_dir)
    quants = check_export(base, quants, name, store, replace, onnx)
    folder = run_dir / "export"
    folder.mkdir(parents=True, exist_ok=True)
    merged = merge_adapter(base, run_dir / "adapter", folder / "merged")
    stem = name or "model"
    f16 = gguf_from_folder(merged, folder / f"{stem}.f16.gguf", base=base, name=stem)
    result = ExportResult(merged=merged, f16=f16)
    for kind in quants:
        if kind == "F16":
            result.quantized[kind] = f16
        else:
            result.quantized[kind] = quantize(f16, folder / f"{stem}.{kind.lower()}.gguf", kind)
    if onnx:
        from .onnx_export import export_onnx

        result.onnx = export_onnx(merged, folder / "onnx")
    if name is not None and store is not None:
        main = result.quantized[quants[0]] if quants else f16
        installed = register(store, main, name, run_dir, replace=replace, licence=licence)
        result.registered = installed.id
        if result.onnx is not None:
            onnx_id = f"{name}-onnx"
            if replace and (store.root / onnx_id).exists():
                store.remove(onnx_id)
            store.register(
                result.onnx.parent,
                "llm",
                id=onnx_id,
                source="trained",
                name=f"{name} (fine-tuned, ONNX int8)",
                licence=licence,
                origin=str(run_dir),
            )
            result.registered_onnx = onnx_id
    return result


def register(
    store: ModelStore, gguf: Path, name: str, run_dir: Path, *, replace: bool, licence: str
) -> InstalledModel:
    """Copy ``gguf`` into the store as the trained LLM ``name``."""
    staging = run_dir / "export" / f".register-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        link = staging / f"{name}.gguf"
        try:
            link.hardlink_to(gguf)
        except OSError:
            shutil.copy2(gguf, link)
        if replace and (store.root / name).exists():
            store.remove(name)
        return store.register(
            staging,
            "llm",
            id=name,
            source="trained",
            name=f"{name} (fine-tuned)",
            licence=licence,
            origin=str(run_dir),
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
