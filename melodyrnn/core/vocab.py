"""Token vocabularies: a list of token names, ids are list positions.

Music-agnostic: music encodings and the text encoding each build one. The three special
tokens come first in every vocabulary so that code downstream can rely on their ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Vocabulary", "PAD", "BOS", "EOS", "SPECIALS"]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of token names; ``tokens[i]`` is the name of id ``i``.

    Ids 0, 1, 2 are always ``<pad>``, ``<s>`` (sequence start) and ``</s>`` (sequence end).
    """

    tokens: tuple[str, ...]
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:3]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        index = {t: i for i, t in enumerate(self.tokens)}
        if len(index) != len(self.tokens):
            raise ValueError("duplicate token names in vocabulary")
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_names(cls, names) -> "Vocabulary":
        """Build a vocabulary from the non-special token names, specials prepended."""
        return cls(SPECIALS + tuple(names))

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, name: str) -> int:
        """The id of token ``name``; ``KeyError`` if absent."""
        return self._index[name]

    def name(self, token_id: int) -> str:
        return self.tokens[token_id]

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls(tuple(d["tokens"]))
