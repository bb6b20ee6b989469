"""Training the voice (Coqui TTS VITS to ONNX) and the language model (LoRA to GGUF).

Installed by the ``train`` extra; the runtime (``assistant``) never imports it.
"""
