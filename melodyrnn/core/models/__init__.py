"""Recurrent sequence models: ids in, logits and state out."""

from melodyrnn.core.models.config import KINDS, ModelConfig
from melodyrnn.core.models.elman import ElmanRNN
from melodyrnn.core.models.network import SequenceModel

__all__ = ["KINDS", "ModelConfig", "ElmanRNN", "SequenceModel", "build_model"]


def build_model(config: ModelConfig) -> SequenceModel:
    """The model a config describes, freshly initialised."""
    return SequenceModel(config)
