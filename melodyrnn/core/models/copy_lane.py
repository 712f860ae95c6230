"""The bar-copy head's arithmetic at one lane, on Python lists and small numpy arrays.

Decoding one lane, the head's 2K + 1 components cost least as Python arithmetic on a list
(each numpy call costs microseconds, more so right after a network step has swept the
caches) with a few whole-array numpy calls over the vocabulary, so ``BarCopy`` (torch) and
``NumpyModel`` (numpy) both step one lane through these functions; their batched paths do
the same sums on (batch, ...) arrays. Components, in order: exact copies of 1..K bars back,
varied copies of 1..K bars back, new.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["MAX_BAR", "MAX_STREAK", "NEG", "SPAN_EDGES", "SPANS", "span_of", "spans_reaching",
           "observe", "bar_start_streaks", "mixture", "head_weights", "lane_step"]

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


def observe(w: list[float], match: np.ndarray, pending: list[int], y: int, py: float,
            eps: float) -> tuple[list[float], np.ndarray]:
    """Bayes' rule on the component weights ``w`` (2K + 1 probabilities, a list) once
    target ``y`` is known: ``py`` is the network's probability of it, ``pending`` (K ints)
    the tokens the copies predicted; ``match`` (K,) says which bars so far equal the one d
    bars back. An exact copy that misses is out; a varied one keeps ``eps``."""
    k = len(pending)
    py = max(py, 1e-30)  # the network's float32 probabilities can underflow to 0
    miss, hit = eps * py, 1 - eps + eps * py  # a varied copy's likelihood of y
    hits = [t == y for t in pending]
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


def mixture(net: np.ndarray, scale: float, tokens: list[int], w: list[float], eps: float) -> np.ndarray:
    """Log-probabilities (V,) of the mixture: the network's distribution ``net * scale``
    (``net`` (V,): its unnormalised probabilities) weighted by the new and
    varied components, plus the copies' mass on ``tokens`` (K ints), the tokens d bars back;
    ``w`` are the 2K + 1 component weights (probabilities)."""
    k = len(tokens)
    p = net * (scale * (w[-1] + eps * sum(w[k:2 * k])))  # the network's share
    keep, mass = 1 - eps, {}
    for t, exact, varied in zip(tokens, w, w[k:2 * k]):  # the copies' mass, by token
        mass[t] = mass.get(t, 0.0) + exact + keep * varied
    for t, m in mass.items():  # fewer than K tokens: bars at one phase share many
        p[t] += m
    return np.log(np.maximum(p, 1e-30, out=p), out=p)


def head_weights(logits: list[float], cont: list[float] | None, streak_rows: list[list[float]],
                 streak: list[int], bar: int) -> list[float]:
    """The head's component probabilities (2K + 1, a list) at the start of bar ``bar``, from
    its ``logits`` (2K + 1: the projection of the network's output plus the bar's place and
    length-class terms), the ``cont`` term (2K, or None) of the network's word on repeats
    under way, the streak table's rows ``streak_rows[s]`` (2K each) and the repeat streaks
    (K ints); copies of bars before the tune's start get nothing. As the batched heads."""
    k = len(streak)
    top = len(logits) - 1
    for c in range(2 * k):
        d = c % k  # distance d + 1 bars
        if d >= bar:
            logits[c] = None
        else:
            s = streak[d]
            logits[c] += streak_rows[s][c] + (cont[c] if cont is not None and s > 0 else 0.0)
    m = max(v for v in logits if v is not None)
    e = [0.0 if v is None else math.exp(v - m) for v in logits]
    z = 1.0 / sum(e)
    return [v * z for v in e[:top]] + [e[top] * z]


def lane_step(w: np.ndarray, match: np.ndarray, streak: np.ndarray, pending: tuple | None,
              tokens: np.ndarray, net: np.ndarray, scale: float, pos: int, period: int, eps: float,
              head: Callable[[int, list[int]], list[float]]) -> tuple[np.ndarray, ...]:
    """One token of one lane: Bayes' rule with the previous target (``pending``: the tokens
    (K,) the copies predicted, ``y`` and ``p_net(y)``; or None), a fresh ``head(bar,
    streak)`` (probabilities, a list of 2K + 1) at a bar's first token, then the mixture's
    log-probabilities (V,) for the token at ``pos``; ``net * scale`` is the network's
    distribution. ``w`` (2K + 1,) are the component weights as
    probabilities; within the step they are a list, since on 33 numbers Python's arithmetic
    beats numpy's per-call cost. Returns ``(log_probs, w, match, streak)``."""
    bar, phase = divmod(pos, period)
    if phase == 0:  # the bar just ended decides the streaks; the head gives fresh weights
        if pending is not None:
            match = match & (pending[0] == pending[1])
        streak = bar_start_streaks(match, streak, bar)
        w = head(bar, streak.tolist())
        match = np.ones_like(match)
    else:
        w = w.tolist()
        if pending is not None:
            w, match = observe(w, match, pending[0].tolist(), pending[1], pending[2], eps)
    return mixture(net, scale, tokens.tolist(), w, eps), np.array(w), match, streak
