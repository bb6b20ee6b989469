"""The project's GGUF converter: transformers and llama.cpp agree on the next token, for
the real SmolLM2 and tiny random Llama / Qwen2 models; quantized files load and
generate; an unsupported architecture is refused with nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from llm_models import (
    FIXED_TEXT,
    hf_logits,
    llama_logits,
    smollm_folder,
    smollm_tokenizer,
    tiny_model,
    top1_agreement,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gguf")


@pytest.fixture(scope="module")
def fixed_ids(gguf_path: Path) -> list[int]:
    return list(smollm_tokenizer(gguf_path)(FIXED_TEXT)["input_ids"])


@pytest.fixture(scope="module")
def smollm_f16(workdir: Path, gguf_path: Path) -> tuple[Path, Path]:
    from training.llm.export import gguf_from_folder

    folder = smollm_folder(gguf_path, workdir / "smollm")
    return folder, gguf_from_folder(folder, workdir / "smollm.f16.gguf", base=gguf_path)


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def tiny_f16(request: pytest.FixtureRequest, workdir: Path, gguf_path: Path) -> tuple[Path, Path]:
    from training.llm.export import gguf_from_folder

    kind = request.param
    folder = tiny_model(kind, workdir / f"tiny-{kind}", gguf_path)
    return folder, gguf_from_folder(folder, workdir / f"tiny-{kind}.f16.gguf")


def test_smollm2_f16_gguf_matches_transformers(
    smollm_f16: tuple[Path, Path], fixed_ids: list[int]
) -> None:
    folder, gguf = smollm_f16
    agreement = top1_agreement(hf_logits(folder, fixed_ids), llama_logits(gguf, fixed_ids))
    assert agreement >= 0.99, f"top-1 agreement {agreement:.3f} on {len(fixed_ids)} positions"


def test_smollm2_gguf_tokenizes_like_transformers(
    smollm_f16: tuple[Path, Path], fixed_ids: list[int]
) -> None:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(smollm_f16[1]), n_ctx=256, vocab_only=True, verbose=False)
    assert llm.tokenize(FIXED_TEXT.encode(), add_bos=False, special=False) == fixed_ids
    assert "<|im_start|>" in str(llm.metadata.get("tokenizer.chat_template"))


def test_tiny_random_model_f16_gguf_matches_transformers(
    tiny_f16: tuple[Path, Path], fixed_ids: list[int]
) -> None:
    folder, gguf = tiny_f16
    agreement = top1_agreement(hf_logits(folder, fixed_ids), llama_logits(gguf, fixed_ids))
    assert agreement >= 0.99, f"top-1 agreement {agreement:.3f} on {len(fixed_ids)} positions"


@pytest.mark.parametrize("kind", ["Q8_0", "Q4_K_M"])
def test_quantized_tiny_model_loads_and_generates(
    tiny_f16: tuple[Path, Path], workdir: Path, kind: str, fixed_ids: list[int]
) -> None:
    import gguf
    import llama_cpp

    from training.llm.quantize import quantize

    source = tiny_f16[1]
    out = quantize(source, workdir / f"{source.stem}.{kind}.gguf", kind)
    types = {t.tensor_type.name for t in gguf.GGUFReader(str(out)).tensors}
    assert ("Q8_0" if kind == "Q8_0" else "Q4_K") in types
    llm = llama_cpp.Llama(model_path=str(out), n_ctx=256, verbose=False)
    text = llm.create_completion(FIXED_TEXT[:40], max_tokens=8, temperature=0)
    assert text["usage"]["completion_tokens"] > 0
    # The quantized logits still follow the F16 ones (a random model's top-1 is too
    # flat to compare after 4-bit rounding; the correlation of the logits is not).
    full, quant = llama_logits(source, fixed_ids), llama_logits(out, fixed_ids)
    correlation = np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(full, quant, strict=True)])
    assert correlation > 0.9, f"mean logit correlation {correlation:.3f}"


def test_unsupported_architecture_is_refused_and_nothing_written(
    workdir: Path, gguf_path: Path
) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from training.llm.errors import ExportError
    from training.llm.export import gguf_from_folder

    folder = workdir / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=64, n_head=2, vocab_size=49152)).save_pretrained(
        str(folder)
    )
    smollm_tokenizer(gguf_path).save_pretrained(str(folder))
    out = workdir / "gpt2.gguf"
    supported = "'gpt2' model; GGUF export supports llama, mistral, qwen2"
    with pytest.raises(ExportError, match=supported):
        gguf_from_folder(folder, out)
    assert not out.exists()
    assert not list(workdir.glob(".gpt2.gguf*"))


# ----------------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def tiny_qwen2(workdir: Path, gguf_path: Path) -> Path:
    return tiny_model("qwen2", workdir / "onnx-qwen2", gguf_path, seed=1)


def test_onnx_decoder_generates_like_transformers(tiny_qwen2: Path, workdir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from assistant.llm import GenerationOptions
    from assistant.llm.onnx import OnnxChatModel
    from training.llm.onnx_export import export_onnx

    export_onnx(tiny_qwen2, workdir / "onnx-fp32", quantize=False)
    onnx = OnnxChatModel(workdir / "onnx-fp32")
    prompt = list(range(300, 320))
    ours = list(onnx.generate_ids(prompt, GenerationOptions(max_tokens=12, temperature=0), None))
    reference = AutoModelForCausalLM.from_pretrained(str(tiny_qwen2), local_files_only=True)
    with torch.no_grad():
        out = reference.generate(
            torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None
        )
    expected = out[0, len(prompt) :].tolist()
    assert ours == expected[: len(ours)] and len(ours) >= 1


def test_int8_onnx_model_chats_without_torch(tiny_qwen2: Path, workdir: Path) -> None:
    import subprocess
    import sys

    from training.llm.onnx_export import export_onnx

    model = export_onnx(tiny_qwen2, workdir / "onnx-int8")
    types = {node.op_type for node in __import__("onnx").load(str(model)).graph.node}
    assert "MatMulInteger" in types or "DynamicQuantizeMatMul" in types
    script = (
        "import sys\n"
        "from assistant.llm import GenerationOptions, Message\n"
        "from assistant.llm.onnx import OnnxChatModel\n"
        f"m = OnnxChatModel({str(model.parent)!r})\n"
        "text = ''.join(m.stream([Message('user', 'Hello')], "
        "GenerationOptions(max_tokens=8, temperature=0)))\n"
        "assert m.count_tokens([Message('user', 'Hello')]) > 3\n"
        "assert not any(n.split('.')[0] in ('torch', 'transformers') for n in sys.modules)\n"
        "print(len(text))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip()) > 0
