"""Tunes built directly in code (no MIDI file), for any test that needs one."""

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


def motif_tune(seed: int) -> Tune:
    """Eight bars of 4/4: a two-bar motif, repeated with small random changes."""
    rng = np.random.default_rng(seed)
    motif = 60 + rng.choice([0, 2, 4, 5, 7, 9], size=8)
    pitches = np.concatenate([motif + (12 if i == 2 else 0) for i in range(4)])
    pitches[rng.integers(0, 32)] += 2
    start = np.arange(32) * 1.0
    track = Track("lead", 0, False, pitches.astype(np.int16), np.full(32, 90, np.int16),
                  start, start + 0.75, start / 2, (start + 0.75) / 2)
    return Tune([track], [TempoChange(0.0, 120.0)], [TimeSignature(0.0, 4, 4)])


def voice(name, notes, program=52):
    """A track of (pitch, start beat, end beat) notes."""
    p = np.array([n[0] for n in notes], np.int16)
    s, e = np.array([n[1] for n in notes], float), np.array([n[2] for n in notes], float)
    return Track(name, program, False, p, np.full(len(p), 80, np.int16), s, e, s / 2, e / 2)


def chorale(seed: int, bars: int = 4) -> Tune:
    """Four voices in 4/4, quarters and eighths, each in its own range; repeated notes too."""
    rng = np.random.default_rng(seed)
    tracks = []
    for name, low in (("Soprano", 64), ("Alto", 57), ("Tenor", 50), ("Bass", 40)):
        notes, t = [], 0.0
        while t < bars * 4:
            d = float(rng.choice([0.5, 1.0, 1.0, 2.0]))
            notes.append((int(low + rng.integers(0, 10)), t, min(t + d, bars * 4)))
            t += d
        tracks.append(voice(name, notes))
    return Tune(tracks, [TempoChange(0.0, 96.0)], [TimeSignature(0.0, 4, 4)])
