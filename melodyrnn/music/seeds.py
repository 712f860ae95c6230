"""From what the user gives to a primer: a seed file's window of bars, or typed pitches.

A long seed is not the primer whole: ``primer_bars`` bars before the continuation point
are (the last bars of the seed by default, or those before ``from_bar``). The output then
starts with those bars, so the new music begins a few bars in, where it is easy to find.
Bars are counted from 1 at the start of the seed, in its first time signature.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from melodyrnn.music.keys import parse_pitch
from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune
from melodyrnn.music.quantize import ExtractConfig, Melody, bar_steps, extract_melodies
from melodyrnn.music.tracks import pick_melody_track

__all__ = ["SeedWindow", "parse_primer", "parse_pitch", "seed_window", "primer_window"]

def parse_primer(text: str) -> list[int]:
    """Pitches separated by spaces or commas: MIDI numbers or note names."""
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise ValueError("--primer: give pitches, e.g. \"62 64 66\" or \"D4 E4 F#4\"")
    return [parse_pitch(t) for t in tokens]


@dataclass
class SeedWindow:
    """The primer cut from a seed, and where it lies in the seed.

    Attributes
    ----------
    melody : Melody
        The primer on the grid; step 0 is its first bar line.
    notes : Track
        The seed track's own notes in the window, in beats from the window start.
    context : Tune
        Tempo, time and key signatures from the window start on (shifted to beat 0).
    track_index : int or None
        Index of the seed track used (None for a typed primer).
    first_bar, cut_bar, seed_bars : int
        Bar where the primer starts, bar where the continuation starts, bars in the
        seed (1-based; ``cut_bar = seed_bars + 1`` continues after the seed's end).
    """

    melody: Melody
    notes: Track
    context: Tune
    track_index: int | None = None
    first_bar: int = 1
    cut_bar: int = 1
    seed_bars: int = 0

    @property
    def primer_beats(self) -> float:
        return self.melody.length_steps / self.melody.steps_per_quarter


def _from(events: list, beat: float, default) -> list:
    """Events in effect from ``beat`` on, shifted so that ``beat`` becomes 0."""
    before = [e for e in events if e.beat <= beat + 1e-9]
    later = [e for e in events if e.beat > beat + 1e-9]
    first = [replace(e, beat=0.0) for e in before[-1:]] or default
    return first + [replace(e, beat=e.beat - beat) for e in later]


def _context(seed: Tune, start_beats: float) -> Tune:
    return Tune([], _from(seed.tempos, start_beats, [TempoChange(0.0, 120.0)]),
                _from(seed.time_signatures, start_beats, [TimeSignature(0.0, 4, 4)]),
                _from(seed.key_signatures, start_beats, []), seed.ticks_per_quarter)


def seed_window(seed: Tune, spq: int, primer_bars: int = 8, from_bar: int | None = None,
                track: str | None = None) -> SeedWindow:
    """The primer of a seed tune: ``primer_bars`` bars (0: all) before bar ``from_bar``
    (default: after the seed's last bar) of its melody track (``track`` or chosen)."""
    index, chosen = pick_melody_track(seed, track)
    one = Tune([chosen], seed.tempos, seed.time_signatures)
    whole = ExtractConfig(spq, gap_bars=1e9, min_notes=1, min_unique_pitches=1)
    (full,), _ = extract_melodies(one, whole)
    bar = full.steps_per_bar
    end = full.offset_steps + full.length_steps
    seed_bars = -(-end // bar)
    if from_bar is not None and not 1 <= from_bar <= seed_bars + 1:
        raise ValueError(f"--from-bar {from_bar}: the seed has {seed_bars} bars "
                         f"(continue from bar 1 to {seed_bars + 1})")
    cut = (from_bar - 1) * bar if from_bar is not None else seed_bars * bar
    start = max(cut - primer_bars * bar, 0) if primer_bars else 0
    start = min(max(start, full.offset_steps // bar * bar), cut)  # no empty bars before the tune
    onset = full.start_steps + full.offset_steps
    sel = (onset >= start) & (onset < cut)
    melody = Melody(full.pitch[sel], onset[sel] - start,
                    np.minimum(full.end_steps[sel] + full.offset_steps, cut) - start,
                    full.velocity[sel], cut - start, spq, bar, 0, chosen.program)
    a, b = start / spq, cut / spq
    keep = (chosen.start_beats >= a - 1e-9) & (chosen.start_beats < b - 1e-9)
    starts, ends = chosen.start_beats[keep] - a, np.minimum(chosen.end_beats[keep], b) - a
    context = _context(seed, a)
    notes = Track(chosen.name, chosen.program, False, chosen.pitch[keep], chosen.velocity[keep],
                  starts, ends, context.beats_to_seconds(starts), context.beats_to_seconds(ends))
    return SeedWindow(melody, notes, context, index, start // bar + 1, cut // bar + 1, seed_bars)


def primer_window(pitches: list[int] | None, spq: int) -> SeedWindow:
    """A typed primer (one quarter note per pitch, 4/4, 120 qpm), or none at all."""
    context = Tune()
    bar = bar_steps(4, 4, spq)
    pitches = pitches or []
    start = np.arange(len(pitches)) * spq
    length = -(-len(pitches) * spq // bar) * bar
    melody = Melody(np.asarray(pitches, np.int64), start, start + spq, length_steps=length,
                    steps_per_quarter=spq, steps_per_bar=bar)
    beats = start / spq
    notes = Track("melody", 0, False, melody.pitch, np.full(len(pitches), 90, np.int16), beats,
                  beats + 1.0, context.beats_to_seconds(beats), context.beats_to_seconds(beats + 1))
    bars = length // bar
    return SeedWindow(melody, notes, context, None, 1, bars + 1, bars)

