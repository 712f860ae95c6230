"""``melodyrnn calibrate-form`` for melody models: the form head refitted on the model's own
continuations of the training tunes, and its new-bar bias set on those of held-out tunes,
sampled as ``melodyrnn generate`` samples them.

:func:`melodyrnn.core.form_fit.calibrate_form` does the fitting on ids; this layer adds what
generation lets a melody model play (:func:`melodyrnn.music.compose.sampling_constraints`).
"""

from __future__ import annotations

from melodyrnn.core.form_bias import BiasConfig, calibrate_bias
from melodyrnn.core.form_fit import FormFitConfig, calibrate_form
from melodyrnn.core.form_policy import PolicyConfig
from melodyrnn.core.loading import load_for_sampling
from melodyrnn.music.compose import sampling_constraints
from melodyrnn.music.encodings.melody import MelodyEncoding

__all__ = ["calibrate"]


def calibrate(checkpoint, dataset, out, cfg: FormFitConfig | None = None, policy: PolicyConfig | None = None,
              held_out: tuple[PolicyConfig, BiasConfig] | None = None) -> dict:
    """:func:`~melodyrnn.core.form_fit.calibrate_form` (skipped at ``cfg.epochs`` 0), its
    continuations (``policy``, when given) sampled by the model as melody generation samples
    them; then, with ``held_out`` (continuations and search), the new-bar bias set on the
    valid split (:func:`~melodyrnn.core.form_bias.calibrate_bias`) and written over ``out``.

    Raises
    ------
    ValueError
        For continuations of a model that is not a melody model, or nothing to do.
    """
    cfg = cfg or FormFitConfig()
    if cfg.epochs == 0 and held_out is None:
        raise ValueError("nothing to do: --epochs 0 fits no head, and no --held-out-bias was asked for")
    report, source = {}, checkpoint
    if cfg.epochs > 0:
        report, source = _fit(checkpoint, dataset, out, cfg, policy), out
    if held_out is not None:
        _, *constraints = _melody(source, "--held-out-bias")
        report["held_out_bias"] = calibrate_bias(source, dataset, out, *held_out, "valid", *constraints)
    return report


def _melody(checkpoint, option: str) -> tuple:
    """(sampler, allowed, grammar) of a melody model as its generation samples, for
    ``option``'s continuations."""
    sampler, enc, ckpt = load_for_sampling(checkpoint)
    if not isinstance(enc, MelodyEncoding):
        raise ValueError(f"{checkpoint} is not a melody model ({enc.name!r}): {option} needs one")
    return sampler, *sampling_constraints(enc, ckpt)


def _fit(checkpoint, dataset, out, cfg: FormFitConfig, policy: PolicyConfig | None) -> dict:
    if policy is None:
        return calibrate_form(checkpoint, dataset, out, cfg)
    return calibrate_form(checkpoint, dataset, out, cfg, policy, *_melody(checkpoint, "--policy-weight"))
