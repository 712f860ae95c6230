"""Quantisation to a beat grid and monophonic melody extraction.

Everything here works on whole batches of tunes at once with numpy (one pass over the
concatenated notes of many files), because per-file Python overhead is what limits ingest
speed; a single tune is a batch of one. Times are in grid steps (``*_steps``):
``steps_per_quarter`` steps per quarter-note beat, read from the file's own ticks, never
from seconds at an assumed tempo.

Extraction rules, applied per non-drum track:

1. onsets and offsets snap to the nearest step; a note that collapses to zero length
   keeps one step (counted as ``notes_lengthened``);
2. of notes sharing an onset the highest is kept (skyline; ``notes_simultaneous_dropped``)
   -- Magenta drops the whole track here;
3. a later onset cuts a still-sounding note (``notes_truncated``);
4. a rest longer than ``gap_bars`` bars ends a melody (``melodies_split_at_rest``);
5. melodies with fewer than ``min_notes`` notes or ``min_unique_pitches`` distinct
   pitches are dropped (``melodies_too_short``, ``melodies_too_few_pitches``).

Each melody starts on the bar line at or before its first note, so step ``0`` of a
melody is a downbeat of the tune's real time signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from melodyrnn.music.limits import AT_LEAST_ONE, STEPS_PER_QUARTER, check_ints, check_positive
from melodyrnn.music.notes import Tune, TuneBatch

__all__ = ["ExtractConfig", "Melody", "MelodyBatch", "extract_melodies", "extract_melody_batch",
           "quantize_beats", "bar_steps"]


@dataclass(frozen=True)
class ExtractConfig:
    """How melodies are cut out of tunes (see the module docstring)."""

    steps_per_quarter: int = 4
    gap_bars: float = 1.0
    min_notes: int = 8
    min_unique_pitches: int = 5

    def __post_init__(self) -> None:
        check_ints(self, {"steps_per_quarter": STEPS_PER_QUARTER, "min_notes": AT_LEAST_ONE,
                          "min_unique_pitches": AT_LEAST_ONE})
        check_positive("gap_bars", self.gap_bars)


@dataclass
class Melody:
    """A monophonic melody on a step grid.

    Parameters
    ----------
    pitch, velocity : ndarray of int
        Per note, in time order; notes never overlap.
    start_steps, end_steps : ndarray of int64
        Per note, in steps from the melody's first step (a bar line).
    length_steps : int
        Total length in steps (at least the last offset).
    steps_per_quarter : int
        Grid resolution.
    steps_per_bar : int
        Bar length in steps from the tune's time signature.
    offset_steps : int
        Where step 0 of the melody lies in the source tune, in steps.
    program : int
        General MIDI program of the source track.
    """

    pitch: np.ndarray
    start_steps: np.ndarray
    end_steps: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    length_steps: int = 0
    steps_per_quarter: int = 4
    steps_per_bar: int = 16
    offset_steps: int = 0
    program: int = 0

    def __post_init__(self) -> None:
        self.pitch = np.asarray(self.pitch, dtype=np.int16)
        self.start_steps = np.asarray(self.start_steps, dtype=np.int64)
        self.end_steps = np.asarray(self.end_steps, dtype=np.int64)
        if self.velocity.shape[0] != self.pitch.shape[0]:
            self.velocity = np.full(self.pitch.shape[0], 100, dtype=np.int16)
        if self.pitch.shape[0]:
            self.length_steps = max(int(self.length_steps), int(self.end_steps[-1]))

    def __len__(self) -> int:
        return int(self.pitch.shape[0])

    def same_notes(self, other: "Melody") -> bool:
        """True when both hold the same pitches, onsets and offsets (velocities aside)."""
        return (np.array_equal(self.pitch, other.pitch)
                and np.array_equal(self.start_steps, other.start_steps)
                and np.array_equal(self.end_steps, other.end_steps))


@dataclass
class MelodyBatch:
    """Many melodies as flat arrays: note arrays sorted by ``note_melody`` then onset."""

    pitch: np.ndarray
    velocity: np.ndarray
    start_steps: np.ndarray  # relative to the melody's first step
    end_steps: np.ndarray
    note_melody: np.ndarray  # melody index of each note
    length_steps: np.ndarray  # per melody
    steps_per_bar: np.ndarray  # per melody
    offset_steps: np.ndarray  # per melody, in the source tune
    melody_tune: np.ndarray  # per melody: index of the source tune in the batch
    program: np.ndarray  # per melody
    steps_per_quarter: int = 4

    @property
    def n_melodies(self) -> int:
        return int(self.length_steps.shape[0])

    def melodies(self) -> list[Melody]:
        """Split into :class:`Melody` objects."""
        bounds = np.searchsorted(self.note_melody, np.arange(self.n_melodies + 1))
        return [
            Melody(self.pitch[a:b], self.start_steps[a:b], self.end_steps[a:b], self.velocity[a:b],
                   int(self.length_steps[m]), self.steps_per_quarter, int(self.steps_per_bar[m]),
                   int(self.offset_steps[m]), int(self.program[m]))
            for m, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))
        ]


def quantize_beats(beats: np.ndarray, steps_per_quarter: int) -> np.ndarray:
    """Snap quarter-note beats to the nearest grid step (halves round up)."""
    return np.floor(np.asarray(beats) * steps_per_quarter + 0.5).astype(np.int64)


def bar_steps(numerator, denominator, steps_per_quarter: int):
    """Bar length in steps, at least 1 (6/8 at 4 steps per quarter -> 12).

    Takes ints (returns an int) or arrays of numerators and denominators (returns an array).
    """
    steps = np.maximum(1, np.rint(np.asarray(numerator) * 4 * steps_per_quarter
                                  / np.asarray(denominator))).astype(np.int64)
    return int(steps) if steps.ndim == 0 else steps


def _flatten(tunes: TuneBatch, spq: int) -> dict[str, np.ndarray]:
    """Quantised notes of all non-drum tracks, with the bar grid in force at each note."""
    nt = tunes.n_tunes
    drum_note = tunes.track_is_drum[tunes.note_track]
    melodic = ~drum_note
    out = {"start": quantize_beats(tunes.start_beats[melodic], spq),
           "end": quantize_beats(tunes.end_beats[melodic], spq),
           "pitch": tunes.pitch[melodic], "velocity": tunes.velocity[melodic],
           "group": tunes.note_track[melodic]}
    first = [s[0] for s in tunes.time_signatures]
    first_bar = bar_steps(np.array([s.numerator for s in first], np.int64),
                          np.array([s.denominator for s in first], np.int64), spq)
    note_tune = tunes.track_tune[out["group"]]
    out["bar"] = first_bar[note_tune]
    out["origin"] = np.zeros(out["start"].shape[0], np.int64)
    for ti in [i for i, s in enumerate(tunes.time_signatures) if len(s) > 1]:
        sigs = tunes.time_signatures[ti]  # bar length and bar-line origin of the signature in force
        sig_steps = quantize_beats([s.beat for s in sigs], spq)
        bars = bar_steps(np.array([s.numerator for s in sigs]),
                         np.array([s.denominator for s in sigs]), spq)
        mine = np.flatnonzero(note_tune == ti)
        idx = np.clip(np.searchsorted(sig_steps, out["start"][mine], side="right") - 1, 0, None)
        out["bar"][mine], out["origin"][mine] = bars[idx], sig_steps[idx]
    out["group_tune"] = tunes.track_tune
    out["group_program"] = tunes.track_program
    out["drum_tracks"] = np.bincount(tunes.track_tune[tunes.track_is_drum], minlength=nt)
    return out


def _per_tune(counts_mask: np.ndarray, note_tune: np.ndarray, n_tunes: int) -> np.ndarray:
    return np.bincount(note_tune[counts_mask[:note_tune.shape[0]]], minlength=n_tunes)


def extract_melody_batch(tunes: list[Tune] | TuneBatch, config: ExtractConfig = ExtractConfig()
                         ) -> tuple[MelodyBatch, dict[str, np.ndarray]]:
    """Extract the melodies of many tunes in one vectorised pass.

    Returns
    -------
    batch : MelodyBatch
        All kept melodies, ordered by tune, then track, then time.
    stats : dict of str to ndarray
        Per tune (one entry per input tune), the count of every alteration and drop.
    """
    tunes = TuneBatch.of(tunes)
    spq, nt = config.steps_per_quarter, tunes.n_tunes
    f = _flatten(tunes, spq)
    stats = {"drum_tracks_skipped": f["drum_tracks"]}
    on, off, pitch, vel, group = f["start"], f["end"], f["pitch"], f["velocity"], f["group"]
    bar, origin = f["bar"], f["origin"]
    note_tune = f["group_tune"][group]

    short = off <= on
    stats["notes_lengthened"] = _per_tune(short, note_tune, nt)
    off = np.where(short, on + 1, off)

    # sort by track, onset, highest pitch first; keep the first note of each onset (skyline)
    # one int64 key (track, onset, -pitch); notes arrive nearly sorted, so a stable sort is fast
    key = (group << 40) | (on.astype(np.int64) << 8) | (255 - pitch.astype(np.int64))
    order = np.argsort(key, kind="stable")
    on, off, pitch, vel, group, bar, origin, note_tune = (
        a[order] for a in (on, off, pitch, vel, group, bar, origin, note_tune))
    keep = np.ones(on.shape[0], bool)
    keep[1:] = (on[1:] != on[:-1]) | (group[1:] != group[:-1])
    stats["notes_simultaneous_dropped"] = _per_tune(~keep, note_tune, nt)
    on, off, pitch, vel, group, bar, origin, note_tune = (
        a[keep] for a in (on, off, pitch, vel, group, bar, origin, note_tune))

    # a later onset in the same track cuts a still-sounding note
    same_track = group[1:] == group[:-1]
    cut = same_track & (off[:-1] > on[1:])
    off[:-1][cut] = on[1:][cut]
    stats["notes_truncated"] = _per_tune(np.append(cut, False), note_tune, nt)

    # melodies end at track changes and at rests longer than gap_bars
    long_rest = same_track & ((on[1:] - off[:-1]) > config.gap_bars * bar[1:])
    stats["melodies_split_at_rest"] = _per_tune(np.append(long_rest, False), note_tune, nt)
    starts_new = np.ones(on.shape[0], bool)
    starts_new[1:] = ~same_track | long_rest
    seg = np.cumsum(starts_new) - 1
    first = np.flatnonzero(starts_new)
    n_seg = first.shape[0]
    last = np.append(first[1:], on.shape[0])[:n_seg] - 1
    n_notes = np.bincount(seg, minlength=n_seg)
    seen = np.zeros((n_seg, 128), bool)  # (melody, pitch) occupancy
    seen[seg, pitch] = True
    n_unique = seen.sum(axis=1)

    seg_tune = note_tune[first]
    too_short = n_notes < config.min_notes
    too_flat = ~too_short & (n_unique < config.min_unique_pitches)
    stats["melodies_too_short"] = np.bincount(seg_tune[too_short], minlength=nt)
    stats["melodies_too_few_pitches"] = np.bincount(seg_tune[too_flat], minlength=nt)
    kept_seg = ~(too_short | too_flat)

    seg_bar = bar[first]
    seg_start = origin[first] + ((on[first] - origin[first]) // seg_bar) * seg_bar
    kept_note = kept_seg[seg]
    new_index = np.cumsum(kept_seg) - 1
    note_melody = new_index[seg[kept_note]]
    rel = seg_start[seg[kept_note]]
    batch = MelodyBatch(
        pitch=pitch[kept_note], velocity=vel[kept_note],
        start_steps=on[kept_note] - rel, end_steps=off[kept_note] - rel,
        note_melody=note_melody,
        length_steps=(off[last] - seg_start)[kept_seg],
        steps_per_bar=seg_bar[kept_seg], offset_steps=seg_start[kept_seg],
        melody_tune=seg_tune[kept_seg],
        program=f["group_program"][group[first]][kept_seg] if n_seg else np.zeros(0, np.int64),
        steps_per_quarter=spq,
    )
    stats["melodies"] = np.bincount(batch.melody_tune, minlength=nt)
    return batch, stats


def extract_melodies(tune: Tune, config: ExtractConfig = ExtractConfig()
                     ) -> tuple[list[Melody], dict[str, int]]:
    """Extract the melodies of one tune; returns melodies and counts by reason."""
    batch, stats = extract_melody_batch([tune], config)
    return batch.melodies(), {k: int(v[0]) for k, v in stats.items()}
