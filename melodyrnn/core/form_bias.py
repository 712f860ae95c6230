"""Set the form head's new-bar bias on held-out tunes, so that continuations repeat as often.

A head fitted in its own continuations of the *training* tunes (:mod:`.form_policy`) repeats
there as often as those tunes do, and less often continuing tunes it has not learnt: the
network reads a familiar tune more surely, and the head reads the network. Like temperature
scaling (one number set on held-out data, Guo et al. 2017), :func:`tune_new_bias` moves one
number, the bias of the head's "new bar" logit, until the model's own continuations of a
held-out split repeat an earlier bar as often as the split's real tunes do at the same bars
(pooled over its sequences). Higher bias, fewer repeats: the search brackets the root in
steps, then narrows it by the Illinois variant of regula falsi; every point it tries is
reported. :func:`calibrate_bias` does it for a checkpoint file and writes the model with the
bias and the search recorded. Ids and bar lengths only: no notes, no files but checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.form_policy import PolicyConfig, continue_split, repeat_labels

__all__ = ["BiasConfig", "NEW_BIAS", "shifted", "repeat_fractions", "find_root", "tune_new_bias",
           "calibrate_bias"]

NEW_BIAS = "bar_copy.proj.bias"  # the head's logits' bias; its last entry is the new bar's


@dataclass(frozen=True)
class BiasConfig:
    """Stop within ``tolerance`` of the real repeat fraction or after ``max_evals`` tries;
    bracket the root in steps of ``step`` up to ``reach`` either way from 0."""

    tolerance: float = 0.005
    max_evals: int = 7
    step: float = 0.4
    reach: float = 2.0


def shifted(state: dict, offset: float) -> dict:
    """A copy of a model ``state`` (torch tensors or numpy arrays) whose form head's new-bar
    logit is ``offset`` higher; the other entries are shared, not copied."""
    bias = state[NEW_BIAS] * 1  # a copy, of either kind
    bias[-1] += offset
    return {**state, NEW_BIAS: bias}


def repeat_fractions(generated: SplitArrays, labels: list[np.ndarray], primer_bars: int,
                     bars: int) -> tuple[float, float]:
    """(generated, real): the share of continuation bars (``primer_bars`` .. ``primer_bars +
    bars``) that equal an earlier bar, over :func:`.form_policy.continue_split`'s output."""
    total = primer_bars + bars
    gen = [repeat_labels(generated.sequence(i).tolist(), int(generated.bar_steps[i]), total)[primer_bars:]
           for i in range(generated.n_sequences)]
    real = [y[primer_bars:total] for y in labels]
    return float(np.mean(np.concatenate(gen))), float(np.mean(np.concatenate(real)))


def find_root(f: Callable[[float], float], cfg: BiasConfig) -> tuple[float, list[tuple[float, float]]]:
    """The point tried whose ``|f|`` is least, for a decreasing ``f`` (bias -> generated minus
    real repeat fraction), and every ``(x, f(x))`` tried, in order."""
    tried: list[tuple[float, float]] = []

    def at(x: float) -> float:
        tried.append((x, f(x)))
        return tried[-1][1]

    a, fa = 0.0, at(0.0)
    b, fb = a, fa
    while abs(fb) > cfg.tolerance and fa * fb > 0 and len(tried) < cfg.max_evals and abs(b) < cfg.reach:
        a, fa = b, fb
        b = round(a + (cfg.step if fa > 0 else -cfg.step), 6)  # too many repeats: more new bars
        fb = at(b)
    side = 0
    while abs(fb) > cfg.tolerance and fa * fb < 0 and len(tried) < cfg.max_evals:
        c = b - fb * (b - a) / (fb - fa)
        fc = at(c)
        if fc * fb < 0:
            a, fa = b, fb
            side = 0
        else:
            side += 1
            if side > 1:  # Illinois: halve the stale end's weight
                fa /= 2
        b, fb = c, fc
    best = min(tried, key=lambda p: abs(p[1]))
    return best[0], tried


def tune_new_bias(make_sampler: Callable[[float], object], split: SplitArrays, policy: PolicyConfig,
                  cfg: BiasConfig = BiasConfig(), allowed=None, grammar=None) -> dict:
    """The new-bar bias offset at which the continuations of ``split``'s long enough
    sequences by ``make_sampler(offset)`` (a model :func:`.continuation.continue_ids` takes)
    repeat earlier bars as often as the real sequences, with every offset tried and its
    generated and real repeat fractions."""
    rows = []

    def gap(offset: float) -> float:
        generated, labels = continue_split(make_sampler(offset), split, policy, allowed, grammar)
        if not labels:
            raise ValueError(f"no held-out sequence has {policy.primer_bars + policy.bars} bars to continue")
        gen, real = repeat_fractions(generated, labels, policy.primer_bars, policy.bars)
        rows.append({"new_bias": offset, "generated_repeat": gen, "real_repeat": real})
        return gen - real

    best, _ = find_root(gap, cfg)
    return {"new_bias": best, "tried": rows}


def calibrate_bias(checkpoint, dataset, out, policy: PolicyConfig, cfg: BiasConfig = BiasConfig(),
                   split: str = "valid", allowed=None, grammar=None) -> dict:
    """:func:`tune_new_bias` on ``dataset``'s ``split`` for the model of ``checkpoint``
    (decoded in numpy, as generation decodes it), and the model with that bias written to
    ``out``, the search recorded in its ``train_config`` (``held_out_bias``).

    Raises
    ------
    ValueError
        For a model without a bar-copy head, or a split with no sequence long enough.
    """
    import torch

    from melodyrnn.core.checkpoint import (load_checkpoint, model_config_of, model_from_checkpoint, payload,
                                           save_checkpoint)
    from melodyrnn.core.dataset import load_dataset
    from melodyrnn.core.models.numpy_net import NumpyModel, supported

    ckpt = load_checkpoint(checkpoint)
    config = model_config_of(ckpt)
    if not config.bar_copy or not supported(config):
        raise ValueError("a held-out bias needs an lstm, gru or rnn model with a bar-copy head (--bar-copy)")
    arrays = {k: v.numpy() for k, v in ckpt["model_state"].items()}
    held = load_dataset(dataset).split(split)
    report = tune_new_bias(lambda x: NumpyModel(config, shifted(arrays, x)), held, policy, cfg,
                           allowed, grammar)
    report = {"split": split, **report, "search": asdict(cfg), "policy": asdict(policy)}
    model = model_from_checkpoint(ckpt)
    with torch.no_grad():
        model.bar_copy.proj.bias[-1] += report["new_bias"]
    kept = {key: v for key, v in ckpt.items() if key not in ("format", "melodyrnn_version", "model_config",
                                                              "model_state", "metrics", "train_config")}
    train_config = {**ckpt.get("train_config", {}), "held_out_bias": report}
    save_checkpoint(out, payload(model, ckpt.get("metrics"), train_config=train_config, **kept))
    return report
