"""The learned end-of-turn model: is the user's turn finished, given the transcript so far?

:mod:`.features` turns text into the model's input ids (a token sequence, or hashed
features for models of features version 1), shared with the trainer in
``training/turn``; :mod:`.scorer` runs the exported ONNX model on onnxruntime;
:mod:`.policy` turns its confidence into the pause that ends the turn.
"""

from .features import FEATURE_VERSION, encode, featurize
from .policy import MODES, TurnPolicy, TurnWaits, load_scorer
from .scorer import TurnModelInfo, TurnScorer, companion_path, read_info

__all__ = [
    "FEATURE_VERSION",
    "MODES",
    "TurnModelInfo",
    "TurnPolicy",
    "TurnScorer",
    "TurnWaits",
    "companion_path",
    "encode",
    "featurize",
    "load_scorer",
    "read_info",
]
