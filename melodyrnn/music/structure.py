"""The form of a melody, bar by bar: what repeats, what is new, what stays in key.

Bars are compared exactly -- the onsets, lengths and pitches of the notes starting in each
bar (:func:`melodyrnn.music.copies.bar_contents`) -- so a varied repeat counts as new. All
functions take a list of bar contents; :func:`tune_bars` makes one from a tune.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.music.copies import bar_contents
from melodyrnn.music.keys import infer_key, scale_pitch_classes
from melodyrnn.music.notes import Tune

__all__ = ["tune_bars", "repeat_fraction", "new_bars", "longest_repeat", "has_aaa",
           "in_key_rate", "structure_features", "notes_structure", "GRID_PER_BEAT"]

GRID_PER_BEAT = 12  # onsets and lengths compared on a 1/12-beat grid (16ths and triplets)
PHRASES = (1, 2, 4, 8)


def tune_bars(pitch: np.ndarray, start_beats: np.ndarray, end_beats: np.ndarray,
              bar_beats: float) -> list[tuple]:
    """Bar contents of notes (beats from a bar line), every bar up to the last note's."""
    start = np.rint(np.asarray(start_beats) * GRID_PER_BEAT).astype(np.int64)
    end = np.rint(np.asarray(end_beats) * GRID_PER_BEAT).astype(np.int64)
    bar = max(int(round(bar_beats * GRID_PER_BEAT)), 1)
    bars = int(start.max() // bar) + 1 if start.size else 0
    return bar_contents(np.asarray(pitch), start, end, bar, bars)


def _heard_before(bars: list[tuple], start: int) -> list[bool]:
    """For each bar from ``start`` on: does it equal an earlier bar?"""
    seen, out = set(bars[:start]), []
    for b in bars[start:]:
        out.append(b in seen)
        seen.add(b)
    return out


def repeat_fraction(bars: list[tuple], start: int = 1) -> float:
    """Share of bars ``start`` onward that equal an earlier bar."""
    heard = _heard_before(bars, start)
    return sum(heard) / len(heard) if heard else 0.0


def new_bars(bars: list[tuple], start: int = 0) -> int:
    """Bars from ``start`` on that were never heard before in the piece."""
    return _heard_before(bars, start).count(False)


def longest_repeat(bars: list[tuple]) -> int:
    """The longest of 1, 2, 4, 8 bars such that some run of that many bars repeats an
    earlier run that ends before it starts (0: no bar repeats)."""
    best = 0
    for n in PHRASES:
        runs = [tuple(bars[i:i + n]) for i in range(len(bars) - n + 1)]
        seen: set = set()
        for i, run in enumerate(runs):
            if i >= n:
                seen.add(runs[i - n])  # the runs that end before this one starts
            if run in seen and any(run):
                best = n
                break
        if best < n:
            break
    return best


def has_aaa(bars: list[tuple], block: int = 8) -> bool:
    """One ``block``-bar run played three times in a row (A A A)."""
    for i in range(len(bars) - 3 * block + 1):
        a = bars[i:i + block]
        if any(a) and a == bars[i + block:i + 2 * block] == bars[i + 2 * block:i + 3 * block]:
            return True
    return False


def in_key_rate(pitch: np.ndarray, pitch_classes: np.ndarray | None = None,
                weight: np.ndarray | None = None) -> float:
    """Share of notes whose pitch class is in ``pitch_classes`` (default: the scale of the
    key inferred from the notes themselves)."""
    pitch = np.asarray(pitch, np.int64)
    if not pitch.size:
        return 0.0
    if pitch_classes is None:
        key = infer_key(pitch, weight)
        if key is None:
            return 1.0
        pitch_classes = scale_pitch_classes(*key)
    return float(np.isin(pitch % 12, pitch_classes).mean())


def structure_features(tune: Tune) -> dict[str, float]:
    """Per piece: ``repeat_fraction`` (bars after the first equal to an earlier bar),
    ``longest_repeat_bars`` (1, 2, 4, 8 or 0), ``new_bars`` and ``in_key_rate`` of all its
    pitched notes, in the tune's first time signature."""
    tracks = [t for t in tune.tracks if not t.is_drum and len(t)]
    bar_beats = tune.time_signatures[0].bar_beats if tune.time_signatures else 4.0
    cat = (lambda attr: np.concatenate([getattr(t, attr) for t in tracks]) if tracks else np.zeros(0))
    return notes_structure(cat("pitch"), cat("start_beats"), cat("end_beats"), bar_beats)


def notes_structure(pitch: np.ndarray, start_beats: np.ndarray, end_beats: np.ndarray,
                    bar_beats: float) -> dict[str, float]:
    """:func:`structure_features` of notes (pitch, onset and offset in beats)."""
    if not len(pitch):
        return {"repeat_fraction": 0.0, "longest_repeat_bars": 0.0, "new_bars": 0.0,
                "in_key_rate": 0.0}
    bars = tune_bars(pitch, start_beats, end_beats, bar_beats)
    return {"repeat_fraction": repeat_fraction(bars), "longest_repeat_bars": float(longest_repeat(bars)),
            "new_bars": float(new_bars(bars)),
            "in_key_rate": in_key_rate(pitch, None, end_beats - start_beats)}
