"""What every encoding provides: a vocabulary, files to ids, plain-JSON config.

The core knows only this interface; ``melodyrnn.music.encodings.base.MusicEncoding`` (tunes
in and out) and ``melodyrnn.text.encodings.TextEncoding`` (text in and out) fill it in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import numpy as np

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.vocab import Vocabulary

__all__ = ["Encoding", "EncodedBatch", "concat_ragged"]


@dataclass
class EncodedBatch:
    """The token sequences of a batch of inputs (tunes, documents), as one flat array plus offsets.

    Parameters
    ----------
    tokens : ndarray of int64
        All sequences back to back, each with its start and end token.
    offsets : ndarray of int64
        ``tokens[offsets[i]:offsets[i + 1]]`` is sequence ``i``.
    seq_tune : ndarray of int64
        Index of the tune (in the input batch) each sequence came from.
    seq_units : ndarray of int64
        Number of units (notes, chars) each sequence encodes (the denominator of bits/unit).
    seq_bar_steps : ndarray of int64
        Bar length in encoding time steps (0 where the encoding has no bar grid).
    stats : dict of str to ndarray
        Per tune, counts of every drop and alteration by reason.
    """

    tokens: np.ndarray
    offsets: np.ndarray
    seq_tune: np.ndarray
    seq_units: np.ndarray
    seq_bar_steps: np.ndarray
    stats: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_sequences(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def sequence(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]


def concat_ragged(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate 1-D arrays into (flat, offsets)."""
    lengths = np.fromiter((s.shape[0] for s in seqs), np.int64, len(seqs))
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    flat = np.concatenate(seqs).astype(np.int64) if seqs else np.zeros(0, np.int64)
    return flat, offsets


class Encoding(ABC):
    """An invertible map between inputs (tunes, text) and token ids.

    Subclasses set ``name`` and ``unit``, keep their settings in a frozen dataclass
    ``config`` and build ``vocab`` from it; ``to_dict``/``from_dict`` round-trip through
    plain JSON. Metrics are per unit: ``bits_per_note`` for music, ``bits_per_char`` for text.
    """

    name: ClassVar[str]
    config_class: ClassVar[type]
    #: what one scored input element is ("note", "char", "token"): metrics are bits per unit
    unit: ClassVar[str] = "token"
    #: what one prediction is ("event", "token"): nats per step
    step: ClassVar[str] = "token"
    #: ids that fill time rather than mark an event (left out of event accuracy)
    filler_ids: ClassVar[tuple[int, ...]] = ()

    def __init__(self, config=None) -> None:
        self.config = config if config is not None else self.config_class()
        self.vocab: Vocabulary = self._build_vocab()

    @abstractmethod
    def _build_vocab(self) -> Vocabulary: ...

    @classmethod
    def find_files(cls, inputs: list[str]) -> list[str]:
        """The files this encoding reads under ``inputs`` (files and folders), sorted."""
        raise NotImplementedError(f"the {cls.name} encoding reads no files")

    @abstractmethod
    def encode_files(self, paths: list[str]) -> tuple[SplitArrays, list[str], dict[str, str]]:
        """Files (or folders of them) encoded in memory: (sequences, the files used, the
        reason each failed file failed, by path)."""

    def augmenter(self, **options):
        """The training-data augmenter ``options`` ask for (None: none), e.g. music's
        ``transpose=3``; ``ValueError`` for an option this encoding does not know."""
        asked = sorted(k for k, v in options.items() if v)
        if asked:
            raise ValueError(f"the {self.name} encoding has no augmentation {asked[0]!r}")
        return None

    def score_groups(self) -> tuple[tuple[int, ...], tuple[str, str]] | None:
        """A group number for each id and the names of the two parts that ``evaluate``
        splits bits per unit into (the group, then the id within it); None: no split."""
        return None

    def to_dict(self) -> dict:
        return {"name": self.name, "config": asdict(self.config)}

    def __eq__(self, other) -> bool:
        return isinstance(other, Encoding) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
