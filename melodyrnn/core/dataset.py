"""Token datasets on disk: one flat memory-mappable array of ids per split plus offsets.

Music-agnostic: a dataset folder holds, for each split ``train``/``valid``/``test``,

- ``{split}.tokens.npy`` -- all sequences back to back (uint16 when the vocabulary fits);
- ``{split}.offsets.npy`` -- int64, ``n_sequences + 1`` entries;
- ``{split}.units.npy`` -- int64 per sequence, the units (notes, chars) bits/unit divides by
- ``{split}.bar_steps.npy`` -- int64 per sequence, bar length in steps (0 = none);
- ``{split}.source.npy`` -- int64 per sequence, index into ``meta.json``'s ``files``;

and ``meta.json`` with the encoding, vocabulary, counts and sources. Every array is
written atomically and ``meta.json`` last, so a reader sees an old or a new dataset,
never a mix. Loading memory-maps the token arrays, so a dataset larger than RAM works.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from melodyrnn.core.install import __version__
from melodyrnn.core.atomic import atomic_path, atomic_write_text, staging_dir

T = TypeVar("T")

__all__ = ["describe", "SPLITS", "SplitArrays", "Dataset", "assign_split", "write_split", "write_meta",
           "load_dataset", "token_dtype", "FORMAT_VERSION", "swap_in", "check_output"]

SPLITS = ("train", "valid", "test")
COLUMNS = ("units", "bar_steps", "source")
FORMAT_VERSION = 1


def assign_split(content_hash: str, valid: float, test: float, seed: int = 0) -> str:
    """Split of a file from a stable hash of its content (hex digest).

    The first 32 bits of the hash (re-hashed with ``seed`` when it is not 0), as a
    fraction of 2**32, fall in ``[0, valid)`` for valid, ``[valid, valid + test)`` for
    test and above for train, so identical files always share a split and the split
    never depends on file order or names.
    """
    if seed:
        content_hash = hashlib.blake2b(f"{seed}:{content_hash}".encode(), digest_size=8).hexdigest()
    u = int(content_hash[:8], 16) / 2.0 ** 32
    return "valid" if u < valid else ("test" if u < valid + test else "train")


def token_dtype(vocab_size: int) -> np.dtype:
    """Smallest unsigned dtype that holds every id."""
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.int32)


@dataclass
class SplitArrays:
    """The sequences of one split: flat tokens, offsets and per-sequence columns."""

    tokens: np.ndarray
    offsets: np.ndarray
    units: np.ndarray
    bar_steps: np.ndarray
    source: np.ndarray

    @property
    def n_sequences(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sequence(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    @classmethod
    def from_sequences(cls, seqs: list, units, source, bar_steps=None) -> "SplitArrays":
        """Token sequences (arrays with their start and end tokens) and per-sequence columns
        (``bar_steps`` defaults to zeros: no bar grid). Tokens keep the sequences' integer
        dtype (a text corpus stays at one or two bytes a token)."""
        lengths = np.array([len(q) for q in seqs], np.int64)
        return cls(np.concatenate(seqs) if seqs else np.zeros(0, np.int64),
                   np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
                   np.asarray(units, np.int64).reshape(-1),
                   np.zeros(len(seqs), np.int64) if bar_steps is None else
                   np.asarray(bar_steps, np.int64), np.asarray(source, np.int64).reshape(-1))

    @classmethod
    def empty(cls) -> "SplitArrays":
        z = np.zeros(0, np.int64)
        return cls(z.astype(np.uint16), np.zeros(1, np.int64), z, z, z)

    @classmethod
    def concat(cls, parts: list["SplitArrays"], source_shift: list[int]) -> "SplitArrays":
        """Concatenate splits, adding ``source_shift[i]`` to the sources of part ``i``."""
        if not parts:
            return cls.empty()
        lengths = np.concatenate([p.lengths for p in parts])
        return cls(
            tokens=np.concatenate([np.asarray(p.tokens) for p in parts]),
            offsets=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            units=np.concatenate([p.units for p in parts]),
            bar_steps=np.concatenate([p.bar_steps for p in parts]),
            source=np.concatenate([p.source + s for p, s in zip(parts, source_shift)]),
        )


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)


def write_split(folder: str | os.PathLike, split: str, arrays: SplitArrays, dtype) -> None:
    """Write one split's arrays atomically (tokens cast to ``dtype``)."""
    folder = Path(folder)
    _save_npy(folder / f"{split}.tokens.npy", np.asarray(arrays.tokens).astype(dtype))
    _save_npy(folder / f"{split}.offsets.npy", arrays.offsets.astype(np.int64))
    for col in COLUMNS:
        _save_npy(folder / f"{split}.{col}.npy", getattr(arrays, col).astype(np.int64))


def write_meta(folder: str | os.PathLike, meta: dict) -> None:
    atomic_write_text(Path(folder) / "meta.json", json.dumps(meta) + "\n")


def write_dataset(out: str | os.PathLike, encoding, splits: dict[str, SplitArrays], *,
                  report: str | None = None, extra: dict | None = None) -> dict:
    """Write ``splits``, ``report`` (the text of report.jsonl) and meta.json as the dataset
    folder ``out``, swapped in whole (:func:`swap_in`); the one writer of dataset folders.

    ``encoding`` is an :class:`~melodyrnn.core.encoding.Encoding`: its description, vocabulary
    and unit go into meta.json, whose split sizes count that unit (``notes``, ``chars``).
    ``extra`` adds the writer's own keys (counts, files, split fractions...). Returns the meta.
    """
    return swap_in(out, lambda stage: _write_into(stage, encoding, splits, report, extra or {}))


def _write_into(out: Path, enc, splits: dict[str, SplitArrays], report: str | None,
                extra: dict) -> dict:
    if report is not None:
        atomic_write_text(out / "report.jsonl", report)
    dtype = token_dtype(len(enc.vocab))
    for split, arrays in splits.items():
        write_split(out, split, arrays, dtype)
    meta = {"format": FORMAT_VERSION, "melodyrnn_version": __version__, "unit": enc.unit,
            "encoding": enc.to_dict(), "vocab": enc.vocab.to_dict(), "token_dtype": dtype.name,
            "splits": {k: _sizes(v, enc.unit) for k, v in splits.items()}, **extra}
    write_meta(out, meta)
    return meta


def _sizes(arrays: SplitArrays, unit: str) -> dict:
    """Sequences, tokens and units of a split (a ``token`` unit is counted as tokens)."""
    row = {"sequences": arrays.n_sequences, "tokens": int(arrays.tokens.shape[0])}
    row.setdefault(f"{unit}s", int(arrays.units.sum()))
    return row


def swap_in(out: str | os.PathLike, fill: Callable[[Path], T]) -> T:
    """Write a dataset folder as a whole: ``fill(stage)`` writes the new dataset into a
    folder beside ``out``, which then replaces ``out`` in one rename (an exchange where
    the system has one), so readers see the old dataset or the new one, never a mix. The
    old folder's ingest cache (``.cache``) moves into the new one; leftovers of an
    interrupted swap are cleaned up (or the old dataset put back) first.

    Raises
    ------
    ValueError
        When ``out`` is an existing folder with files that are not a dataset's.
    """
    out = check_output(out)
    stage = staging_dir(f".{out.name}.new-", out.parent)
    try:
        result = fill(stage)
        if (out / ".cache").is_dir():
            os.rename(out / ".cache", stage / ".cache")
        if not out.exists():
            os.rename(stage, out)
        elif _exchange(stage, out):
            shutil.rmtree(stage, ignore_errors=True)  # now the old dataset
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "data")
            os.rename(stage, out)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return result


def check_output(out: str | os.PathLike) -> Path:
    """``out`` as a Path, after :func:`recover`; ValueError when it exists and holds files
    that are not a dataset's (a swap would take them away)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "meta.json").is_file()
                                              and not (out / ".cache").is_dir())):
        raise ValueError(f"{out} exists and is not a dataset folder; choose a new --output")
    return out


def recover(out: Path) -> None:
    """Undo what an interrupted :func:`swap_in` left beside ``out``."""
    for left in sorted(out.parent.glob(f".{out.name}.old-*")):
        if not out.exists() and (left / "data").is_dir():
            os.rename(left / "data", out)  # killed between the two renames: the old dataset back
        shutil.rmtree(left, ignore_errors=True)
    for left in out.parent.glob(f".{out.name}.new-*"):
        shutil.rmtree(left, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


@dataclass
class Dataset:
    """A dataset folder opened for reading; token arrays are memory-mapped."""

    path: Path
    meta: dict
    splits: dict[str, SplitArrays]

    @property
    def vocab_size(self) -> int:
        return len(self.meta["vocab"]["tokens"])

    def split(self, name: str) -> SplitArrays:
        if name not in self.splits:
            raise ValueError(f"no split {name!r}; choose from {', '.join(self.splits)}")
        return self.splits[name]

    def id_counts(self, name: str) -> list[int]:
        """How often each id occurs in split ``name`` (checkpoints record the train split's)."""
        return np.bincount(np.asarray(self.split(name).tokens), minlength=self.vocab_size).tolist()

    def split_files(self, name: str) -> list[str]:
        """The source files whose sequences went to split ``name``, sorted."""
        self.split(name)  # an unknown split is an error here too
        return sorted(f["path"] for f in self.meta.get("files", []) if f.get("split") == name)


def load_dataset(folder: str | os.PathLike, mmap: bool = True) -> Dataset:
    """Open a dataset folder.

    Raises
    ------
    ValueError
        When the folder is not a melodyrnn dataset or its arrays disagree with meta.json.
    """
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{folder} is not a dataset folder (no meta.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{meta_path}: unreadable meta.json ({e})") from None
    _check_meta(meta, folder)
    splits = {}
    for split in SPLITS:
        try:
            cols = {c: np.load(folder / f"{split}.{c}.npy", allow_pickle=False)
                    for c in ("offsets",) + COLUMNS}
            tokens = np.load(folder / f"{split}.tokens.npy", allow_pickle=False,
                             mmap_mode="r" if mmap and expected_tokens(meta, split) else None)
        except (OSError, ValueError, EOFError) as e:
            reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
            raise ValueError(f"{folder}: unreadable {split} arrays ({reason})") from None
        arrays = SplitArrays(tokens=tokens, **cols)
        expected = meta["splits"].get(split, {})
        if (arrays.n_sequences, tokens.shape[0]) != (expected.get("sequences"),
                                                     expected.get("tokens")) \
                or any(getattr(arrays, c).shape != (arrays.n_sequences,) for c in COLUMNS) \
                or tokens.ndim != 1 or tokens.dtype.kind not in "ui" or not _offsets_ok(arrays):
            raise ValueError(f"{folder}: {split} arrays do not match meta.json")
        _check_ids(tokens, len(meta["vocab"]["tokens"]), f"{folder}: {split}")
        splits[split] = arrays
    return Dataset(folder, meta, splits)


def _check_ids(tokens: np.ndarray, vocab_size: int, where: str) -> None:
    """ValueError when a token array holds an id outside ``[0, vocab_size)`` (a vocabulary
    cut short in meta.json: every model of it would index past its embeddings)."""
    if not tokens.shape[0]:
        return
    low, high = int(tokens.min()), int(tokens.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{where} holds id {high if high >= vocab_size else low}, outside the "
                         f"vocabulary of {vocab_size} tokens in meta.json")


def _offsets_ok(a: SplitArrays) -> bool:
    o = a.offsets
    return (o.ndim == 1 and o.size >= 1 and o[0] == 0 and o[-1] == a.tokens.shape[0]
            and bool((np.diff(o) >= 0).all()))


def _check_meta(meta, folder: Path) -> None:
    """A dataset's meta.json: the keys and types every reader relies on, or ValueError."""
    if not isinstance(meta, dict):
        raise ValueError(f"{folder}: meta.json is not an object")
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"{folder}: dataset format {meta.get('format')!r} is not supported")
    enc, vocab, splits = meta.get("encoding"), meta.get("vocab"), meta.get("splits")
    if not (isinstance(enc, dict) and isinstance(enc.get("name"), str)):
        raise ValueError(f"{folder}: meta.json names no encoding")
    if not (isinstance(vocab, dict) and isinstance(vocab.get("tokens"), list)
            and all(isinstance(t, str) for t in vocab["tokens"])):
        raise ValueError(f"{folder}: meta.json has no vocabulary of token strings")
    if not (isinstance(splits, dict) and all(isinstance(splits.get(s), dict) for s in SPLITS)):
        raise ValueError(f"{folder}: meta.json lacks the sizes of its splits")
    files = meta.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path", ""), str)
                                              for f in files):
        raise ValueError(f"{folder}: meta.json's files must be a list of file records")


def expected_tokens(meta: dict, split: str) -> int:
    return int(meta.get("splits", {}).get(split, {}).get("tokens", 0))


def describe(ds: Dataset, top: int = 10) -> dict:
    """Counts, split sizes, vocabulary usage and length statistics of a dataset."""
    tokens = ds.meta["vocab"]["tokens"]
    usage = np.zeros(len(tokens), np.int64)
    out: dict = {"path": str(ds.path), "encoding": ds.meta["encoding"], "files": ds.meta["counts"],
                 "unit": ds.meta.get("unit", "note"), "splits": {}}
    for name, arr in ds.splits.items():
        lengths = arr.lengths
        usage += np.bincount(np.asarray(arr.tokens), minlength=len(tokens))[:len(tokens)]
        row = _sizes(arr, out["unit"])
        if lengths.shape[0]:
            row["length"] = {"min": int(lengths.min()), "median": float(np.median(lengths)),
                             "mean": round(float(lengths.mean()), 1),
                             "p95": float(np.percentile(lengths, 95)), "max": int(lengths.max())}
        out["splits"][name] = row
    total = max(int(usage.sum()), 1)
    out["vocab"] = {"size": len(tokens), "used": int((usage > 0).sum()),
                    "top": [{"token": tokens[i], "share": round(usage[i] / total, 4)}
                            for i in np.argsort(-usage, kind="stable")[:top] if usage[i]]}
    out["stats"] = ds.meta.get("stats", {})
    return out
