"""Voices on a step grid: a frame per step with one token per voice, top voice first.

Each 16th-note step (``steps_per_quarter``) is a frame of ``voices`` tokens followed by a
separator: for every voice, ``ON_p`` (a note of pitch ``p`` starts), ``HOLD`` (its note goes
on) or ``REST``; then ``STEP``, or ``BAR`` when the frame ends a bar. Voices keep their place
in every frame, so the model always knows which voice it writes, a bar is a fixed number of
tokens (``steps_per_bar * (voices + 1)``, the period the lookback and bar-copy inputs use),
and a repeated note (``ON_p`` after ``ON_p``) differs from a held one (``HOLD``).

A tune whose pitched tracks are each monophonic on the grid, at most ``voices`` of them,
keeps one voice per track -- a four-part chorale round-trips exactly. Other music (a piano
part, chords in one track) is split into voices by pitch: at each step the new notes take the
free voices from the top down, held notes keep theirs; notes beyond the voices are dropped
and counted. Worked example, two voices, one bar of 2/16::

    soprano C5 for two steps, bass C3 then D3:
    <s> ON_72 ON_48 STEP HOLD ON_50 BAR </s>
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodyrnn.core.encoding import EncodedBatch, concat_ragged
from melodyrnn.core.vocab import BOS, EOS, Vocabulary
from melodyrnn.music.encodings.base import MusicEncoding, fold_pitches
from melodyrnn.music.limits import (AT_LEAST_ONE, CHORALE_MAX_STEPS, CHORALE_STEPS_PER_QUARTER, PITCH, VOICES,
                                     check_ints)
from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune, TuneBatch
from melodyrnn.music.quantize import bar_steps

__all__ = ["ChoraleConfig", "ChoraleEncoding", "REST", "HOLD", "STEP", "BAR", "ON0", "end_step", "window"]

REST, HOLD, STEP, BAR = 3, 4, 5, 6
ON0 = 7  # ON_p has id ON0 + p - min_pitch
_DROPS = ("notes_beyond_voices", "notes_truncated", "tunes_without_notes", "tunes_too_short")


@dataclass(frozen=True)
class ChoraleConfig:
    """Settings of the chorale encoding.

    Parameters
    ----------
    steps_per_quarter : int
        Grid steps per quarter note (4: 16th notes).
    voices : int
        Voices per frame, top first; tunes with fewer leave the lower voices at rest.
    min_pitch, max_pitch : int
        MIDI pitch range of the ``ON`` tokens; notes outside are folded in by octaves.
    min_notes : int
        Tunes with fewer notes are skipped.
    max_steps : int
        Longest tune kept, in steps (longer ones are cut there).
    """

    steps_per_quarter: int = 4
    voices: int = 4
    min_pitch: int = 28
    max_pitch: int = 96
    min_notes: int = 8
    max_steps: int = 4096

    def __post_init__(self) -> None:
        check_ints(self, {"steps_per_quarter": CHORALE_STEPS_PER_QUARTER, "voices": VOICES,
                          "min_pitch": PITCH, "max_pitch": PITCH, "min_notes": AT_LEAST_ONE,
                          "max_steps": CHORALE_MAX_STEPS})
        if self.max_pitch - self.min_pitch < 11:
            raise ValueError("the pitch window must span at least an octave (12 pitches)")


class ChoraleEncoding(MusicEncoding):
    """Frames of one token per voice (see the module docstring)."""

    name = "chorale"
    config_class = ChoraleConfig
    filler_ids = (HOLD, STEP, BAR)  # time passing, not events

    def _build_vocab(self) -> Vocabulary:
        c = self.config
        return Vocabulary.from_names(["REST", "HOLD", "STEP", "BAR"]
                                     + [f"ON_{p}" for p in range(c.min_pitch, c.max_pitch + 1)])

    @property
    def frame(self) -> int:
        """Tokens per step: one per voice and the separator."""
        return self.config.voices + 1

    def bar_tokens(self, tune: Tune) -> int:
        """Tokens per bar of ``tune`` (its first time signature; 4/4 without one)."""
        return self.steps_per_bar(tune) * self.frame

    def steps_per_bar(self, tune: Tune) -> int:
        ts = tune.time_signatures[0] if tune.time_signatures else TimeSignature(0.0, 4, 4)
        return bar_steps(ts.numerator, ts.denominator, self.config.steps_per_quarter)

    # -- voices --------------------------------------------------------------------------
    def voice_steps(self, tune: Tune) -> tuple[list[np.ndarray], dict[str, int]]:
        """Each voice's notes on the grid, top voice first: (V,) arrays of (on, off, pitch)
        rows, plus counts of what was dropped or cut."""
        voices, counts, _ = self.voices_of(tune)
        return voices, counts

    def voices_of(self, tune: Tune) -> tuple[list[np.ndarray], dict[str, int], list[Track | None]]:
        """:meth:`voice_steps` and the track each voice comes from (None for voices split
        from a polyphonic track, or left empty)."""
        c, counts = self.config, dict.fromkeys(_DROPS, 0)
        tracks = [t for t in tune.tracks if not t.is_drum and len(t)]
        grid = [self._grid(t) for t in tracks]
        if 1 <= len(tracks) <= c.voices and all(_monophonic(g) for g in grid):
            order = np.argsort([-np.mean(g[:, 2]) for g in grid], kind="stable")
            voices, sources = [grid[i] for i in order], [tracks[i] for i in order]
        else:
            voices = self._split_by_pitch(np.concatenate(grid) if grid else np.zeros((0, 3), np.int64),
                                          counts)
            sources = [None] * len(voices)
        out = []
        for v in voices:
            v, cut = _cut_overlaps(v)
            counts["notes_truncated"] += cut
            out.append(v)
        while len(out) < c.voices:
            out.append(np.zeros((0, 3), np.int64))
            sources.append(None)
        return out, counts, sources

    def _grid(self, track: Track) -> np.ndarray:
        spq, c = self.config.steps_per_quarter, self.config
        on = np.floor(track.start_beats * spq + 0.5).astype(np.int64)
        off = np.maximum(np.floor(track.end_beats * spq + 0.5).astype(np.int64), on + 1)
        rows = np.stack([on, off, fold_pitches(track.pitch, c.min_pitch, c.max_pitch)], axis=1)
        return rows[np.lexsort((-rows[:, 2], rows[:, 0]))]

    def _split_by_pitch(self, notes: np.ndarray, counts: dict) -> list[np.ndarray]:
        """Voices of polyphonic notes: new notes take the free voices from the top down."""
        V = self.config.voices
        busy_until = [0] * V
        voices: list[list] = [[] for _ in range(V)]
        notes = notes[np.lexsort((-notes[:, 2], notes[:, 0]))] if len(notes) else notes
        i = 0
        while i < len(notes):
            j = i
            while j < len(notes) and notes[j, 0] == notes[i, 0]:
                j += 1
            at = int(notes[i, 0])
            free = [v for v in range(V) if busy_until[v] <= at]
            group = notes[i:j]  # one onset, highest first
            if len(group) > len(free):  # keep the top and the bottom notes, drop inner ones
                group = np.concatenate((group[:max(len(free) - 1, 0)], group[-1:]))[:len(free)]
            for row, v in zip(group, _spread(len(group), free)):
                voices[v].append(row)
                busy_until[v] = int(row[1])
            counts["notes_beyond_voices"] += j - i - len(group)
            i = j
        return [np.asarray(v, np.int64).reshape(-1, 3) for v in voices]

    # -- encode --------------------------------------------------------------------------
    def encode_voices(self, voices: list[np.ndarray], steps_per_bar: int, n_steps: int | None = None
                      ) -> np.ndarray:
        """Frame tokens (no ``<s>``/``</s>``) of voices given as (on, off, pitch) rows."""
        c = self.config
        n_steps = end_step(voices) if n_steps is None else n_steps
        grid = np.full((n_steps, c.voices + 1), REST, np.int64)  # (steps, V + 1)
        for k, v in enumerate(voices[:c.voices]):
            for on, off, pitch in v.tolist():
                if on >= n_steps:
                    continue
                grid[on, k] = ON0 + pitch - c.min_pitch
                grid[on + 1:min(off, n_steps), k] = HOLD
        grid[:, -1] = STEP
        grid[steps_per_bar - 1::steps_per_bar, -1] = BAR
        return grid.reshape(-1)  # (steps * (V + 1),)

    def encode_tunes(self, tunes: list[Tune] | TuneBatch) -> EncodedBatch:
        if isinstance(tunes, TuneBatch):
            tunes = [tunes.tune(i) for i in range(tunes.n_tunes)]
        c = self.config
        seqs, seq_tune, seq_units, seq_bar = [], [], [], []
        stats = {k: np.zeros(len(tunes), np.int64) for k in _DROPS}
        for ti, tune in enumerate(tunes):
            voices, counts = self.voice_steps(tune)
            for k, v in counts.items():
                stats[k][ti] += v
            n_notes = sum(len(v) for v in voices)
            if n_notes == 0:
                stats["tunes_without_notes"][ti] += 1
                continue
            if n_notes < c.min_notes:
                stats["tunes_too_short"][ti] += 1
                continue
            frames = self.encode_voices(voices, self.steps_per_bar(tune), min(end_step(voices), c.max_steps))
            seqs.append(np.concatenate(([BOS], frames, [EOS])))
            seq_tune.append(ti)
            seq_units.append(int((frames >= ON0).sum()))
            seq_bar.append(self.bar_tokens(tune))
        tokens, offsets = concat_ragged(seqs)
        return EncodedBatch(tokens, offsets, np.asarray(seq_tune, np.int64),
                            np.asarray(seq_units, np.int64), np.asarray(seq_bar, np.int64), stats)

    # -- decode --------------------------------------------------------------------------
    def decode_voices(self, ids) -> list[np.ndarray]:
        """(on, off, pitch) rows of each voice of frame tokens (``<s>`` skipped, up to ``</s>``)."""
        c = self.config
        ids = np.asarray(ids, np.int64)
        ids = ids[ids != BOS]
        if (ids == EOS).any():
            ids = ids[:int(np.argmax(ids == EOS))]
        voices: list[list] = [[] for _ in range(c.voices)]
        sounding: list[list | None] = [None] * c.voices
        step, slot = 0, 0
        for tok in ids.tolist():
            if tok in (STEP, BAR) or slot == c.voices:  # a separator (or one missing) ends the frame
                step, slot = step + 1, 0
                if tok in (STEP, BAR):
                    continue
            if tok >= ON0:
                sounding[slot] = [step, step + 1, tok - ON0 + c.min_pitch]
                voices[slot].append(sounding[slot])
            elif tok == HOLD and sounding[slot] is not None:
                sounding[slot][1] = step + 1
            else:  # REST, or HOLD with nothing sounding
                sounding[slot] = None
            slot += 1
        return [np.asarray(v, np.int64).reshape(-1, 3) for v in voices]

    def decode_tune(self, ids, qpm: float = 120.0, names: tuple[str, ...] = (),
                    programs: tuple[int, ...] = (), velocity: int = 90, **kwargs) -> Tune:
        """A tune of one track per voice (empty voices too, so voice ``k`` is track ``k``);
        ``names`` and ``programs`` default to Voice 1..V and program 0 (piano)."""
        spq, tracks = self.config.steps_per_quarter, []
        for k, v in enumerate(self.decode_voices(ids)):
            beats = v[:, :2] / spq
            tracks.append(Track(names[k] if k < len(names) else f"Voice {k + 1}",
                                programs[k] if k < len(programs) else 0, False,
                                v[:, 2].astype(np.int16), np.full(len(v), velocity, np.int16),
                                beats[:, 0], beats[:, 1], beats[:, 0] * 60 / qpm, beats[:, 1] * 60 / qpm))
        return Tune(tracks, [TempoChange(0.0, qpm)])

    # -- transposition ---------------------------------------------------------------------
    def pitch_span(self, ids: np.ndarray) -> tuple[int, int] | None:
        ons = ids[ids >= ON0] - ON0
        if ons.shape[0] == 0:
            return 0, 0
        return -int(ons.min()), self.config.max_pitch - self.config.min_pitch - int(ons.max())

    def transpose_ids(self, ids: np.ndarray, semitones: int) -> np.ndarray:
        return np.where(ids >= ON0, ids + semitones, ids)


def end_step(voices: list[np.ndarray]) -> int:
    """The step where the last note of any voice ends (0 without notes)."""
    return max((int(v[:, 1].max()) for v in voices if len(v)), default=0)


def window(voices: list[np.ndarray], start: int, stop: int) -> list[np.ndarray]:
    """The voices' notes that start in steps ``start..stop - 1``, cut at ``stop`` and moved to
    begin at step 0 (a note held into the window from before it is left out)."""
    out = []
    for v in voices:
        keep = v[(v[:, 0] >= start) & (v[:, 0] < stop)].copy()
        keep[:, 1] = np.minimum(keep[:, 1], stop)
        keep[:, :2] -= start
        out.append(keep)
    return out


def _monophonic(rows: np.ndarray) -> bool:
    """At most one note starts at each step (a note may be cut short by the next)."""
    return rows.shape[0] < 2 or bool(np.all(np.diff(rows[:, 0]) > 0))


def _cut_overlaps(rows: np.ndarray) -> tuple[np.ndarray, int]:
    """A voice's notes by onset, each ending by the next one's onset; (rows, how many cut)."""
    if rows.shape[0] < 2:
        return rows, 0
    rows = rows[np.argsort(rows[:, 0], kind="stable")].copy()
    late = rows[:-1, 1] > rows[1:, 0]
    rows[:-1, 1] = np.where(late, rows[1:, 0], rows[:-1, 1])
    return rows, int(late.sum())


def _spread(n: int, free: list[int]) -> list[int]:
    """Which of the ``free`` voices (top first) ``n`` new notes (highest first) take: the top
    and the bottom free voices first, so a melody stays on top and a bass at the bottom."""
    if n >= len(free):
        return free[:n]
    if n == 1:
        return free[:1]
    return [free[round(i * (len(free) - 1) / (n - 1))] for i in range(n)]
