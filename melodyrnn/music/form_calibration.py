"""``melodyrnn calibrate-form`` for melody models: the form head refitted on the model's own
continuations of the training tunes, sampled as ``melodyrnn generate`` samples them.

:func:`melodyrnn.core.form_fit.calibrate_form` does the fitting on ids; this layer adds what
generation lets a melody model play (:func:`melodyrnn.music.compose.sampling_constraints`).
"""

from __future__ import annotations

from melodyrnn.core.form_fit import FormFitConfig, calibrate_form
from melodyrnn.core.form_policy import PolicyConfig
from melodyrnn.core.loading import load_for_sampling
from melodyrnn.music.compose import sampling_constraints
from melodyrnn.music.encodings.melody import MelodyEncoding

__all__ = ["calibrate"]


def calibrate(checkpoint, dataset, out, cfg: FormFitConfig | None = None,
              policy: PolicyConfig | None = None) -> dict:
    """:func:`~melodyrnn.core.form_fit.calibrate_form`, its continuations (``policy``, when
    given) sampled by the model as melody generation samples them.

    Raises
    ------
    ValueError
        For continuations of a model that is not a melody model.
    """
    cfg = cfg or FormFitConfig()
    if policy is None:
        return calibrate_form(checkpoint, dataset, out, cfg)
    sampler, enc, ckpt = load_for_sampling(checkpoint)
    if not isinstance(enc, MelodyEncoding):
        raise ValueError(f"{checkpoint} is not a melody model ({enc.name!r}): --policy-weight needs one")
    return calibrate_form(checkpoint, dataset, out, cfg, policy, sampler, *sampling_constraints(enc, ckpt))
