"""A checkpoint as a ready model and its encoding: what every user of a checkpoint needs."""

from __future__ import annotations

import os

from melodyrnn.core.checkpoint import check_weights, load_checkpoint, model_config_of, model_from_checkpoint
from melodyrnn.core.encoding import Encoding
from melodyrnn.core.install import require_torch
from melodyrnn.core.models.numpy_net import NumpyModel, expected_shapes, supported
from melodyrnn.core.ptfile import NeedsTorch
from melodyrnn.core.registry import encoding_from_dict

__all__ = ["load_model", "load_with_checkpoint", "load_for_sampling"]


def load_model(checkpoint: str | os.PathLike | dict | tuple) -> tuple:
    """(model in eval mode on the CPU, encoding) of a checkpoint path (``"default"``: the
    shipped melody model) or a loaded checkpoint dict; a (model, encoding) pair this function
    returned passes through, so callers that answer many requests build the model once."""
    if isinstance(checkpoint, tuple):
        return checkpoint
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    return _encoding_checked(model_from_checkpoint(ckpt), ckpt)


def _encoding_checked(model, ckpt: dict) -> tuple:
    if "encoding" not in ckpt:
        raise ValueError("the checkpoint names no encoding")
    enc: Encoding = encoding_from_dict(ckpt["encoding"])
    if len(enc.vocab) != model.config.vocab_size:
        raise ValueError(f"the checkpoint's {enc.name} encoding has {len(enc.vocab)} tokens, its model "
                         f"{model.config.vocab_size}")
    return model, enc


def load_with_checkpoint(checkpoint) -> tuple:
    """(model, encoding, checkpoint dict): what generation needs (the checkpoint carries the
    training ids, hence the pitch range). A triple this returned passes through; a
    (model, encoding) pair gets an empty dict."""
    if isinstance(checkpoint, tuple):
        return checkpoint if len(checkpoint) == 3 else (*checkpoint, {})
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    return (*load_model(ckpt), ckpt)


def load_for_sampling(checkpoint) -> tuple:
    """:func:`load_with_checkpoint` for sampling: a checkpoint file (or shipped name) whose
    model :class:`NumpyModel` runs comes as that numpy model, read without importing torch
    (a cold ``melodyrnn generate`` then spends no second or two on torch); anything else --
    loaded models, attention and plugin kinds, files only torch can read -- as a torch model.
    Beam search decodes either (through torch's beam over the numpy step). Without torch,
    a file or model only torch runs is a one-line ``ValueError`` saying so."""
    if isinstance(checkpoint, (tuple, dict)):
        return load_with_checkpoint(checkpoint)
    try:
        ckpt = load_checkpoint(checkpoint, arrays=True)
    except NeedsTorch as e:  # torch reads it, or says what it is
        try:
            require_torch("reading it")
        except ValueError as hint:
            raise ValueError(f"{e}; {hint}") from None
        return load_with_checkpoint(checkpoint)
    config = model_config_of(ckpt)
    if not supported(config):
        require_torch(f"a {config.kind} model")
        return load_with_checkpoint(checkpoint)
    check_weights(ckpt["model_state"], expected_shapes(config))
    return (*_encoding_checked(NumpyModel(config, ckpt["model_state"]), ckpt), ckpt)
