"""Recurrent sequence models: ids in, logits and state out.

The torch modules load on first use (``SequenceModel``, ``ElmanRNN``, ``build_model``), so
that the config and the numpy decoder (:mod:`.numpy_net`) import without torch.
"""

from melodyrnn.core.models.config import KINDS, FormConfig, ModelConfig

__all__ = ["KINDS", "FormConfig", "ModelConfig", "ElmanRNN", "SequenceModel", "build_model"]


def build_model(config: ModelConfig):
    """The model a config describes, freshly initialised."""
    from melodyrnn.core.models.network import SequenceModel

    return SequenceModel(config)


def __getattr__(name: str):
    if name == "SequenceModel":
        from melodyrnn.core.models.network import SequenceModel

        return SequenceModel
    if name == "ElmanRNN":
        from melodyrnn.core.models.elman import ElmanRNN

        return ElmanRNN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
