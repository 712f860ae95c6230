"""The bar-copy head's arithmetic at one lane, in Python floats.

Decoding one lane, the head's 2K + 1 components cost less as lists than as a few dozen
tiny tensor or array calls, so ``BarCopy`` (torch) and ``NumpyModel`` (numpy) both step one
lane through these functions; their batched paths do the same sums on whole arrays.
Components, in order: exact copies of 1..K bars back, varied copies of 1..K bars back, new.
"""

from __future__ import annotations

import math

__all__ = ["MAX_BAR", "MAX_STREAK", "NEG", "observe", "bar_start_streaks", "copy_mass"]

MAX_BAR = 63  # bar indices beyond this share one entry
MAX_STREAK = 4  # bars in a row already repeated at one distance, capped
NEG = -1e9  # log-weight of an unavailable copy (no bar that far back yet)
FLOOR = math.log(1e-30)


def observe(lw: list[float], match: list[bool], pending: list[int], y: int, py: float,
            eps: float) -> tuple[list[float], list[bool]]:
    """Bayes' rule on the component log-weights ``lw`` once target ``y`` is known: ``py`` is
    the network's probability of it, ``pending`` the K tokens the copies predicted."""
    k = len(pending)
    varied = math.log(max(eps * py, 1e-30)), math.log(max(1 - eps + eps * py, 1e-30))
    lw = ([a + (0.0 if t == y else FLOOR) for a, t in zip(lw[:k], pending)]
          + [a + varied[t == y] for a, t in zip(lw[k:2 * k], pending)]
          + [lw[-1] + math.log(max(py, 1e-30))])
    top = max(lw)
    norm = top + math.log(sum(math.exp(a - top) for a in lw))
    return [a - norm for a in lw], [m and t == y for m, t in zip(match, pending)]


def bar_start_streaks(match: list[bool], streak: list[int], bar: int) -> list[int]:
    """Repeat streaks at the start of bar ``bar``: one more where the bar just ended equals the
    one d bars before it, else 0."""
    return [min(s + 1, MAX_STREAK) if m and d < bar else 0
            for d, (m, s) in enumerate(zip(match, streak), start=1)]


def copy_mass(tokens: list[int], lw: list[float], eps: float) -> tuple[float, dict[int, float]]:
    """The weight of the network's distribution in the mixture, and the probability mass the
    copies put on each of ``tokens`` (the K tokens d bars back)."""
    k = len(tokens)
    w = [math.exp(a) for a in lw]
    mass: dict[int, float] = {}
    for t, we, wv in zip(tokens, w[:k], w[k:2 * k]):
        mass[t] = mass.get(t, 0.0) + we + (1 - eps) * wv
    return w[-1] + eps * sum(w[k:2 * k]), mass
