"""Voice-leading statistics of four-part writing, to hold generated chorales against real ones.

A piece is read as voices on the step grid (:meth:`ChoraleEncoding.voice_steps`, top voice
first): ``frames`` gives the pitch each voice sounds at each step (-1: rest). From it:

- ``range``: each voice's lowest, highest and mean pitch;
- ``crossings``: of the steps where two adjacent voices both sound, the share where the upper
  one is below the lower one;
- ``parallels``: of the outer voices' common moves (both change pitch at the same step, in the
  same direction), the share from a perfect fifth to a fifth, or an octave (or unison) to an
  octave -- the classic fault;
- ``chords``: the pitch-class sets sounding at each step where every voice sounds, counted;
  ``chord_overlap`` compares two such vocabularies (the shared share of their histograms).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from melodyrnn.music.encodings.chorale import ChoraleEncoding, end_step
from melodyrnn.music.notes import Tune

__all__ = ["frames", "voice_leading", "chord_overlap", "summarise"]


def frames(voices: list[np.ndarray], n_steps: int | None = None) -> np.ndarray:
    """(V, steps) pitch of each voice at each step, -1 where it rests, from (on, off, pitch) rows."""
    n_steps = end_step(voices) if n_steps is None else n_steps
    grid = np.full((len(voices), n_steps), -1, np.int64)
    for k, v in enumerate(voices):
        for on, off, pitch in v.tolist():
            grid[k, on:min(off, n_steps)] = pitch
    return grid


def voice_leading(tune: Tune, enc: ChoraleEncoding | None = None) -> dict:
    """The statistics of one piece (see the module docstring)."""
    enc = enc or ChoraleEncoding()
    voices, _ = enc.voice_steps(tune)
    grid = frames(voices)
    V = grid.shape[0]
    sounding = grid >= 0
    ranges = [(int(g[s].min()), int(g[s].max()), float(g[s].mean())) if s.any() else None
              for g, s in zip(grid, sounding)]
    both = sounding[:-1] & sounding[1:]  # (V - 1, steps): adjacent voices both sound
    crossed = (grid[:-1] < grid[1:]) & both
    lowest = max((k for k in range(V) if sounding[k].any()), default=V - 1)
    top, bass = grid[0], grid[lowest]  # the outer voices: the top and the lowest one used
    moves = parallels = 0
    if grid.shape[1] > 1:
        ok = (top >= 0) & (bass >= 0)
        t0, t1, b0, b1 = top[:-1], top[1:], bass[:-1], bass[1:]
        common = ok[:-1] & ok[1:] & (t0 != t1) & (b0 != b1) & (np.sign(t1 - t0) == np.sign(b1 - b0))
        before, after = (t0 - b0) % 12, (t1 - b1) % 12
        moves = int(common.sum())
        parallels = int((common & np.isin(before, (0, 7)) & (before == after)).sum())
    full = sounding.all(axis=0)
    chords = Counter(tuple(sorted(set((grid[:, i] % 12).tolist()))) for i in np.flatnonzero(full))
    return {"range": ranges, "crossing_steps": int(crossed.sum()), "paired_steps": int(both.sum()),
            "outer_moves": moves, "parallels": parallels, "chords": chords}


def chord_overlap(a: Counter, b: Counter) -> float:
    """Shared share of two chord histograms: sum over chords of min(p_a, p_b), 0..1."""
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 0.0
    return float(sum(min(a[c] / na, b[c] / nb) for c in set(a) | set(b)))


def summarise(pieces: list[Tune], enc: ChoraleEncoding | None = None) -> dict:
    """The statistics of a set of pieces together: per voice its mean lowest / highest /
    mean pitch, the crossing and parallel rates, the chord vocabulary and histogram."""
    stats = [voice_leading(t, enc) for t in pieces]
    V = max((len(s["range"]) for s in stats), default=0)
    per_voice = []
    for k in range(V):
        rs = [s["range"][k] for s in stats if k < len(s["range"]) and s["range"][k] is not None]
        per_voice.append(tuple(float(np.mean([r[i] for r in rs])) for i in range(3)) if rs else None)
    chords: Counter = Counter()
    for s in stats:
        chords.update(s["chords"])
    paired = sum(s["paired_steps"] for s in stats)
    moves = sum(s["outer_moves"] for s in stats)
    return {"pieces": len(stats), "range": per_voice,
            "crossing_rate": sum(s["crossing_steps"] for s in stats) / paired if paired else 0.0,
            "parallel_rate": sum(s["parallels"] for s in stats) / moves if moves else 0.0,
            "chord_vocabulary": len(chords), "chords": chords}
