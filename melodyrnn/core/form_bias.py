"""Set the form head's new-bar bias on held-out tunes, so that continuations repeat as often.

A head fitted in its own continuations of the *training* tunes (:mod:`.form_policy`) repeats
there as often as those tunes do, and less often continuing tunes it has not learnt: the
network reads a familiar tune more surely, and the head reads the network. Like temperature
scaling (one number set on held-out data, Guo et al. 2017), :func:`tune_new_bias` moves one
number, the bias of the head's "new bar" logit, until the model's own continuations of a
held-out split repeat an earlier bar as often as the split's real tunes do at the same bars.
With groups (a dataset's collections: its source files' folders), one number cannot match
every group, so it balances the two worst: the root of the mid-range of the groups' gaps
(generated minus real), where the group that repeats most too often is off by as much as the
one that repeats least too seldom -- the least worst gap. Higher bias, fewer repeats: the
search brackets the root in steps, then narrows it by the Illinois variant of regula falsi;
every point it tries is reported with each group's figures. Ids and bar lengths only: no
notes, no files (:mod:`melodyrnn.music.form_calibration` reads and writes them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.form_policy import PolicyConfig, continue_split, long_enough, repeat_labels

__all__ = ["BiasConfig", "NEW_BIAS", "shifted", "repeat_fractions", "balanced_gap", "find_root",
           "tune_new_bias"]

NEW_BIAS = "bar_copy.proj.bias"  # the head's logits' bias; its last entry is the new bar's


@dataclass(frozen=True)
class BiasConfig:
    """Stop within ``tolerance`` of the real repeat fraction or after ``max_evals`` tries;
    bracket the root in steps of ``step`` up to ``reach`` either way from 0; balance the
    groups with at least ``min_tunes`` tunes to continue."""

    tolerance: float = 0.005
    max_evals: int = 7
    step: float = 0.4
    reach: float = 2.0
    min_tunes: int = 10  # groups with fewer long enough tunes are left out of the balance


def shifted(state: dict, offset: float) -> dict:
    """A copy of a model ``state`` (torch tensors or numpy arrays) whose form head's new-bar
    logit is ``offset`` higher; the other entries are shared, not copied."""
    bias = state[NEW_BIAS] * 1  # a copy, of either kind
    bias[-1] += offset
    return {**state, NEW_BIAS: bias}


def repeat_fractions(generated: SplitArrays, labels: list[np.ndarray], primer_bars: int, bars: int,
                     group_of: dict[int, str] | None = None) -> dict[str, dict]:
    """Per group: the share of continuation bars (``primer_bars`` .. ``primer_bars + bars``)
    that equal an earlier bar, generated and real, over :func:`.form_policy.continue_split`'s
    output, and the number of tunes; ``group_of`` maps a source file's index to its group
    (None: one group, ``""``)."""
    total, rows = primer_bars + bars, {}
    for i in range(generated.n_sequences):
        src = int(generated.source[i])
        gen = repeat_labels(generated.sequence(i).tolist(), int(generated.bar_steps[i]), total)[primer_bars:]
        row = rows.setdefault((group_of or {}).get(src, ""), ([], [], set()))
        row[0].append(gen)
        row[1].append(labels[i][primer_bars:total])
        row[2].add(src)
    return {g: {"generated_repeat": float(np.mean(gen)), "real_repeat": float(np.mean(real)),
                "tunes": len(tunes)} for g, (gen, real, tunes) in sorted(rows.items())}


def balanced_gap(groups: dict[str, dict], min_tunes: int) -> float:
    """The mid-range of the groups' gaps (generated minus real repeat fraction) over those
    with at least ``min_tunes`` tunes (all of them where none has)."""
    big = [g for g in groups.values() if g["tunes"] >= min_tunes] or list(groups.values())
    gaps = [g["generated_repeat"] - g["real_repeat"] for g in big]
    return (max(gaps) + min(gaps)) / 2


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
                  cfg: BiasConfig = BiasConfig(), allowed=None, grammar=None,
                  group_of: dict[int, str] | None = None) -> dict:
    """The new-bar bias offset at which the continuations of ``split``'s long enough
    sequences by ``make_sampler(offset)`` (a model :func:`.continuation.continue_ids` takes)
    repeat earlier bars as often as the real sequences (with ``group_of``, a source file's
    group by its index: the least worst over the groups, :func:`balanced_gap`), with every
    offset tried and each group's repeat fractions there."""
    if not long_enough(split, policy.primer_bars + policy.bars):
        raise ValueError(f"no held-out sequence has {policy.primer_bars + policy.bars} bars to continue")
    rows = []

    def gap(offset: float) -> float:
        generated, labels = continue_split(make_sampler(offset), split, policy, allowed, grammar)
        groups = repeat_fractions(generated, labels, policy.primer_bars, policy.bars, group_of)
        rows.append({"new_bias": offset, "gap": balanced_gap(groups, cfg.min_tunes), "groups": groups})
        return rows[-1]["gap"]

    best, _ = find_root(gap, cfg)
    return {"new_bias": best, "tried": rows}
