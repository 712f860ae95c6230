"""A checkpoint as a ready model and its encoding: what every user of a checkpoint needs."""

from __future__ import annotations

import os

from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint
from melodyrnn.core.encoding import Encoding
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.core.models import SequenceModel

__all__ = ["load_model", "load_with_checkpoint"]


def load_model(checkpoint: str | os.PathLike | dict | tuple) -> tuple[SequenceModel, Encoding]:
    """(model in eval mode on the CPU, encoding) of a checkpoint path (``"default"``: the
    shipped melody model) or a loaded checkpoint dict; a (model, encoding) pair this function
    returned passes through, so callers that answer many requests build the model once."""
    if isinstance(checkpoint, tuple):
        return checkpoint
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    if "encoding" not in ckpt:
        raise ValueError("the checkpoint names no encoding")
    model, enc = model_from_checkpoint(ckpt), encoding_from_dict(ckpt["encoding"])
    if len(enc.vocab) != model.config.vocab_size:
        raise ValueError(f"the checkpoint's {enc.name} encoding has {len(enc.vocab)} tokens, its model "
                         f"{model.config.vocab_size}")
    return model, enc


def load_with_checkpoint(checkpoint) -> tuple[SequenceModel, Encoding, dict]:
    """(model, encoding, checkpoint dict): what generation needs (the checkpoint carries the
    training ids, hence the pitch range). A triple this returned passes through; a
    (model, encoding) pair gets an empty dict."""
    if isinstance(checkpoint, tuple):
        return checkpoint if len(checkpoint) == 3 else (*checkpoint, {})
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    return (*load_model(ckpt), ckpt)
