"""What a music encoding adds to the core's: tunes in and out, pitches that transpose."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.encoding import EncodedBatch, Encoding
from melodyrnn.music.ingest.files import discover, encode_midi_files
from melodyrnn.music.notes import Tune, TuneBatch

__all__ = ["MusicEncoding", "TransposeAugmenter", "fold_pitches", "makes_tunes"]


def makes_tunes(enc) -> bool:
    """Whether ``enc`` turns tunes into ids and back (``encode_tunes`` and ``decode_tune``):
    a music encoding or a plugin's; a text encoding does not."""
    return callable(getattr(enc, "encode_tunes", None)) and callable(getattr(enc, "decode_tune", None))


class MusicEncoding(Encoding):
    """An invertible map between tunes and token ids; its unit is the note."""

    unit: ClassVar[str] = "note"
    step: ClassVar[str] = "event"

    @abstractmethod
    def encode_tunes(self, tunes: list[Tune] | TuneBatch) -> EncodedBatch:
        """Turn a batch of tunes into token sequences, counting what was dropped."""

    @abstractmethod
    def decode_tune(self, ids, **kwargs) -> Tune:
        """Turn one token sequence back into a playable tune."""

    @classmethod
    def find_files(cls, inputs: list[str]) -> list[str]:
        """MIDI files under folders (by suffix), and files named explicitly."""
        return discover(inputs)

    def encode_files(self, paths: list[str]) -> tuple[SplitArrays, list[str], dict[str, str]]:
        """MIDI files (or folders of them) encoded in memory with ingest's guarded reader."""
        return encode_midi_files(paths, self)

    def pitch_span(self, ids: np.ndarray) -> tuple[int, int] | None:
        """Semitone shifts (down, up) that keep every pitch of ``ids`` encodable; None if
        the encoding has no pitches (then it cannot be transposed)."""
        return None

    def transpose_ids(self, ids: np.ndarray, semitones: int) -> np.ndarray:
        """``ids`` with every pitch moved by ``semitones`` (within :meth:`pitch_span`)."""
        raise NotImplementedError(f"the {self.name} encoding cannot be transposed")

    def augmenter(self, transpose: int = 0, **options):
        """Random transposition of training sequences by up to ``transpose`` semitones."""
        super().augmenter(**options)
        if not isinstance(transpose, int) or isinstance(transpose, bool) or not 0 <= transpose <= 12:
            raise ValueError("transpose must be 0..12 semitones")
        return TransposeAugmenter(self, transpose) if transpose else None


class TransposeAugmenter:
    """Shift each training sequence by a random number of semitones in ``-K..K``.

    The shift is drawn among those that keep every pitch of the sequence encodable.
    """

    def __init__(self, encoding: MusicEncoding, max_shift: int) -> None:
        if encoding.pitch_span(np.zeros(0, np.int64)) is None:
            raise ValueError(f"--transpose: the {encoding.name} encoding has no pitches")
        self.encoding, self.max_shift = encoding, max_shift

    def choose(self, sequence: np.ndarray, rng: np.random.Generator) -> int:
        down, up = self.encoding.pitch_span(np.asarray(sequence, np.int64))
        low, high = max(-self.max_shift, down), min(self.max_shift, up)
        return int(rng.integers(low, high + 1)) if low <= high else 0

    def apply(self, ids: np.ndarray, variant: int) -> np.ndarray:
        return self.encoding.transpose_ids(ids, variant)


def fold_pitches(pitch: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move pitches outside ``low..high`` by whole octaves into it."""
    pitch = pitch.astype(np.int64)
    up = np.where(pitch < low, -((pitch - low) // 12), 0)  # octaves to raise
    down = np.where(pitch > high, (pitch - high + 11) // 12, 0)
    return pitch + 12 * (up - down)
