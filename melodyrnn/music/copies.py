"""How much of a continuation copies its primer, bar by bar.

A bar is its notes as (onset in the bar, length, pitch) in grid steps; two bars are the
same when those sets are equal. Used by the tests and ``benchmarks/copies.py`` to show
that decoders do not loop their seed, against what real tunes do after the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CopyStats", "bar_contents", "primer_copies"]


def bar_contents(pitch: np.ndarray, start_steps: np.ndarray, end_steps: np.ndarray,
                 bar_steps: int, bars: int) -> list[tuple]:
    """The content of each of ``bars`` bars from step 0 (an empty bar is ``()``)."""
    bar = np.asarray(start_steps) // bar_steps
    out = []
    for b in range(bars):
        sel = bar == b
        out.append(tuple(sorted(zip((np.asarray(start_steps)[sel] - b * bar_steps).tolist(),
                                    (np.asarray(end_steps)[sel] - np.asarray(start_steps)[sel]).tolist(),
                                    np.asarray(pitch)[sel].tolist()))))
    return out


@dataclass(frozen=True)
class CopyStats:
    """``copied``: fraction of the continuation's non-empty bars equal to some primer bar;
    ``replay``: the continuation starts by playing the primer's bars again, in order."""

    copied: float
    replay: bool


def primer_copies(primer: list[tuple], continuation: list[tuple]) -> CopyStats:
    """Copy statistics of ``continuation`` bars against ``primer`` bars (from :func:`bar_contents`)."""
    source = {b for b in primer if b}
    filled = [b for b in continuation if b]
    copied = sum(b in source for b in filled) / len(filled) if filled else 0.0
    n = len(primer)
    replay = bool(source) and len(continuation) >= n and continuation[:n] == primer
    return CopyStats(copied, replay)
