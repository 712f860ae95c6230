"""``melodyrnn calibrate-form`` for melody models: the form head refitted on the model's own
continuations of the training tunes, then its new-bar bias set on those of held-out tunes,
sampled as ``melodyrnn generate`` samples them.

The arithmetic is the core's, on ids and models in memory: :func:`~melodyrnn.core.form_fit.refit_form`
(the head's fit on a frozen network), :func:`~melodyrnn.core.form_policy.policy_table` (the
model's own continuations, labelled), :func:`~melodyrnn.core.form_bias.tune_new_bias` (the
bias search). This module is the task around them: it reads the checkpoint and the dataset,
adds what generation lets a melody model play
(:func:`melodyrnn.music.compose.sampling_constraints`), and writes the refitted checkpoint
with what was done recorded in its ``train_config`` (``form_fit``, ``held_out_bias``).
:class:`CalibrateConfig`'s defaults are the shipped default model's recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import PurePath

from melodyrnn.core.form_bias import BiasConfig, shifted, tune_new_bias
from melodyrnn.core.form_fit import FormFitConfig, refit_form
from melodyrnn.core.form_policy import PolicyConfig, long_enough, policy_table
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.music.compose import sampling_constraints
from melodyrnn.music.encodings.base import makes_tunes
from melodyrnn.music.encodings.melody import MelodyEncoding

__all__ = ["CalibrateConfig", "calibrate"]


@dataclass(frozen=True)
class CalibrateConfig:
    """What ``calibrate-form`` does.

    ``fit`` the head's fit on the training tunes (``epochs`` 0: none); ``policy`` the model's
    own continuations of them that the fit's second cross-entropy reads (used when
    ``fit.policy_weight`` > 0; ``limit``: at most that many tunes); ``bias`` the continuations
    of the valid tunes on which the new-bar bias is then set, and the search (None: no bias).
    """

    fit: FormFitConfig = FormFitConfig(policy_weight=5.0)
    policy: PolicyConfig = PolicyConfig(limit=600)
    bias: tuple[PolicyConfig, BiasConfig] | None = field(default=(PolicyConfig(outputs=4), BiasConfig()))

    def __post_init__(self) -> None:
        if self.fit.epochs == 0 and self.bias is None:
            raise ValueError("nothing to do: --epochs 0 fits no head, and --no-held-out-bias sets no bias")


def calibrate(checkpoint, dataset, out, cfg: CalibrateConfig = CalibrateConfig()) -> dict:
    """Refit and/or re-bias the form head of ``checkpoint`` (a melody model) on ``dataset``,
    write the model to ``out`` and return what was measured: the valid split's figures before
    and after the fit (and the policy table's), and the bias search (``held_out_bias``).

    Raises
    ------
    ValueError
        For a model without a form head or not a melody model, tunes too short to continue,
        or a fit that diverged (nothing is written then).
    """
    from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint, save_refit
    from melodyrnn.core.dataset import load_dataset
    from melodyrnn.core.models.numpy_net import NumpyModel, supported

    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt)
    if model.bar_copy is None or not supported(model.config):
        raise ValueError("calibrate-form needs an lstm, gru or rnn model with a bar-copy head (--bar-copy)")
    ds = load_dataset(dataset)
    own_tunes = cfg.fit.epochs > 0 and cfg.fit.policy_weight > 0
    continued = [("train", cfg.policy)] if own_tunes else []
    continued += [("valid", cfg.bias[0])] if cfg.bias else []
    for split, policy in continued:  # before any fit: tunes too short are a one-line error now
        if not long_enough(ds.split(split), policy.primer_bars + policy.bars):
            raise ValueError(f"{dataset}: no {split} sequence has {policy.primer_bars + policy.bars} bars "
                             "to continue")
    allowed, grammar = _constraints(checkpoint, ckpt) if continued else (None, None)
    report, recorded = {"output": str(out)}, {}
    if cfg.fit.epochs > 0:
        own = None
        if own_tunes:  # the model's own continuations, sampled on numpy as generate samples
            sampler = NumpyModel(model.config, {k: v.numpy() for k, v in model.state_dict().items()})
            own = policy_table(sampler, model, ds.split("train"), cfg.policy, allowed, grammar)
        report.update(refit_form(model, ds.split("train"), ds.split("valid"), cfg.fit, own))
        recorded["form_fit"] = asdict(cfg.fit) | ({"policy": asdict(cfg.policy)} if own_tunes else {})
    if cfg.bias is not None:
        state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        files = ds.meta.get("files", [])
        group_of = {i: PurePath(f.get("path", "")).parent.name for i, f in enumerate(files)}
        search = tune_new_bias(lambda x: NumpyModel(model.config, shifted(state, x)), ds.split("valid"),
                               cfg.bias[0], cfg.bias[1], allowed, grammar, group_of)
        search = {"split": "valid", **search, "search": asdict(cfg.bias[1]), "policy": asdict(cfg.bias[0])}
        model.load_state_dict(shifted(model.state_dict(), search["new_bias"]))
        report["held_out_bias"] = recorded["held_out_bias"] = search
    save_refit(out, ckpt, model, **recorded)
    return report


def _constraints(checkpoint, ckpt: dict) -> tuple:
    """(allowed, grammar) of a model's continuations as its generation samples them: a melody
    model's melody grammar and pitch range; nothing for a model of plain ids (no encoding, or
    one that makes no tunes); other music models (chorales, performances) have rules of
    their own and are refused."""
    enc = encoding_from_dict(ckpt["encoding"]) if "encoding" in ckpt else None
    if isinstance(enc, MelodyEncoding):
        return sampling_constraints(enc, ckpt)
    if enc is not None and makes_tunes(enc):
        raise ValueError(f"{checkpoint} is not a melody model ({enc.name!r}): calibrate-form continues "
                         "tunes as melody generation does")
    return None, None
