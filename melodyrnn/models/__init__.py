"""Recurrent sequence models: ids in, logits and state out."""

from .config import KINDS, ModelConfig
from .elman import ElmanRNN
from .network import SequenceModel

__all__ = ["KINDS", "ModelConfig", "ElmanRNN", "SequenceModel", "build_model"]


def build_model(config: ModelConfig) -> SequenceModel:
    """The model a config describes, freshly initialised."""
    return SequenceModel(config)
