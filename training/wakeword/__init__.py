"""Custom wake words: synthesized and recorded takes -> openWakeWord embeddings -> a
small torch classifier -> ONNX, registered in the model store as a ``wake`` model."""
