"""Fine-tuning a checkpoint: add-ons to its network, frozen parts, a rate per part.

``init_from`` may add parts that the checkpoint's network lacks (the form head, or parts of
it: its reading of repeats under way, of the tune's length) with new weights; ``train_only``
freezes every parameter but those named with a prefix; ``add_on_lr`` gives the added parts
their own learning rate.
"""

from __future__ import annotations

from melodyrnn.core.batching import sequence_bars
from melodyrnn.core.checkpoint import model_config_of, model_from_checkpoint
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.models import SequenceModel
from melodyrnn.core.models.config import FORM_PARTS, FORM_WEIGHTS, FormConfig, form_fields

__all__ = ["extended", "freeze_all_but", "param_groups", "prepare"]

PREFIXES = (FORM_WEIGHTS,)  # the add-ons' parameters' names begin so: the form head's


def extended(base: dict, model_config: dict) -> SequenceModel:
    """The checkpoint's model with the parts of a form head ``model_config`` switches on
    added to the checkpoint's own (a head, or its reading of repeats under way or of the
    tune's length, or the section plan): they start new, the rest is checked by
    :func:`melodyrnn.core.checkpoint.model_from_checkpoint`."""
    asked = form_fields(model_config)
    if not any(asked.values()):
        return model_from_checkpoint(base)
    old = model_config_of(base).form
    form = FormConfig(bars=asked.get("bars") or old.bars,
                      **{part: bool(asked.get(part)) or getattr(old, part) for part in FORM_PARTS})
    return model_from_checkpoint(base, form)


def param_groups(model: SequenceModel, lr: float, add_on_lr: float) -> list[dict]:
    """Optimizer parameter groups: one, or with ``add_on_lr`` a second for the add-ons'
    parameters (``rate``: their learning rate relative to ``lr``; the trainer's schedule
    scales both)."""
    named = list(model.named_parameters())
    add = [p for n, p in named if n.startswith(PREFIXES)]
    if not add_on_lr or not add:
        return [{"params": [p for _, p in named], "rate": 1.0}]
    return [{"params": [p for n, p in named if not n.startswith(PREFIXES)], "rate": 1.0},
            {"params": add, "rate": add_on_lr / lr}]


def prepare(model: SequenceModel, train_only: str, train: SplitArrays | None) -> None:
    """Before training: the form head's length-class prior from the training tunes
    (``train``; None: keep the checkpoint's, as on resuming), and the ``train_only`` freeze."""
    if train is not None:
        model.set_length_prior(sequence_bars(train.lengths, train.bar_steps))
    if train_only:
        freeze_all_but(model, train_only)


def freeze_all_but(model: SequenceModel, prefix: str) -> None:
    """Only parameters whose names start with ``prefix`` keep learning.

    Raises
    ------
    ValueError
        When no parameter has that prefix.
    """
    kept = [p.requires_grad_(n.startswith(prefix)) for n, p in model.named_parameters()]
    if not any(p.requires_grad for p in kept):
        raise ValueError(f"train_only: no parameter is named {prefix}*")
