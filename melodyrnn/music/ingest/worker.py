"""The work of one ingest worker: a chunk of file contents -> token sequences + a record per file.

A chunk is parsed file by file (a bad file costs only itself) and then encoded in one
vectorised call, which is what makes ingest fast. Results are plain numpy arrays so they
pickle cheaply between processes and cache to ``.npz`` without pickles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from melodyrnn.core.encoding import EncodedBatch, concat_ragged
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.core.inputs import InputError, read_guarded
from melodyrnn.music.midi_io import ReadLimits, TooLarge, read_midi_batch
from melodyrnn.music.notes import Tune

__all__ = ["Limits", "FileRecord", "ChunkResult", "PathsResult", "process_chunk",
           "process_paths", "read_input", "CACHE_VERSION", "CACHED", "FAILED"]

CACHE_VERSION = 1
OK, SKIPPED, ERROR = "ok", "skipped", "error"
CACHED, FAILED = -1, -2  # PathsResult.index for a cache hit and for an unreadable file


@dataclass(frozen=True)
class Limits:
    """Per-file caps that keep absurd files from eating a worker.

    Parameters
    ----------
    max_file_bytes : int
        Larger files are skipped unread.
    max_notes : int
        Files with more notes are skipped.
    max_beats : float
        Files whose last note ends later (in quarter-note beats) are skipped.
    chunk_timeout_seconds : float
        A chunk taking longer is retried file by file; a file alone taking longer than
        ``file_timeout_seconds`` is reported as an error.
    """

    max_file_bytes: int = 32 * 2 ** 20
    max_notes: int = 100_000
    max_beats: float = 100_000.0
    chunk_timeout_seconds: float = 120.0
    file_timeout_seconds: float = 20.0


@dataclass
class FileRecord:
    """What became of one input file (its report line, less path and split)."""

    hash: str
    status: str
    reason: str = ""
    notes: int = 0
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


@dataclass
class ChunkResult:
    """What became of a chunk's files, column by column, and their token sequences.

    Columns have one entry per file; ``stat_table[i, j]`` counts ``stat_names[j]`` in
    file ``i``; ``batch.seq_tune`` gives each sequence's file. Columns (rather than one
    object per file) keep the transfer between processes and the cache cheap.
    """

    hashes: list[str]
    status: list[str]
    reason: list[str]
    notes: list[int]
    warnings: list[list[str]]
    stat_names: list[str]
    stat_table: np.ndarray
    batch: EncodedBatch

    def __len__(self) -> int:
        return len(self.hashes)

    def record(self, i: int) -> FileRecord:
        """The record of file ``i``."""
        stats = {k: int(v) for k, v in zip(self.stat_names, self.stat_table[i]) if v}
        return FileRecord(self.hashes[i], self.status[i], self.reason[i], int(self.notes[i]),
                          stats, list(self.warnings[i]))

    def sequence_bounds(self) -> np.ndarray:
        """Sequences of file ``i`` are ``range(b[i], b[i + 1])`` (they come in file order)."""
        return np.searchsorted(self.batch.seq_tune, np.arange(len(self) + 1))


def _no_sequence_reason(names: list[str], counts: list[int]) -> str:
    drops = {k: v for k, v in zip(names, counts)
             if v and (k.endswith(("too_short", "too_few_pitches")) or k == "drum_tracks_skipped")}
    if not drops:
        return "no sequence"
    return "no sequence: " + ", ".join(f"{k}={v}" for k, v in sorted(drops.items()))


def _encode_isolated(encoding, tunes: list[Tune]) -> tuple[EncodedBatch, list[str]]:
    """Encode tune by tune after a batch failure; failures become per-tune errors."""
    parts, errors = [], []
    for tune in tunes:
        try:
            parts.append(encoding.encode_tunes([tune]))
            errors.append("")
        except Exception as e:  # noqa: BLE001 - a bug on one odd file must not sink the chunk
            parts.append(None)
            errors.append(f"encoding failed: {type(e).__name__}: {e}")
    good = [p for p in parts if p is not None]
    names = sorted({k for p in good for k in p.stats})
    tokens, offsets = concat_ragged([p.sequence(i) for p in good for i in range(p.n_sequences)])
    seq_tune = np.concatenate([np.full(p.n_sequences, i) for i, p in enumerate(parts)
                               if p is not None] or [np.zeros(0)]).astype(np.int64)
    stats = {k: np.array([int(p.stats[k][0]) if p is not None and k in p.stats else 0
                          for p in parts], np.int64) for k in names}
    cat = (lambda a: np.concatenate([getattr(p, a) for p in good] or [np.zeros(0, np.int64)]))
    return EncodedBatch(tokens, offsets, seq_tune, cat("seq_units"), cat("seq_bar_steps"),
                        stats), errors


def process_chunk(items: list[tuple[str, bytes]], encoding_dict: dict,
                  limits: Limits) -> ChunkResult:
    """Parse and encode a chunk of files.

    Parameters
    ----------
    items : list of (hash, data)
        File content hash and bytes.
    encoding_dict : dict
        :meth:`Encoding.to_dict` of the encoding to apply.
    limits : Limits
    """
    encoding = encoding_from_dict(encoding_dict)
    read = read_midi_batch([data for _, data in items],
                           ReadLimits(limits.max_notes, limits.max_beats), key_signatures=False)
    n_notes = read.batch.notes_per_tune().tolist()
    status, reason = [], []
    for failure, n in zip(read.failures, n_notes):
        if failure is not None:
            status.append(SKIPPED if isinstance(failure, TooLarge) else ERROR)
            reason.append(str(failure))
        else:
            status.append(OK if n else SKIPPED)
            reason.append("" if n else "no notes")
    try:
        batch, errors = encoding.encode_tunes(read.batch), None
    except Exception:  # noqa: BLE001 - isolate the file that broke the vectorised pass
        batch, errors = _encode_isolated(encoding, [read.batch.tune(i) for i in range(len(items))])
    names = sorted(batch.stats)
    table = (np.stack([batch.stats[k] for k in names], axis=1) if names
             else np.zeros((len(items), 0), np.int64))
    n_seq = np.bincount(batch.seq_tune, minlength=len(items))
    for f in np.flatnonzero(n_seq == 0).tolist():
        if status[f] == OK:
            status[f], reason[f] = SKIPPED, _no_sequence_reason(names, table[f].tolist())
    for f, error in enumerate(errors or ()):
        if error and status[f] != ERROR:
            status[f], reason[f] = ERROR, error
    batch.stats = {}
    return ChunkResult([h for h, _ in items], status, reason, n_notes, read.notes, names,
                       table.astype(np.int64), batch)


def read_input(path: str, limits: Limits) -> tuple[str | None, bytes | str]:
    """(content hash, bytes) of a file, or (None, reason) when it cannot be read
    (:func:`melodyrnn.core.inputs.read_guarded`: regular files only, never blocking)."""
    try:
        data = read_guarded(path, limits.max_file_bytes)
    except FileNotFoundError:
        return None, "unreadable: no such file (dangling symlink?)"
    except OSError as e:
        return None, f"unreadable: {e.strerror or e}"
    except InputError as e:
        return None, e.reason
    return hashlib.blake2b(data, digest_size=16).hexdigest(), data


@dataclass
class PathsResult:
    """What a worker made of a list of paths.

    ``index[i]`` is the row of path ``i`` in ``result`` (files parsed now), or
    :data:`CACHED` (its hash, ``hashes[i]``, was in the cache) or :data:`FAILED`
    (unreadable; ``reasons[i]`` says why and ``hashes[i]`` is None).
    """

    hashes: list[str | None]
    index: list[int]
    reasons: list[str]
    result: ChunkResult


def process_paths(paths: list[str], encoding_dict: dict, limits: Limits,
                  cached: frozenset = frozenset()) -> PathsResult:
    """Read, hash and (unless ``cached`` holds the hash) parse and encode files."""
    hashes, index, reasons, items = [], [], [], []
    rows: dict[str, int] = {}
    for path in paths:
        digest, data = read_input(path, limits)
        hashes.append(digest)
        reasons.append("" if digest else data)
        if digest is None:
            index.append(FAILED)
        elif digest in cached:
            index.append(CACHED)
        elif digest in rows:  # the same content twice in one chunk: parse once
            index.append(rows[digest])
        else:
            index.append(rows.setdefault(digest, len(items)))
            items.append((digest, data))
    return PathsResult(hashes, index, reasons, process_chunk(items, encoding_dict, limits))
