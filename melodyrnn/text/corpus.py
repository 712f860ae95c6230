"""The text layer over the sequence core: text files -> datasets, and prompt completion.

A text file splits into documents (``%`` lines for fortune files, blank-line paragraphs, or
blocks of lines); each document is one sequence, and its split follows its content hash, as
MIDI files' do. A dataset's ``notes`` column holds each document's characters, so the
library's bits-per-unit metric is bits per character here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from melodyrnn.core.continuation import DecodeConfig, continue_ids
from melodyrnn.core.dataset import SPLITS, SplitArrays, assign_split, check_output, token_dtype, write_dataset
from melodyrnn.text.encodings import (UNK, CharEncoding, TextEncoding, TokensConfig, TokensEncoding,
                                      WordEncoding)
from melodyrnn.text.files import (MAX_TEXT_BYTES, encode_text_files, guess_separator, read_text,
                                  split_documents, text_files)
from melodyrnn.core.loading import load_model
from melodyrnn.core.vocab import BOS, EOS

__all__ = ["TextIngestConfig", "ingest_text", "encode_text_files", "complete_text", "Completion",
           "dataset_from_sequences", "MAX_TEXT_BYTES"]

@dataclass(frozen=True)
class TextIngestConfig:
    """Settings of ``melodyrnn ingest --encoding char|word FILE...``.

    Parameters
    ----------
    inputs : tuple of str
        Text files (UTF-8), or folders searched for ``*.txt``.
    output : str
        Dataset folder to write.
    encoding : str
        ``char`` or ``word``; its vocabulary is fitted on the training documents.
    separator : str
        ``auto`` (``%`` lines if there are any, else blank lines), ``%``-style marker line,
        ``""`` for blank lines, or ``lines:N``.
    valid, test : float
        Fractions of documents (by content hash) for the valid and test splits.
    seed : int
        Salt of the split hash.
    max_words, min_count : int
        ``word`` only: vocabulary size and the least count a word needs.
    """

    inputs: tuple[str, ...]
    output: str
    encoding: str = "char"
    separator: str = "auto"
    valid: float = 0.05
    test: float = 0.05
    seed: int = 0
    max_words: int = 8000
    min_count: int = 3


def ingest_text(cfg: TextIngestConfig) -> dict:
    """Split, fit the vocabulary on the training documents, encode, write; returns meta.

    Raises
    ------
    ValueError
        For an unknown encoding, unreadable input, or when no document is found.
    """
    if cfg.encoding not in ("char", "word"):
        raise ValueError(f"text encodings are char and word, not {cfg.encoding!r}")
    out = Path(cfg.output)
    check_output(out)
    docs, lines = [], []  # (file index, text, split)
    for i, path in enumerate(text_files(cfg.inputs)):
        try:
            text = read_text(path)
        except (ValueError, OSError) as e:
            lines.append({"path": str(path), "status": "error", "reason": str(e), "documents": 0})
            continue
        sep = guess_separator(text) if cfg.separator == "auto" else cfg.separator
        found = split_documents(text, sep)
        for d in found:
            digest = hashlib.sha256(d.encode()).hexdigest()[:32]
            docs.append((i, d, assign_split(digest, cfg.valid, cfg.test, cfg.seed)))
        lines.append({"path": str(path), "status": "ok" if found else "skipped",
                      "reason": "" if found else "no documents", "documents": len(found),
                      "separator": sep})
    if not docs:
        raise ValueError("no documents found in the inputs")
    train_texts = [d for _, d, s in docs if s == "train"] or [d for _, d, _ in docs]
    sep = next((ln["separator"] for ln in lines if "separator" in ln), "%")
    enc = (CharEncoding.fit(train_texts, sep) if cfg.encoding == "char" else
           WordEncoding.fit(train_texts, sep, cfg.max_words, cfg.min_count))
    small = token_dtype(len(enc.vocab))  # ids as stored, not int64: 1-2 bytes a character
    rows = [(i, enc.encode_text(d).astype(small), len(d), s) for i, d, s in docs]
    return _write_dataset(out, enc, rows, {
        "counts": {"files": len(lines), "documents": len(docs)},
        "files": [{"path": ln["path"], "status": ln["status"]} for ln in lines],
        "stats": {"documents": len(docs)}}, "".join(json.dumps(ln) + "\n" for ln in lines))


def _write_dataset(out: Path, enc, rows: list[tuple], extra: dict, report: str | None = None) -> dict:
    """Write the splits of ``rows`` -- (source index, ids with <s> and </s>, units, split) --
    with :func:`~melodyrnn.core.dataset.write_dataset`; returns the meta."""
    splits = {}
    for split in SPLITS:
        part = [r for r in rows if r[3] == split]
        splits[split] = SplitArrays.from_sequences([r[1] for r in part], [r[2] for r in part],
                                                   [r[0] for r in part])
    return write_dataset(out, enc, splits, report=report, extra=extra)


@dataclass
class Completion:
    """A prompt and its continuation (up to the model's end-of-document token)."""

    prompt: str
    text: str


def complete_text(checkpoint, prompt: str, *, n: int = 1,
                  max_tokens: int = 200, decode: DecodeConfig | None = None,
                  seed: int = 0) -> list[Completion]:
    """Continue ``prompt`` with a text model (anything :func:`melodyrnn.core.loading.load_model`
    takes): ``n`` completions of up to ``max_tokens`` tokens each, stopping at the
    end-of-document token."""
    model, enc = load_model(checkpoint)
    if not isinstance(enc, TextEncoding):
        raise ValueError(f"--prompt needs a text model; this one uses the {enc.name!r} encoding")
    primer = enc.encode_text(prompt)[:-1].tolist()  # <s> + prompt, no end token
    out = continue_ids(model, primer, n, max_tokens, decode or DecodeConfig(), seed)
    return [Completion(prompt, enc.decode_text(np.concatenate(([BOS], row))))
            for row in out.ids]


def dataset_from_sequences(sequences, output: str | os.PathLike, *, names=None,
                           valid: float = 0.05, test: float = 0.05, seed: int = 0) -> dict:
    """Write a dataset folder from token sequences of any kind; returns its meta.

    Parameters
    ----------
    sequences : list of lists of int or of str
        Ids ``0..len(names)-1`` (names default to ``"0"``, ``"1"``, ...) or token names.
    output : path
        Dataset folder to write; ``melodyrnn train`` reads it unchanged.
    names : list of str, optional
        The name of each id, for int sequences.
    valid, test, seed :
        Split fractions by content hash, and its salt (as for files).
    """
    seqs = [list(s) for s in sequences]
    if not seqs:
        raise ValueError("no sequences")
    if any(s and isinstance(s[0], str) for s in seqs):
        names = list(dict.fromkeys(str(t) for s in seqs for t in s))
        index = {n: i for i, n in enumerate(names)}
        seqs = [[index[str(t)] for t in s] for s in seqs]
    else:
        top = max((max(s) for s in seqs if len(s)), default=-1)
        names = [str(i) for i in range(top + 1)] if names is None else list(names)
        if top >= len(names) or min((min(s) for s in seqs if len(s)), default=0) < 0:
            raise ValueError(f"ids must be in 0..{len(names) - 1} (one name each)")
    enc = TokensEncoding(TokensConfig(tuple(names)))
    first = UNK + 1  # ids of names start after <pad> <s> </s> <unk>
    out = check_output(output)
    rows = []
    for i, s in enumerate(seqs):
        ids = np.asarray(s, np.int64)
        split = assign_split(hashlib.sha256(ids.tobytes()).hexdigest()[:32], valid, test, seed)
        rows.append((i, np.concatenate(([BOS], ids + first, [EOS])), len(ids), split))
    return _write_dataset(out, enc, rows, {"counts": {"sequences": len(seqs)}, "files": [], "stats": {}})
