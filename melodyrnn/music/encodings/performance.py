"""Performance RNN events for polyphonic, expressive MIDI.

Events: ``NOTE_ON_p`` and ``NOTE_OFF_p`` for every MIDI pitch, ``TIME_SHIFT_k`` moving time
on by ``k`` 10-ms steps (k = 1..100, so up to 1 s per event), and ``VELOCITY_b`` setting the
velocity bin (1..32) of the notes that follow. Times are in seconds from the tempo map, so
rubato and dynamics survive. At one instant note-offs come before note-ons.

Same-pitch overlaps are resolved as a one-voice-per-key synthesiser would: an onset ends
a still-sounding note of its pitch (``notes_truncated``) and of notes with the same pitch
and onset only the longest is kept (``notes_duplicate_dropped``). Round trip: onsets and
offsets within 10 ms, velocity within one bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodyrnn.music.notes import TempoChange, Track, Tune, TuneBatch
from melodyrnn.core.vocab import BOS, EOS, Vocabulary
from melodyrnn.core.encoding import EncodedBatch, concat_ragged
from melodyrnn.music.encodings.base import MusicEncoding
from melodyrnn.music.limits import AT_LEAST_ONE, MAX_SHIFT_STEPS, STEPS_PER_SECOND, VELOCITY_BINS, check_ints

__all__ = ["PerformanceConfig", "PerformanceEncoding"]

N_PITCHES = 128
NOTE_ON0 = 3
NOTE_OFF0 = NOTE_ON0 + N_PITCHES


@dataclass(frozen=True)
class PerformanceConfig:
    """Performance event settings.

    Parameters
    ----------
    steps_per_second : int
        Time resolution (100 = 10 ms).
    max_shift_steps : int
        Longest single TIME_SHIFT, in steps (100 = 1 s).
    velocity_bins : int
        Number of velocity bins over 1..127.
    per_instrument : bool
        One sequence per track instead of all tracks merged into one.
    include_drums : bool
        Keep percussion tracks.
    min_notes : int
        Streams with fewer notes are dropped (``streams_too_short``).
    """

    steps_per_second: int = 100
    max_shift_steps: int = 100
    velocity_bins: int = 32
    per_instrument: bool = False
    include_drums: bool = False
    min_notes: int = 1

    def __post_init__(self) -> None:
        check_ints(self, {"steps_per_second": STEPS_PER_SECOND, "max_shift_steps": MAX_SHIFT_STEPS,
                          "velocity_bins": VELOCITY_BINS, "min_notes": AT_LEAST_ONE})
        for name in ("per_instrument", "include_drums"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    @property
    def bin_size(self) -> int:
        return -(-127 // self.velocity_bins)


class PerformanceEncoding(MusicEncoding):
    """Note-on/off, time-shift and velocity events (see the module docstring)."""

    name = "performance"
    config_class = PerformanceConfig

    def _build_vocab(self) -> Vocabulary:
        c = self.config
        return Vocabulary.from_names(
            [f"NOTE_ON_{p}" for p in range(N_PITCHES)]
            + [f"NOTE_OFF_{p}" for p in range(N_PITCHES)]
            + [f"TIME_SHIFT_{k}" for k in range(1, c.max_shift_steps + 1)]
            + [f"VELOCITY_{b}" for b in range(1, c.velocity_bins + 1)])

    def pitch_span(self, ids: np.ndarray) -> tuple[int, int] | None:
        notes = ids[(ids >= NOTE_ON0) & (ids < NOTE_OFF0 + N_PITCHES)]
        if notes.shape[0] == 0:
            return 0, 0
        pitch = np.where(notes >= NOTE_OFF0, notes - NOTE_OFF0, notes - NOTE_ON0)
        return -int(pitch.min()), N_PITCHES - 1 - int(pitch.max())

    def transpose_ids(self, ids: np.ndarray, semitones: int) -> np.ndarray:
        is_note = (ids >= NOTE_ON0) & (ids < NOTE_OFF0 + N_PITCHES)
        return np.where(is_note, ids + semitones, ids)

    @property
    def _shift0(self) -> int:
        return NOTE_OFF0 + N_PITCHES - 1  # TIME_SHIFT_k has id _shift0 + k

    @property
    def _velocity0(self) -> int:
        return self._shift0 + self.config.max_shift_steps

    # -- encode ------------------------------------------------------------------------
    def canonical_steps(self, pitch, velocity, start_seconds, end_seconds):
        """Quantise to the time grid and resolve same-pitch overlaps.

        Returns (pitch, velocity, on_steps, off_steps, counts), sorted by pitch then onset.
        """
        sps = self.config.steps_per_second
        on = np.floor(np.asarray(start_seconds) * sps + 0.5).astype(np.int64)
        off = np.floor(np.asarray(end_seconds) * sps + 0.5).astype(np.int64)
        off = np.maximum(off, on + 1)
        pitch = np.asarray(pitch, np.int64)
        velocity = np.clip(np.asarray(velocity, np.int64), 1, 127)
        order = np.lexsort((off, on, pitch))
        pitch, velocity, on, off = pitch[order], velocity[order], on[order], off[order]
        dup = np.zeros(pitch.shape[0], bool)
        dup[:-1] = (pitch[1:] == pitch[:-1]) & (on[1:] == on[:-1])
        pitch, velocity, on, off = pitch[~dup], velocity[~dup], on[~dup], off[~dup]
        cut = np.zeros(pitch.shape[0], bool)
        cut[:-1] = (pitch[1:] == pitch[:-1]) & (off[:-1] > on[1:])
        off[:-1] = np.where(cut[:-1], on[1:], off[:-1])
        counts = {"notes_duplicate_dropped": int(dup.sum()), "notes_truncated": int(cut.sum())}
        return pitch, velocity, on, off, counts

    def encode_notes(self, pitch, velocity, start_seconds, end_seconds
                     ) -> tuple[np.ndarray, dict[str, int]]:
        """Token ids (with ``<s>``/``</s>``) of a set of notes given in seconds."""
        c = self.config
        pitch, velocity, on, off, counts = self.canonical_steps(
            pitch, velocity, start_seconds, end_seconds)
        n = pitch.shape[0]
        time = np.concatenate((off, on))
        kind = np.concatenate((np.zeros(n, np.int64), np.ones(n, np.int64)))  # offs first
        order = np.lexsort((np.concatenate((pitch, pitch)), kind, time))
        vbins = (velocity - 1) // c.bin_size + 1
        out = [BOS]
        now, current_bin = 0, -1
        p2 = np.concatenate((pitch, pitch))
        v2 = np.concatenate((vbins, vbins))
        for t, k, p, b in zip(time[order].tolist(), kind[order].tolist(),
                              p2[order].tolist(), v2[order].tolist()):
            dt = t - now
            while dt > 0:
                step = min(dt, c.max_shift_steps)
                out.append(self._shift0 + step)
                dt -= step
            now = t
            if k:
                if b != current_bin:
                    out.append(self._velocity0 + b)
                    current_bin = b
                out.append(NOTE_ON0 + p)
            else:
                out.append(NOTE_OFF0 + p)
        out.append(EOS)
        return np.asarray(out, np.int64), counts

    def _streams(self, tune: Tune) -> list[list[Track]]:
        tracks = [t for t in tune.tracks if len(t) and (self.config.include_drums or not t.is_drum)]
        if self.config.per_instrument:
            return [[t] for t in tracks]
        return [tracks] if tracks else []

    def encode_tunes(self, tunes: list[Tune] | TuneBatch) -> EncodedBatch:
        if isinstance(tunes, TuneBatch):
            tunes = [tunes.tune(i) for i in range(tunes.n_tunes)]
        seqs, seq_tune, seq_units = [], [], []
        names = ("notes_duplicate_dropped", "notes_truncated", "streams_too_short",
                 "drum_tracks_skipped")
        stats = {k: np.zeros(len(tunes), np.int64) for k in names}
        for ti, tune in enumerate(tunes):
            if not self.config.include_drums:
                stats["drum_tracks_skipped"][ti] = sum(t.is_drum for t in tune.tracks)
            for stream in self._streams(tune):
                cols = [np.concatenate([getattr(t, a) for t in stream])
                        for a in ("pitch", "velocity", "start_seconds", "end_seconds")]
                if cols[0].shape[0] < self.config.min_notes:
                    stats["streams_too_short"][ti] += 1
                    continue
                ids, counts = self.encode_notes(*cols)
                for k, v in counts.items():
                    stats[k][ti] += v
                seqs.append(ids)
                seq_tune.append(ti)
                seq_units.append(int((ids < NOTE_OFF0).sum() - (ids < NOTE_ON0).sum()))
        tokens, offsets = concat_ragged(seqs)
        return EncodedBatch(tokens, offsets, np.asarray(seq_tune, np.int64),
                            np.asarray(seq_units, np.int64), np.zeros(len(seqs), np.int64), stats)

    # -- decode ------------------------------------------------------------------------
    def decode_notes(self, ids) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pitch, velocity, start_seconds, end_seconds) of a token sequence, by onset.

        A ``NOTE_OFF_p`` ends the earliest open note of pitch ``p``; notes still open at
        the end close there (lasting at least one step); stray ``NOTE_OFF`` are ignored.
        """
        c = self.config
        now, velocity = 0, 64  # mezzo-forte until a VELOCITY event
        open_notes: dict[int, list[tuple[int, int]]] = {}
        notes: list[tuple[int, int, int, int]] = []
        for tok in np.asarray(ids, np.int64).tolist():
            if tok == EOS:
                break
            if NOTE_ON0 <= tok < NOTE_OFF0:
                open_notes.setdefault(tok - NOTE_ON0, []).append((now, velocity))
            elif NOTE_OFF0 <= tok < NOTE_OFF0 + N_PITCHES:
                started = open_notes.get(tok - NOTE_OFF0)
                if started:
                    t0, v = started.pop(0)
                    notes.append((tok - NOTE_OFF0, v, t0, max(now, t0 + 1)))
            elif self._shift0 < tok <= self._velocity0:
                now += tok - self._shift0
            elif self._velocity0 < tok <= self._velocity0 + c.velocity_bins:
                b = tok - self._velocity0
                velocity = min(127, (b - 1) * c.bin_size + 1 + c.bin_size // 2)
        for p, started in open_notes.items():
            notes.extend((p, v, t0, max(now, t0 + 1)) for t0, v in started)
        notes.sort(key=lambda n: (n[2], n[0]))
        arr = np.asarray(notes, np.int64).reshape(-1, 4)  # (notes, [pitch, vel, on, off])
        sps = float(c.steps_per_second)
        return arr[:, 0], arr[:, 1], arr[:, 2] / sps, arr[:, 3] / sps

    def decode_tune(self, ids, qpm: float = 120.0, program: int = 0) -> Tune:
        """A one-track tune of the performance; beats assume a constant ``qpm``."""
        pitch, velocity, start, end = self.decode_notes(ids)
        bps = qpm / 60.0
        track = Track(name="performance", program=program, pitch=pitch.astype(np.int16),
                      velocity=velocity.astype(np.int16), start_beats=start * bps,
                      end_beats=end * bps, start_seconds=start, end_seconds=end)
        return Tune(tracks=[track], tempos=[TempoChange(0.0, qpm)])
