"""Labelled multi-track files for measuring melody-track choice, built in code.

- :func:`bury` puts a tune inside a generated arrangement -- block chords, an
  arpeggiated chord track with more notes than the tune (often above it), a bass line,
  drums, sometimes a harmony line a third below and a percussive loop on a melodic
  channel -- with generic track names ("Track 3", "") and shuffled order.
- :func:`anonymise` strips names from a chorale's voices and shuffles them.
- :func:`random_tune` and :func:`random_chorale` make tunes when no corpus is at hand.

Each returns ``(tune, label)``: the index of the melody track. Used by
``benchmarks/tracks.py`` and ``tests/test_tracks.py``.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.music.keys import infer_key, scale_pitch_classes
from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune

__all__ = ["bury", "anonymise", "random_tune", "random_chorale"]

_MELODY_PROGRAMS = (0, 40, 73, 56, 65, 22, 24, 71, 68, 80, 11, 0, 0)
_CHORD_PROGRAMS = (0, 4, 24, 25, 48, 49, 16, 19, 0, 0)


def _track(notes, name="", program=0, is_drum=False, qpm=120.0) -> Track:
    notes = sorted(notes, key=lambda n: (n[1], -n[0]))
    cols = np.array(notes, dtype=np.float64).reshape(-1, 4)
    start, end = cols[:, 1], cols[:, 2]
    return Track(name, program, is_drum, cols[:, 0].astype(np.int16), cols[:, 3].astype(np.int16),
                 start, end, start * 60 / qpm, end * 60 / qpm)


def random_tune(rng: np.random.Generator, bars: int = 16, bar_beats: float = 4.0) -> Track:
    """A stepwise tune in a random major or minor key, in mixed note values."""
    tonic, minor = int(rng.integers(12)), bool(rng.random() < 0.4)
    scale = scale_pitch_classes(tonic, minor)
    degrees = [60 + o * 12 + pc for o in range(-1, 3) for pc in sorted(scale) if 62 <= 60 + o * 12 + pc <= 86]
    idx, t, notes = int(rng.integers(4, len(degrees) - 4)), 0.0, []
    values = (0.5, 0.5, 1.0, 1.0, 0.25, 1.5, 2.0)
    while t < bars * bar_beats - 1e-9:
        dur = min(float(rng.choice(values)), bars * bar_beats - t)
        notes.append((degrees[idx], t, t + dur, 90))
        move = rng.choice((-2, -1, -1, -1, -1, 0, 1, 1, 1, 1, 2, 3, -3, -4))  # scale degrees
        idx = int(np.clip(idx + move, 0, len(degrees) - 1))
        t += dur
    return _track(notes, "melody", 0)


def _chords(melody: Track, bar_beats: float, bars: int):
    """A diatonic triad per bar that best covers the melody's notes in it."""
    key = infer_key(melody.pitch, melody.end_beats - melody.start_beats) or (0, False)
    scale = sorted(scale_pitch_classes(*key).tolist())
    triads = [(scale[i], scale[(i + 2) % 7], scale[(i + 4) % 7]) for i in range(7)]
    out = []
    for b in range(bars):
        sel = (melody.start_beats >= b * bar_beats) & (melody.start_beats < (b + 1) * bar_beats)
        w = np.bincount(melody.pitch[sel] % 12, weights=(melody.end_beats - melody.start_beats)[sel],
                        minlength=12)
        out.append(max(triads, key=lambda tr: (w[list(tr)].sum(), tr == triads[0])))
    return out


def _voice(pc: int, low: int) -> int:
    return low + (pc - low) % 12


def bury(melody: Track, bar_beats: float, rng: np.random.Generator, qpm: float = 120.0
         ) -> tuple[Tune, int]:
    """The tune in a generated arrangement; returns (tune, index of the tune's track)."""
    bars = int(np.ceil(melody.end_beats.max() / bar_beats))
    chords = _chords(melody, bar_beats, bars)
    top = int(melody.pitch.max())
    tracks = []
    # block chords, on each beat or held for the bar
    low = int(rng.choice((52, 55, 60, 64)))
    hit = bar_beats if rng.random() < 0.5 else 1.0
    block = [(_voice(pc, low), b * bar_beats + k * hit, b * bar_beats + (k + 1) * hit, 70)
             for b, ch in enumerate(chords) for k in range(int(bar_beats / hit)) for pc in ch]
    tracks.append(_track(block, program=int(rng.choice(_CHORD_PROGRAMS)), qpm=qpm))
    # arpeggio: more notes than the tune, often above it
    step = 0.25 if rng.random() < 0.6 else 0.5
    arp_low = int(rng.choice((55, 60, 64, min(top + 1, 84))))
    pattern = rng.permutation(4) if rng.random() < 0.5 else np.array([0, 1, 2, 3])
    arp = []
    for b, ch in enumerate(chords):
        tones = sorted(_voice(pc, arp_low) for pc in ch) + [sorted(_voice(pc, arp_low) for pc in ch)[0] + 12]
        for k in range(int(bar_beats / step)):
            arp.append((tones[pattern[k % 4]], b * bar_beats + k * step, b * bar_beats + (k + 1) * step, 65))
    tracks.append(_track(arp, program=int(rng.choice(_CHORD_PROGRAMS)), qpm=qpm))
    # bass: roots, sometimes on piano's program
    bass = []
    for b, ch in enumerate(chords):
        for k in range(int(bar_beats)):
            pc = ch[0] if k % 2 == 0 else ch[2]
            bass.append((_voice(pc, 36), b * bar_beats + k, b * bar_beats + k + 1, 80))
    tracks.append(_track(bass, program=int(rng.choice((32, 33, 34, 0, 43))), qpm=qpm))
    # drums on channel 10
    kit = [(36 if k % 2 == 0 else 38, b * bar_beats + k, b * bar_beats + k + 0.5, 100)
           for b in range(bars) for k in range(int(bar_beats))]
    kit += [(42, b * bar_beats + k * 0.5, b * bar_beats + k * 0.5 + 0.25, 60)
            for b in range(bars) for k in range(int(bar_beats * 2))]
    tracks.append(_track(kit, is_drum=True, qpm=qpm))
    if rng.random() < 0.3:  # a harmony line a diatonic third below the tune
        key = infer_key(melody.pitch, melody.end_beats - melody.start_beats) or (0, False)
        scale = set(scale_pitch_classes(*key).tolist())
        third = [int(p) - (3 if (int(p) - 3) % 12 in scale else 4) for p in melody.pitch]
        tracks.append(_track(list(zip(third, melody.start_beats, melody.end_beats,
                                      [70] * len(third))),
                             program=int(rng.choice(_MELODY_PROGRAMS)), qpm=qpm))
    if rng.random() < 0.3:  # a percussion loop on a melodic channel (agogo, woodblock)
        loop = [(int(rng.choice((76, 77))), b * bar_beats + k * 0.5, b * bar_beats + k * 0.5 + 0.25, 90)
                for b in range(bars) for k in range(int(bar_beats * 2))]
        tracks.append(_track(loop, program=int(rng.choice((113, 115, 116, 0))), qpm=qpm))
    tune_track = Track("", int(rng.choice(_MELODY_PROGRAMS)), False, melody.pitch, melody.velocity,
                       melody.start_beats, melody.end_beats, melody.start_seconds, melody.end_seconds)
    tracks.append(tune_track)
    order = rng.permutation(len(tracks))
    generic = rng.random() < 0.5
    named = [Track(f"Track {i + 1}" if generic else "", *_fields(tracks[j]))
             for i, j in enumerate(order)]
    label = int(np.flatnonzero(order == len(tracks) - 1)[0])
    num = int(round(bar_beats * 2)) if bar_beats != int(bar_beats) else int(bar_beats)
    den = 8 if bar_beats != int(bar_beats) else 4
    return Tune(named, [TempoChange(0.0, qpm)], [TimeSignature(0.0, num, den)]), label


def _fields(t: Track) -> tuple:
    return (t.program, t.is_drum, t.pitch, t.velocity, t.start_beats, t.end_beats,
            t.start_seconds, t.end_seconds)


def anonymise(chorale: Tune, soprano: int, rng: np.random.Generator, keep_names: bool = False
              ) -> tuple[Tune, int]:
    """The chorale's voices shuffled, named "Track N" (unless ``keep_names``), all on one
    program; returns (tune, index of the soprano)."""
    voices = [t for t in chorale.tracks if len(t)]
    order = rng.permutation(len(voices))
    program = int(rng.choice((0, 19, 52, 48, 73)))
    tracks = [Track(voices[j].name if keep_names else f"Track {i + 1}", program,
                    *_fields(voices[j])[1:]) for i, j in enumerate(order)]
    src = [i for i, t in enumerate(chorale.tracks) if len(t)].index(soprano)
    return (Tune(tracks, chorale.tempos, chorale.time_signatures, chorale.key_signatures,
                 chorale.ticks_per_quarter), int(np.flatnonzero(order == src)[0]))


def random_chorale(rng: np.random.Generator, bars: int = 8) -> tuple[Tune, int]:
    """Four voices in block harmony, the soprano's tune on top; the tenor moves in
    eighths (more notes than the soprano). Returns (tune, index of the soprano)."""
    tune = random_tune(rng, bars, 4.0)
    sop = [(int(p), a, b) for p, a, b in zip(tune.pitch, tune.start_beats, tune.end_beats)]
    chords = _chords(tune, 4.0, bars)
    alto, tenor, bass = [], [], []
    for b, ch in enumerate(chords):
        for k in range(4):
            t = b * 4 + k
            ceiling = max([p for p, a, e in sop if a <= t < e] or [72])
            alto.append((max(_voice(ch[1], 55), min(_voice(ch[1], 55), ceiling - 3)), t, t + 1, 80))
            tn = _voice(ch[2], 50)
            second = tn + int(rng.choice((2, -1, 3, 4, -3, 5)))  # a neighbour or another chord tone
            tenor += [(tn, t, t + 0.5, 80), (second, t + 0.5, t + 1, 80)]
            bass.append((_voice(ch[0], 38), t, t + 1, 80))
    voices = [_track([(p, a, b, 90) for p, a, b in sop]), _track(alto), _track(tenor), _track(bass)]
    return anonymise(Tune(voices), 0, rng)
