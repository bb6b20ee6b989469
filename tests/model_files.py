"""Small but real model files, generated for tests by the formats' own writers: GGUF by
``gguf`` (llama.cpp's gguf-py), ONNX by ``onnx``, checkpoints by ``torch.save``; and
broken copies of any file (truncated, emptied, another format's bytes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def tiny_gguf(path: Path, *, rows: int = 16, arch: str | None = "llama") -> Path:
    """A GGUF with a small tokenizer and two F32 tensors (~4 kB per 16 rows)."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch or "llama")
    if arch is None:  # a GGUF that names no architecture: not a language model
        writer.kv_data[0].pop("general.architecture", None)
    writer.add_token_list([f"tok{i}".encode() for i in range(rows)])
    writer.add_tensor("token_embd.weight", np.arange(rows * 32, dtype=np.float32).reshape(rows, 32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _onnx_model(inputs: list[tuple[str, int, list[int]]], weights: dict[str, np.ndarray],
                gather: str) -> bytes:  # fmt: skip
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gather", [gather, inputs[0][0]], ["output"])],
        "tiny",
        [helper.make_tensor_value_info(name, dtype, shape) for name, dtype, shape in inputs],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, "n", "d"])],
        [numpy_helper.from_array(array, name) for name, array in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def tiny_voice(folder: Path, name: str = "en_US-test-low", *, symbols: int = 12,
               extra_bytes: int = 0, with_json: bool = True) -> Path:  # fmt: skip
    """A Piper-shaped voice: ``name.onnx`` (inputs input, input_lengths, scales; a
    phoneme table of ``symbols`` rows; ``extra_bytes`` more of weights) and its
    ``.onnx.json``."""
    from onnx import TensorProto

    rng = np.random.default_rng(0)
    weights = {"enc_p.emb.weight": rng.standard_normal((symbols, 4)).astype(np.float32)}
    if extra_bytes:
        weights["dec.conv.weight"] = rng.standard_normal(extra_bytes // 4).astype(np.float32)
    inputs = [("input", TensorProto.INT64, [1, "n"]), ("input_lengths", TensorProto.INT64, [1]),
              ("scales", TensorProto.FLOAT, [3])]  # fmt: skip
    onnx_path = folder / f"{name}.onnx"
    onnx_path.write_bytes(_onnx_model(inputs, weights, "enc_p.emb.weight"))
    if with_json:
        config = {
            "audio": {"sample_rate": 16000},
            "espeak": {"voice": "en-us"},
            "num_symbols": symbols,
            "num_speakers": 1,
            "phoneme_id_map": {"_": [0], "a": [1], "b": [symbols - 1]},
        }
        Path(f"{onnx_path}.json").write_text(json.dumps(config))
    return onnx_path


def tiny_checkpoint(path: Path) -> Path:
    """A real ``torch.save`` checkpoint of a small state dict."""
    import torch

    torch.save({"model": {"w": torch.zeros(4, 4)}, "step": 1}, path)
    return path


def truncated(source: Path, target: Path, keep: int) -> Path:
    """The first ``keep`` bytes of ``source`` as ``target``."""
    with open(source, "rb") as handle:
        target.write_bytes(handle.read(keep))
    return target


def emptied(target: Path) -> Path:
    target.write_bytes(b"")
    return target


def shorten_in_place(path: Path, by: int) -> None:
    """Cut ``by`` bytes off the end of ``path`` (damage after import)."""
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size - by)


def tiny_wake(folder: Path, name: str = "my_word", phrase: str = "hey tester") -> Path:
    """A custom wake word's shape: ``name.onnx`` (input ``embeddings`` (batch, 16, 96) ->
    flatten -> one linear unit -> sigmoid -> ``score``; random weights) and its
    ``.onnx.json``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal((16 * 96, 1)).astype(np.float32) * 0.01, "w"),
        numpy_helper.from_array(np.array([-3.0], np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Flatten", ["embeddings"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["logit0"]),
        helper.make_node("Add", ["logit0", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["score"]),
    ]
    graph = helper.make_graph(
        nodes, "wake",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 16, 96])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 1])],
        weights,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    config = {"format": "assistant-wake", "phrase": phrase, "threshold": 0.5, "window": 16,
              "features": "openwakeword-embedding"}  # fmt: skip
    Path(f"{path}.json").write_text(json.dumps(config))
    return path
