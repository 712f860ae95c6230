"""Per-piece features for comparing sets of tunes.

The features of Yang & Lerch, "On the evaluation of generative models in music" (2020) -- pitch
count, pitch-class histogram and transition matrix, pitch range, average pitch interval, note
count, average inter-onset interval, note-length histogram and transition matrix -- and four
of MusPy's (Dong et al. 2020): scale consistency, pitch-class entropy, empty-beat rate and
polyphony rate -- and four of form (:mod:`melodyrnn.music.structure`): the share of bars that
repeat an earlier bar, the longest repeated phrase (1, 2, 4, 8 bars), the number of new bars
and the in-key rate. A piece is the notes of a :class:`~melodyrnn.music.notes.Tune` (drums left out),
times in quarter-note beats.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.music.keys import scale_pitch_classes
from melodyrnn.music.notes import Tune
from melodyrnn.music.structure import notes_structure

__all__ = ["FEATURES", "piece_features", "pitched_notes", "NOTE_LENGTH_BEATS"]

# Yang & Lerch's 12 note-length classes, in quarter-note beats: whole, half, quarter, 8th, 16th;
# dotted half, quarter, 8th, 16th; half-, quarter- and 8th-note triplets
NOTE_LENGTH_BEATS = np.array([4, 2, 1, 0.5, 0.25, 3, 1.5, 0.75, 0.375, 4 / 3, 2 / 3, 1 / 3])
POLYPHONY_GRID = 12  # time steps per beat for the polyphony rate

FEATURES = ("pitch_count", "pitch_class_histogram", "pitch_class_transition_matrix",
            "pitch_range", "average_pitch_interval", "note_count",
            "average_inter_onset_interval", "note_length_histogram",
            "note_length_transition_matrix", "scale_consistency", "pitch_class_entropy",
            "empty_beat_rate", "polyphony_rate",
            "repeat_fraction", "longest_repeat_bars", "new_bars", "in_key_rate")


def pitched_notes(tune: Tune) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch, onset and offset (beats) of all pitched notes, sorted by onset then pitch."""
    tracks = [t for t in tune.tracks if not t.is_drum and len(t)]
    if not tracks:
        return np.zeros(0, int), np.zeros(0), np.zeros(0)
    pitch = np.concatenate([t.pitch for t in tracks]).astype(np.int64)
    start = np.concatenate([t.start_beats for t in tracks])
    end = np.concatenate([t.end_beats for t in tracks])
    order = np.lexsort((pitch, start))
    return pitch[order], start[order], end[order]


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def _transitions(classes: np.ndarray, n: int) -> np.ndarray:
    m = np.zeros((n, n))
    if len(classes) > 1:
        np.add.at(m, (classes[:-1], classes[1:]), 1)
    return _normalised(m)


def piece_features(tune: Tune) -> dict[str, np.ndarray]:
    """Every feature of :data:`FEATURES` for one tune, as float arrays (scalars have shape ())."""
    pitch, start, end = pitched_notes(tune)
    n = len(pitch)
    pc = pitch % 12
    pc_hist = _normalised(np.bincount(pc, minlength=12).astype(np.float64))
    length_class = np.abs((end - start)[:, None] - NOTE_LENGTH_BEATS[None, :]).argmin(axis=1)
    onsets = np.unique(start)
    entropy = -(pc_hist[pc_hist > 0] * np.log2(pc_hist[pc_hist > 0])).sum()
    f = {
        "pitch_count": len(np.unique(pitch)),
        "pitch_class_histogram": pc_hist,
        "pitch_class_transition_matrix": _transitions(pc, 12),
        "pitch_range": int(pitch.max() - pitch.min()) if n else 0,
        "average_pitch_interval": float(np.abs(np.diff(pitch)).mean()) if n > 1 else 0.0,
        "note_count": n,
        "average_inter_onset_interval": float(np.diff(onsets).mean()) if len(onsets) > 1 else 0.0,
        "note_length_histogram": _normalised(np.bincount(length_class, minlength=12).astype(float)),
        "note_length_transition_matrix": _transitions(length_class, 12),
        "scale_consistency": _scale_consistency(pc),
        "pitch_class_entropy": float(entropy),
        "empty_beat_rate": _empty_beat_rate(start, end),
        "polyphony_rate": _polyphony_rate(start, end),
        **notes_structure(pitch, start, end, tune.time_signatures[0].bar_beats
                          if tune.time_signatures else 4.0),
    }
    return {k: np.asarray(v, dtype=np.float64) for k, v in f.items()}


def _scale_consistency(pc: np.ndarray) -> float:
    """Largest share of notes inside one of the 24 major and minor scales (MusPy)."""
    if not len(pc):
        return 0.0
    counts = np.bincount(pc, minlength=12)
    best = max(counts[scale_pitch_classes(root, minor)].sum() for root in range(12)
               for minor in (False, True))
    return float(best / len(pc))


def _empty_beat_rate(start: np.ndarray, end: np.ndarray) -> float:
    """Share of beats (from 0 to the last offset) during which no note sounds (MusPy)."""
    if not len(start):
        return 0.0
    beats = int(np.ceil(end.max()))
    covered = np.zeros(beats + 1, dtype=np.int64)
    first = np.floor(start).astype(np.int64)
    last = np.maximum(np.ceil(end).astype(np.int64) - 1, first)
    np.add.at(covered, first, 1)
    np.add.at(covered, last + 1, -1)
    return float((np.cumsum(covered)[:beats] == 0).mean()) if beats else 0.0


def _polyphony_rate(start: np.ndarray, end: np.ndarray) -> float:
    """Share of time steps (1/12 beat) from the first onset to the last offset in which more
    than one note sounds (MusPy)."""
    if not len(start):
        return 0.0
    a = np.round(start * POLYPHONY_GRID).astype(np.int64)
    b = np.maximum(np.round(end * POLYPHONY_GRID).astype(np.int64), a + 1)
    origin, steps = a.min(), b.max() - a.min()
    sounding = np.zeros(steps + 1, dtype=np.int64)
    np.add.at(sounding, a - origin, 1)
    np.add.at(sounding, b - origin, -1)
    return float((np.cumsum(sounding)[:steps] > 1).mean())
