"""The bar-copy head's arithmetic at one lane, on Python lists and small numpy arrays.

Decoding one lane, the head's 2K + 1 components cost least as Python arithmetic on a list
(each numpy call costs microseconds, more so right after a network step has swept the
caches) with a few whole-array numpy calls over the vocabulary, so ``BarCopy`` (torch) and
``NumpyModel`` (numpy) both step one lane through these functions; their batched paths do
the same sums on (batch, ...) arrays. Components, in order: exact copies of 1..K bars back,
varied copies of 1..K bars back, new.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["MAX_BAR", "MAX_STREAK", "NEG", "SPAN_EDGES", "SPANS", "span_of", "spans_reaching",
           "observe", "bar_start_streaks", "mixture", "lane_step"]

MAX_BAR = 63  # bar indices beyond this share one entry
MAX_STREAK = 4  # bars in a row already repeated at one distance, capped
NEG = -1e9  # log-weight of an unavailable copy (no bar that far back yet)
SPAN_EDGES = (16, 24, 32, 40)  # tune lengths in bars that part the length classes
SPANS = len(SPAN_EDGES) + 1  # length classes: under 16 bars, 16-23, 24-31, 32-39, 40 or more


def span_of(bars) -> np.ndarray:
    """The length class (0..SPANS - 1) of tunes ``bars`` bars long."""
    return np.searchsorted(SPAN_EDGES, np.asarray(bars), side="right")


def spans_reaching(bars: int) -> np.ndarray:
    """Which length classes (SPANS,) hold tunes of at least ``bars`` bars."""
    top = np.r_[np.asarray(SPAN_EDGES) - 1, np.iinfo(np.int64).max]  # longest tune of each class
    return top >= bars


def observe(w: list[float], match: np.ndarray, pending: np.ndarray, y: int, py: float,
            eps: float) -> tuple[list[float], np.ndarray]:
    """Bayes' rule on the component weights ``w`` (2K + 1 probabilities, a list) once
    target ``y`` is known: ``py`` is the network's probability of it, ``pending`` (K,) the
    tokens the copies predicted; ``match`` (K,) says which bars so far equal the one d bars
    back. An exact copy that misses is out; a varied one keeps ``eps``."""
    k = len(pending)
    miss, hit = eps * py, 1 - eps + eps * py  # a varied copy's likelihood of y
    hits = [t == y for t in pending.tolist()]
    for i, h in enumerate(hits):
        if h:
            w[k + i] *= hit
        else:
            w[i] = 0.0
            w[k + i] *= miss
    w[-1] *= py
    z = 1.0 / sum(w)
    return [v * z for v in w], match & np.array(hits)


def bar_start_streaks(match: np.ndarray, streak: np.ndarray, bar: int) -> np.ndarray:
    """Repeat streaks (K,) at the start of bar ``bar``: one more where the bar just ended
    equals the one d bars before it, else 0."""
    held = match & (np.arange(1, len(match) + 1) < bar)  # bar - 1 equals bar - 1 - d
    return np.where(held, np.minimum(streak + 1, MAX_STREAK), 0)


def mixture(lp: np.ndarray, tokens: np.ndarray, w: list[float], eps: float) -> np.ndarray:
    """Log-probabilities (V,) of the mixture: the network's ``lp`` (V,) weighted by the new
    and varied components, plus the copies' mass on ``tokens`` (K,), the tokens d bars back;
    ``w`` are the 2K + 1 component weights (probabilities)."""
    k = len(tokens)
    p = np.exp(lp)
    p *= w[-1] + eps * sum(w[k:2 * k])  # weight of the network's distribution
    keep = 1 - eps
    for i, t in enumerate(tokens.tolist()):  # at most K tokens get a copy's mass
        mass = w[i] + keep * w[k + i]
        if mass > 0:
            p[t] += mass
    return np.log(np.maximum(p, 1e-30, out=p), out=p)


def lane_step(lw: np.ndarray, match: np.ndarray, streak: np.ndarray, pending: tuple | None,
              tokens: np.ndarray, lp: np.ndarray, pos: int, period: int, eps: float,
              head: Callable[[int, np.ndarray], np.ndarray]) -> tuple[np.ndarray, ...]:
    """One token of one lane: Bayes' rule with the previous target (``pending``: the tokens
    the copies predicted and ``(y, p_net(y))``, or None), a fresh ``head(bar, streak)``
    (log-weights) at a bar's first token, then the mixture's log-probabilities (V,) for the
    token at ``pos``. ``lw`` are the component log-weights (the state keeps logs, as the
    batched paths do); within the step they are a list of probabilities, since on 33 numbers
    Python's arithmetic beats numpy's per-call cost. Returns ``(log_probs, lw, match, streak)``."""
    bar, phase = divmod(pos, period)
    if phase == 0:  # the bar just ended decides the streaks; the head gives fresh weights
        if pending is not None:
            match = match & (pending[0] == pending[1][0])
        streak = bar_start_streaks(match, streak, bar)
        lw = head(bar, streak)
        w = np.exp(lw).tolist()
        match = np.ones_like(match)
    else:
        w = np.exp(lw).tolist()
        if pending is not None:
            w, match = observe(w, match, pending[0], *pending[1], eps)
            lw = np.log(np.maximum(np.array(w, lw.dtype), 1e-30))
    return mixture(lp, tokens, w, eps), lw, match, streak
