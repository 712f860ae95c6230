"""``melodyrnn calibrate-form`` for melody models: the form head refitted on the model's own
continuations of the training tunes, sampled as ``melodyrnn generate`` samples them.

:func:`melodyrnn.core.form_fit.calibrate_form` does the fitting on ids; this layer adds what
generation lets a melody model play (:func:`melodyrnn.music.compose.sampling_constraints`).
"""

from __future__ import annotations

from melodyrnn.core.form_fit import FormFitConfig, calibrate_form
from melodyrnn.core.form_policy import PolicyConfig
from melodyrnn.music.compose import sampling_constraints

__all__ = ["calibrate"]


def calibrate(checkpoint, dataset, out, cfg: FormFitConfig | None = None,
              policy: PolicyConfig | None = None) -> dict:
    """:func:`~melodyrnn.core.form_fit.calibrate_form`, its continuations (``policy``, when
    given and ``cfg.policy_weight`` > 0) under the constraints of melody generation."""
    cfg = cfg or FormFitConfig()
    if policy is None or cfg.policy_weight <= 0:
        return calibrate_form(checkpoint, dataset, out, cfg)
    return calibrate_form(checkpoint, dataset, out, cfg, policy, *sampling_constraints(checkpoint))
