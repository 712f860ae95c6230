"""One-file checkpoints: weights plus plain config, never arbitrary pickled objects.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, which refuses any
other object, so opening a checkpoint from anywhere cannot run code. It carries
everything needed to sample and to evaluate: model config and weights, the encoding
with its vocabulary, the training config, the library version and final metrics.
``load_checkpoint(path, arrays=True)`` reads the same file without torch
(:mod:`melodyrnn.core.ptfile`), its weights as numpy arrays, under the same checks.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np

from melodyrnn.core.atomic import atomic_path
from melodyrnn.core.install import __version__
from melodyrnn.core.models.config import FormConfig, ModelConfig
from melodyrnn.core.ptfile import check_zip, read_pt

__all__ = ["FORMAT", "payload", "save_checkpoint", "load_checkpoint", "model_from_checkpoint",
           "model_config_of", "check_weights", "save_refit", "resolve_checkpoint", "DEFAULT_NAME", "SHIPPED"]

FORMAT = 1
REQUIRED = ("format", "model_config", "model_state")
DEFAULT_NAME = "default"
# models shipped in the package, by name: the melody default (lookback network + bar-copy form
# head reading repeats under way and the tune's length, refitted in its own continuations, then
# its new-bar bias set on the valid tunes) and the four-voice chorale model (network + bar-copy
# head, pipelines/chorale_copy.toml); the models they grew from are rebuilt by pipelines/
SHIPPED = {DEFAULT_NAME: "default.pt", "chorale": "chorale.pt"}


def assets_dir() -> Path:
    """The package folder that holds shipped model files."""
    from importlib.resources import files

    return Path(str(files("melodyrnn") / "assets"))


def resolve_checkpoint(name: str | os.PathLike) -> Path:
    """A checkpoint path; a name of :data:`SHIPPED` (``default``, ``chorale``) stands for that
    model shipped in the package.

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


def payload(model, metrics: dict | None = None, **extra) -> dict:
    """What every checkpoint holds -- library version, model config, weights (on the CPU)
    and metrics -- plus ``extra`` plain data (encoding, vocab, train config...); the one
    builder of checkpoint dicts (trainer, classifier and :func:`melodyrnn.save` use it)."""
    from dataclasses import asdict

    return {"melodyrnn_version": __version__, "model_config": asdict(model.config),
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            **extra, "metrics": metrics or {}}


def save_refit(path: str | os.PathLike, ckpt: dict, model, **train_config) -> None:
    """Write ``model`` as checkpoint ``ckpt`` refitted: its weights and config, with ``ckpt``'s
    metrics and plain entries (encoding, vocab, training ids...) kept and ``train_config``'s
    entries added to its train config (what was done to it, so the file says how it was made)."""
    own = ("format", "melodyrnn_version", "model_config", "model_state", "metrics", "train_config")
    kept = {key: v for key, v in ckpt.items() if key not in own}
    save_checkpoint(path, payload(model, ckpt.get("metrics"), train_config={**ckpt.get("train_config", {}),
                                                                          **train_config}, **kept))


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` atomically (no partial file under ``path`` after a crash)."""
    import torch

    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


def load_checkpoint(path: str | os.PathLike, map_location="cpu", arrays: bool = False) -> dict:
    """Read a checkpoint, refusing anything but weights and plain data; with ``arrays`` its
    weights come as numpy arrays, read without importing torch.

    Raises
    ------
    ValueError
        For a file that is not a melodyrnn checkpoint, or that holds other objects.
    """
    path = resolve_checkpoint(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    if arrays:
        ckpt = read_pt(path)  # checks the zip's entries itself
    else:
        check_zip(path)
        ckpt = _torch_load(path, map_location)
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED):
        raise ValueError(f"{path}: not a melodyrnn checkpoint")
    if ckpt["format"] != FORMAT:
        raise ValueError(f"{path}: checkpoint format {ckpt['format']} is not supported")
    _check_structure(ckpt, path)
    return ckpt


def _torch_load(path: Path, map_location):
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [ln.strip() for ln in str(e).splitlines()]
        offending = next((ln for ln in lines if "GLOBAL" in ln or "global" in ln), None)
        if offending is None:
            raise ValueError(f"{path}: not a readable checkpoint") from None
        raise ValueError(f"{path}: refused to load: it holds objects other than weights and "
                         f"plain data, which could run code ({offending[:160]})") from None
    except Exception as e:  # noqa: BLE001 -- whatever torch makes of a file that is no checkpoint
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None


def _check_structure(ckpt: dict, path) -> None:
    """Plain config, a dict of finite tensors, a vocabulary of strings -- or ValueError."""
    if not isinstance(ckpt["model_config"], dict) or not isinstance(ckpt["model_state"], dict):
        raise ValueError(f"{path}: model_config and model_state must be dicts")
    for key, value in ckpt["model_state"].items():
        if not isinstance(key, str) or not _is_tensor(value):
            raise ValueError(f"{path}: model_state holds {key!r}, which is not a named tensor")
        if not _finite(value):
            raise ValueError(f"{path}: weight {key} is not finite (NaN or inf)")
    vocab = ckpt.get("vocab")
    if vocab is not None and not (isinstance(vocab, dict) and isinstance(vocab.get("tokens"), list)
                                  and all(isinstance(t, str) for t in vocab["tokens"])):
        raise ValueError(f"{path}: the vocabulary must be a list of token strings")
    if "encoding" in ckpt and not isinstance(ckpt["encoding"], dict):
        raise ValueError(f"{path}: the encoding must be a dict")
    size = ckpt["model_config"].get("vocab_size")
    if vocab is not None and isinstance(size, int) and len(vocab["tokens"]) != size:
        raise ValueError(f"{path}: {len(vocab['tokens'])} tokens in the vocabulary, vocab_size {size}")
    counts = ckpt.get("train_id_counts")
    counted = isinstance(counts, list) and len(counts) == size and all(
        isinstance(n, int) and n >= 0 for n in counts)
    if counts is not None and isinstance(size, int) and not counted:
        raise ValueError(f"{path}: train_id_counts must be a count per token id")


def _is_tensor(value) -> bool:
    """A torch tensor or (a checkpoint read without torch) a numpy array."""
    return isinstance(value, np.ndarray) or type(value).__module__.startswith("torch")


def _finite(value) -> bool:
    if isinstance(value, np.ndarray):
        return not np.issubdtype(value.dtype, np.floating) or bool(np.isfinite(value).all())
    return not value.is_floating_point() or bool(value.isfinite().all())


def model_from_checkpoint(ckpt: dict, form: FormConfig | dict | None = None):
    """The model of a loaded checkpoint, weights in place, in eval mode; with ``form`` it
    gets that form head, the parts of it the checkpoint lacks with new weights
    (:meth:`FormConfig.new_weights`: fine-tuning adds a head to a trained network).

    Raises
    ------
    ValueError
        For a config that is not a model's, or weights whose names or shapes do not fit
        it (a config that would allocate far more weights than the file holds is refused
        before the model is built).
    """
    from melodyrnn.core.models.network import SequenceModel

    config = model_config_of(ckpt, form)
    new = config.form.new_weights(model_config_of(ckpt).form) if form is not None else ()
    model = SequenceModel(config)
    check_weights(ckpt["model_state"], {k: tuple(v.shape) for k, v in model.state_dict().items()}, new)
    model.load_state_dict(ckpt["model_state"], strict=not new)
    return model.eval()


def model_config_of(ckpt: dict, form: FormConfig | dict | None = None) -> ModelConfig:
    """The checkpoint's model config (with the form head ``form`` instead of its own), refused
    before any model is built if it is not a model's or would allocate far more weights than
    the file holds."""
    try:
        config = ModelConfig.from_dict(ckpt["model_config"])
        if form is not None:
            config = replace(config, form=form if isinstance(form, FormConfig) else FormConfig(**form))
    except TypeError as e:  # unknown or missing fields
        raise ValueError(f"bad model config in the checkpoint: {str(e).split(') ', 1)[-1]}") from None
    except ValueError as e:
        raise ValueError(f"bad model config in the checkpoint: {e}") from None
    held = sum(int(np.prod(v.shape)) for v in ckpt["model_state"].values())
    floor = config.vocab_size * config.embedding + config.layers * config.hidden ** 2  # fewest weights
    if floor > 2 * held + 4096:  # building it would allocate far more than the file holds
        raise ValueError(f"the checkpoint's config asks for at least {floor:,} weights, its file "
                         f"holds {held:,}")
    return config


def check_weights(state: dict, expected: dict[str, tuple], new: tuple[str, ...] = ()) -> None:
    """``ValueError`` unless the weights ``state`` have exactly the ``expected`` names and
    shapes (weights whose names start with one of ``new`` may be missing: they start new)."""
    missing = sorted(k for k in set(expected) - set(state) if not k.startswith(new))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise ValueError(f"the checkpoint's weights do not fit its config ("
                         f"{'missing ' + missing[0] if missing else 'unexpected ' + extra[0]})")
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            raise ValueError(f"the checkpoint's weight {key} has shape {tuple(state[key].shape)}, "
                             f"its config needs {shape}")
