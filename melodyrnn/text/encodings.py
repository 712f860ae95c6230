"""Text encodings: characters, or words with a character fallback.

The sequence core does not care what its ids mean; these encodings let the same models,
training and decoding work on text. ``char`` gives every character of the corpus one id;
``word`` gives the most frequent words one id each and spells any other word, and all
whitespace and punctuation, character by character, so both round-trip exactly (a
character never seen at fitting time becomes ``<unk>``). The vocabulary is fitted on the
corpus and kept in the config, so a checkpoint alone can encode and decode.
"""

from __future__ import annotations

import collections
import functools
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from melodyrnn.core.vocab import BOS, EOS, PAD, Vocabulary
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.encoding import Encoding
from melodyrnn.text.files import encode_text_files, split_documents, text_files

__all__ = ["CharConfig", "CharEncoding", "WordConfig", "WordEncoding", "TokensConfig",
           "TokensEncoding", "TextEncoding", "UNK", "split_documents"]

UNK = 3  # id of <unk> in both text vocabularies
_TOKENS = re.compile(r"\w+|\s|[^\w\s]")


def _alphabet(texts: list[str]) -> set[str]:
    """Every character of ``texts`` (one set, not one per document)."""
    chars: set[str] = set()
    for t in texts:
        chars.update(t)
    return chars


class TextEncoding(Encoding):
    """Shared by the text encodings: ``encode_text`` / ``decode_text`` instead of tunes."""

    unit: ClassVar[str] = "char"

    @classmethod
    def find_files(cls, inputs: list[str]) -> list[str]:
        """Text files named explicitly, and ``*.txt`` under folders."""
        return [str(p) for p in text_files(inputs)]

    def encode_files(self, paths: list[str]) -> tuple[SplitArrays, list[str], dict[str, str]]:
        """Documents of text files (or folders of ``*.txt``) encoded in memory."""
        return encode_text_files(paths, self)

    def _pieces(self, text: str) -> list[str]:
        raise NotImplementedError

    def encode_text(self, text: str) -> np.ndarray:
        """``<s>``, one id per piece of ``text``, ``</s>`` (int64)."""
        index = self.vocab._index
        ids = [index.get(p, UNK) for p in self._pieces(text)]
        return np.array([BOS, *ids, EOS], dtype=np.int64)

    def decode_text(self, ids) -> str:
        """The text of ``ids``, up to the first ``</s>``; ``<unk>`` shows as U+FFFD."""
        out = []
        for i in np.asarray(ids, np.int64).tolist():
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append("\ufffd" if i == UNK else self._names[i])
        return "".join(out)

    @functools.cached_property
    def _names(self) -> list[str]:
        return [t[2:] if t.startswith("w:") else t for t in self.vocab.tokens]


@dataclass(frozen=True)
class CharConfig:
    """``alphabet``: every character the vocabulary knows, sorted; ``separator``: how text
    files split into documents (see :func:`split_documents`)."""

    alphabet: str = ""
    separator: str = "%"


class CharEncoding(TextEncoding):
    """One id per character."""

    name = "char"
    config_class = CharConfig

    def _build_vocab(self) -> Vocabulary:
        return Vocabulary.from_names(("<unk>", *self.config.alphabet))

    def _pieces(self, text: str) -> list[str]:
        return list(text)

    def encode_text(self, text: str) -> np.ndarray:
        """``<s>``, one id per character, ``</s>`` (int64), by array lookup a megabyte of
        text at a time (a Python list of ids costs 36 bytes a character)."""
        keys, ids = self._lookup
        out = np.full(len(text) + 2, UNK, np.int64)
        out[0], out[-1] = BOS, EOS
        for a in range(0, len(text) if len(keys) else 0, 1 << 20):
            cps = np.frombuffer(text[a:a + (1 << 20)].encode("utf-32-le", "surrogatepass"), np.uint32)
            at = np.searchsorted(keys, cps).clip(max=len(keys) - 1)
            out[1 + a:1 + a + len(cps)] = np.where(keys[at] == cps, ids[at], UNK)
        return out

    @functools.cached_property
    def _lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """The alphabet's code points, sorted (K,), and their ids (K,): built once, not per
        document."""
        keys = np.array(sorted(ord(c) for c in self.config.alphabet), np.uint32)
        return keys, np.array([self.vocab._index[chr(k)] for k in keys.tolist()], np.int64)

    @classmethod
    def fit(cls, texts: list[str], separator: str = "%") -> "CharEncoding":
        """The encoding whose alphabet is every character of ``texts``."""
        return cls(CharConfig("".join(sorted(_alphabet(texts))), separator))


@dataclass(frozen=True)
class WordConfig:
    """``words``: whole-word tokens; ``alphabet``: characters for everything else."""

    words: tuple[str, ...] = ()
    alphabet: str = ""
    separator: str = "%"

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", tuple(self.words))


class WordEncoding(TextEncoding):
    """One id per frequent word; other words, spaces and punctuation by character."""

    name = "word"
    config_class = WordConfig

    def _build_vocab(self) -> Vocabulary:
        return Vocabulary.from_names(("<unk>", *self.config.alphabet,
                                      *(f"w:{w}" for w in self.config.words)))

    def _pieces(self, text: str) -> list[str]:
        known = self.vocab._index
        out = []
        for piece in _TOKENS.findall(text):
            out.extend([f"w:{piece}"] if len(piece) > 1 and f"w:{piece}" in known else piece)
        return out

    @classmethod
    def fit(cls, texts: list[str], separator: str = "%", max_words: int = 8000,
            min_count: int = 3) -> "WordEncoding":
        """Keep the ``max_words`` most frequent words of two or more characters seen at
        least ``min_count`` times (ties by first appearance); every character for the rest."""
        counts = collections.Counter(w for t in texts for w in re.findall(r"\w\w+", t))
        words = [w for w, c in counts.most_common(max_words) if c >= min_count]
        return cls(WordConfig(tuple(words), "".join(sorted(_alphabet(texts))),
                              separator))


@dataclass(frozen=True)
class TokensConfig:
    """``names``: the token names, in id order after the specials and ``<unk>``."""

    names: tuple[str, ...] = ()
    separator: str = "%"

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))


class TokensEncoding(TextEncoding):
    """Named tokens of any kind (a dataset built from token lists): text is the names
    separated by spaces, so ``--prompt "a b c"`` and completions work on them too."""

    unit: ClassVar[str] = "token"
    name = "tokens"
    config_class = TokensConfig

    def _build_vocab(self) -> Vocabulary:
        return Vocabulary.from_names(("<unk>", *(f"w:{n}" for n in self.config.names)))

    def _pieces(self, text: str) -> list[str]:
        return [f"w:{n}" for n in text.split()]

    def decode_text(self, ids) -> str:
        return " ".join(self.decode_names(ids))

    def decode_names(self, ids) -> list[str]:
        """Token names of ``ids`` up to ``</s>`` (``<unk>`` for unknown)."""
        out = []
        for i in np.asarray(ids, np.int64).tolist():
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self._names[i])
        return out
