"""The end-of-turn model's trainer: ``assistant train turn`` (data, fit, ONNX export)."""
