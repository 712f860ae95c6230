"""One-file checkpoints: weights plus plain config, never arbitrary pickled objects.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, which refuses any
other object, so opening a checkpoint from anywhere cannot run code. It carries
everything needed to sample and to evaluate: model config and weights, the encoding
with its vocabulary, the training config, the library version and final metrics.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from .atomic import atomic_path
from .models import ModelConfig, SequenceModel

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "model_from_checkpoint",
           "resolve_checkpoint", "DEFAULT_NAME", "SHIPPED"]

FORMAT = 1
REQUIRED = ("format", "model_config", "model_state")
DEFAULT_NAME = "default"
# models shipped in the package, by name: the default (lookback network + bar-copy form head,
# pipelines/folk_copy.toml) and its plain lookback network (pipelines/folk.toml)
SHIPPED = {DEFAULT_NAME: "default.pt", "lookback": "lookback.pt"}


def assets_dir() -> Path:
    """The package folder that holds shipped model files."""
    from importlib.resources import files

    return Path(str(files("melodyrnn") / "assets"))


def resolve_checkpoint(name: str | os.PathLike) -> Path:
    """A checkpoint path; a name of :data:`SHIPPED` (``default``, ``lookback``) stands for
    that model shipped in the package.

    Raises
    ------
    ValueError
        For a shipped name when this build does not ship that model.
    """
    if str(name) not in SHIPPED:
        return Path(name)
    path = assets_dir() / SHIPPED[str(name)]
    if not path.is_file():
        raise ValueError(f"no {name} model ships with this build of melodyrnn; "
                         "pass a checkpoint (--model RUN/best.pt)")
    return path


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` atomically (no partial file under ``path`` after a crash)."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint, refusing anything but weights and plain data.

    Raises
    ------
    ValueError
        For a file that is not a melodyrnn checkpoint, or that holds other objects.
    """
    path = resolve_checkpoint(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [ln.strip() for ln in str(e).splitlines()]
        offending = next((ln for ln in lines if "GLOBAL" in ln or "global" in ln), None)
        if offending is None:
            raise ValueError(f"{path}: not a readable checkpoint") from None
        raise ValueError(f"{path}: refused to load: it holds objects other than weights and "
                         f"plain data, which could run code ({offending[:160]})") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED):
        raise ValueError(f"{path}: not a melodyrnn checkpoint")
    if ckpt["format"] != FORMAT:
        raise ValueError(f"{path}: checkpoint format {ckpt['format']} is not supported")
    return ckpt


def model_from_checkpoint(ckpt: dict) -> SequenceModel:
    """The model of a loaded checkpoint, weights in place, in eval mode."""
    model = SequenceModel(ModelConfig(**ckpt["model_config"]))
    model.load_state_dict(ckpt["model_state"])
    return model.eval()
