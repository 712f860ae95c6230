"""Tunes built directly in code (no MIDI file) for quantisation and encoding tests."""

import numpy as np

from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune


def track(notes, name="t", program=0, is_drum=False) -> Track:
    """notes: (pitch, start_beats, end_beats[, velocity]); 120 qpm seconds."""
    notes = sorted(notes, key=lambda n: n[1])
    pitch = np.array([n[0] for n in notes], np.int16)
    start = np.array([n[1] for n in notes], np.float64)
    end = np.array([n[2] for n in notes], np.float64)
    vel = np.array([n[3] if len(n) > 3 else 90 for n in notes], np.int16)
    return Track(name, program, is_drum, pitch, vel, start, end, start / 2, end / 2)


def tune(*tracks, ts=((0.0, 4, 4),), qpm=120.0) -> Tune:
    return Tune(list(tracks), [TempoChange(0.0, qpm)],
                [TimeSignature(b, n, d) for b, n, d in ts])
