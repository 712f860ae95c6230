"""Magenta MelodyRNN-compatible melody events, one per grid step.

Each step of a melody is one event: ``NOTE_ON_p`` (a note of pitch ``p`` starts and ends
any sounding note), ``NOTE_OFF`` (the sounding note ends) or ``NO_EVENT`` (hold the note
or continue the rest). A sequence is ``<s>``, the events, ``</s>``; a note still sounding
at ``</s>`` ends there. Ids: 0-2 specials, 3 ``NO_EVENT``, 4 ``NOTE_OFF``,
5.. ``NOTE_ON`` for ``min_pitch``..``max_pitch``.

With the full range 0-127 and no key transposition the encoding is lossless (Magenta's
mono_rnn); a window such as 48-83 folds outlying notes by octaves into it and
``transpose_to_key`` shifts each melody to a common major key (Magenta's basic_rnn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune, TuneBatch
from melodyrnn.music.quantize import ExtractConfig, Melody, MelodyBatch, extract_melody_batch
from melodyrnn.core.vocab import BOS, EOS, Vocabulary
from melodyrnn.core.encoding import EncodedBatch
from melodyrnn.music.encodings.base import MusicEncoding, fold_pitches
from melodyrnn.music.limits import KEY, PITCH, check_ints

__all__ = ["MelodyConfig", "MelodyEncoding", "NO_EVENT", "NOTE_OFF", "FIRST_NOTE_ON", "fold_pitches"]

NO_EVENT, NOTE_OFF, FIRST_NOTE_ON = 3, 4, 5
_MAJOR_SCALE = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=np.int64)
# _KEY_MASKS[k, pc] == 1 when pitch class pc is in the major scale of key k
_KEY_MASKS = np.stack([np.roll(_MAJOR_SCALE, k) for k in range(12)])


@dataclass(frozen=True)
class MelodyConfig(ExtractConfig):
    """Melody extraction settings plus the pitch window and key transposition."""

    min_pitch: int = 0
    max_pitch: int = 127
    transpose_to_key: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ints(self, {"min_pitch": PITCH, "max_pitch": PITCH})
        if self.transpose_to_key is not None:
            check_ints(self, {"transpose_to_key": KEY})
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError("need 0 <= min_pitch <= max_pitch <= 127")
        if self.max_pitch - self.min_pitch < 11:
            raise ValueError("the pitch window must span at least an octave (12 pitches)")
        if self.transpose_to_key is not None and not 0 <= self.transpose_to_key < 12:
            raise ValueError("transpose_to_key must be a pitch class 0-11 or None")

    @property
    def lossless(self) -> bool:
        return self.min_pitch == 0 and self.max_pitch == 127 and self.transpose_to_key is None


def major_key(pitch: np.ndarray, note_melody: np.ndarray, n_melodies: int) -> np.ndarray:
    """Most likely major key (tonic pitch class) per melody: most notes in its scale.

    Ties go to the lowest pitch class, as in Magenta's ``Melody.get_major_key``.
    """
    hist = np.bincount(note_melody * 12 + pitch.astype(np.int64) % 12,
                       minlength=n_melodies * 12).reshape(n_melodies, 12)  # (M, 12)
    return np.argmax(hist @ _KEY_MASKS.T, axis=1)  # (M, 12) @ (12, 12) -> (M,)


class MelodyEncoding(MusicEncoding):
    """Monophonic melody events on a step grid (see the module docstring)."""

    name = "melody"
    config_class = MelodyConfig
    filler_ids = (NO_EVENT,)

    def score_groups(self) -> tuple[tuple[int, ...], tuple[str, str]]:
        """Rhythm (hold, stop, start a note, end) and pitch (which pitch, given a start):
        every NOTE_ON shares one group, every other id is its own."""
        groups = tuple(FIRST_NOTE_ON if i >= FIRST_NOTE_ON else i for i in range(len(self.vocab)))
        return groups, ("rhythm", "pitch")

    def _build_vocab(self) -> Vocabulary:
        c = self.config
        return Vocabulary.from_names(["NO_EVENT", "NOTE_OFF"] + [
            f"NOTE_ON_{p}" for p in range(c.min_pitch, c.max_pitch + 1)])

    # -- transposition (training-time augmentation) ------------------------------------
    def pitch_span(self, ids: np.ndarray) -> tuple[int, int] | None:
        on = ids[ids >= FIRST_NOTE_ON] - FIRST_NOTE_ON
        if on.shape[0] == 0:
            return 0, 0
        top = self.config.max_pitch - self.config.min_pitch
        return -int(on.min()), top - int(on.max())

    def transpose_ids(self, ids: np.ndarray, semitones: int) -> np.ndarray:
        return np.where(ids >= FIRST_NOTE_ON, ids + semitones, ids)

    # -- pitch preparation -------------------------------------------------------------
    def prepare(self, batch: MelodyBatch) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Pitches after key transposition and octave folding, with counts per melody."""
        c, pitch = self.config, batch.pitch.astype(np.int64)
        counts = {}
        if c.transpose_to_key is not None:
            key = major_key(pitch, batch.note_melody, batch.n_melodies)
            shift = (c.transpose_to_key - key) % 12
            shift = np.where(shift > 6, shift - 12, shift)  # -5..6, the smaller move
            pitch = pitch + shift[batch.note_melody]
            counts["melodies_transposed"] = (shift != 0).astype(np.int64)
        folded = fold_pitches(pitch, c.min_pitch, c.max_pitch)
        counts["notes_folded"] = np.bincount(batch.note_melody[folded != pitch],
                                             minlength=batch.n_melodies)
        return folded, counts

    # -- encode ------------------------------------------------------------------------
    def encode_batch(self, batch: MelodyBatch) -> tuple[np.ndarray, np.ndarray, dict]:
        """Encode many melodies at once into (flat tokens, offsets, counts per melody)."""
        pitch, counts = self.prepare(batch)
        length = batch.length_steps.astype(np.int64)
        offsets = np.concatenate(([0], np.cumsum(length + 2)))
        tokens = np.full(int(offsets[-1]), NO_EVENT, dtype=np.int64)
        tokens[offsets[:-1]] = BOS
        tokens[offsets[1:] - 1] = EOS
        base = offsets[:-1][batch.note_melody] + 1  # position of step 0 of each note's melody
        ends = batch.end_steps < length[batch.note_melody]
        tokens[(base + batch.end_steps)[ends]] = NOTE_OFF  # offsets first: an onset wins
        tokens[base + batch.start_steps] = FIRST_NOTE_ON + pitch - self.config.min_pitch
        return tokens, offsets, counts

    def encode(self, melody: Melody) -> np.ndarray:
        """Token ids of one melody, with ``<s>`` and ``</s>``."""
        n = len(melody)
        batch = MelodyBatch(melody.pitch, melody.velocity, melody.start_steps, melody.end_steps,
                            np.zeros(n, np.int64), np.array([melody.length_steps]),
                            np.array([melody.steps_per_bar]), np.array([melody.offset_steps]),
                            np.zeros(1, np.int64), np.array([melody.program]),
                            melody.steps_per_quarter)
        return self.encode_batch(batch)[0]

    def encode_tunes(self, tunes: list[Tune] | TuneBatch) -> EncodedBatch:
        tunes = TuneBatch.of(tunes)
        batch, stats = extract_melody_batch(tunes, self.config)
        tokens, offsets, counts = self.encode_batch(batch)
        for name, per_melody in counts.items():
            stats[name] = np.bincount(batch.melody_tune, weights=per_melody,
                                      minlength=tunes.n_tunes).astype(np.int64)
        return EncodedBatch(tokens, offsets, batch.melody_tune,
                            np.bincount(batch.note_melody, minlength=batch.n_melodies),
                            batch.steps_per_bar.astype(np.int64), stats)

    # -- decode ------------------------------------------------------------------------
    def decode(self, ids, steps_per_bar: int | None = None) -> Melody:
        """Melody of a token sequence; tolerant of stray specials and ``NOTE_OFF`` in rests.

        Leading ``<s>`` is skipped and decoding stops at ``</s>``; other special tokens
        count as ``NO_EVENT``.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if ids.shape[0] and ids[0] == BOS:
            ids = ids[1:]
        stop = np.flatnonzero(ids == EOS)
        events = ids[:stop[0]] if stop.shape[0] else ids
        length = events.shape[0]
        marks = np.flatnonzero(events >= NOTE_OFF)  # positions of NOTE_OFF and NOTE_ON
        is_on = events[marks] >= FIRST_NOTE_ON
        ends = np.append(marks[1:], length)[is_on]  # each note ends at the next mark
        spq = self.config.steps_per_quarter
        return Melody(pitch=events[marks[is_on]] - FIRST_NOTE_ON + self.config.min_pitch,
                      start_steps=marks[is_on], end_steps=ends, length_steps=length,
                      steps_per_quarter=spq, steps_per_bar=steps_per_bar or 4 * spq)

    def decode_tune(self, ids, qpm: float = 120.0, program: int = 0, velocity: int = 100,
                    time_signature: tuple[int, int] = (4, 4)) -> Tune:
        """A one-track tune of the melody in ``ids`` at tempo ``qpm``."""
        return melody_to_tune(self.decode(ids), qpm, program, velocity, time_signature)


def melody_to_tune(melody: Melody, qpm: float = 120.0, program: int = 0, velocity: int = 100,
                   time_signature: tuple[int, int] = (4, 4)) -> Tune:
    """Place a melody at beat 0 of a new one-track tune."""
    spq, n = melody.steps_per_quarter, len(melody)
    start_beats = melody.start_steps / spq
    end_beats = melody.end_steps / spq
    spb = 60.0 / qpm
    track = Track(name="melody", program=program, pitch=melody.pitch.astype(np.int16),
                  velocity=np.full(n, velocity, np.int16), start_beats=start_beats,
                  end_beats=end_beats, start_seconds=start_beats * spb,
                  end_seconds=end_beats * spb)
    return Tune(tracks=[track], tempos=[TempoChange(0.0, qpm)],
                time_signatures=[TimeSignature(0.0, *time_signature)])
