"""The work of one ingest worker: a chunk of file contents -> token sequences + a record per file.

A chunk is parsed file by file (a bad file costs only itself) and then encoded in one
vectorised call, which is what makes ingest fast. Results are plain numpy arrays so they
pickle cheaply between processes and cache to ``.npz`` without pickles.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .encodings.base import EncodedBatch, concat_ragged
from .encodings.registry import encoding_from_dict
from .midi_io import read_midi_bytes
from .notes import Tune

__all__ = ["Limits", "FileRecord", "ChunkResult", "process_chunk", "CACHE_VERSION"]

CACHE_VERSION = 1
OK, SKIPPED, ERROR = "ok", "skipped", "error"


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
    """Records of a chunk's files and their sequences (``seq_file`` indexes ``records``)."""

    records: list[FileRecord]
    batch: EncodedBatch

    def sequences_of(self) -> list[list[int]]:
        """For each record, the indices of its sequences."""
        out: list[list[int]] = [[] for _ in self.records]
        for s, f in enumerate(self.batch.seq_tune.tolist()):
            out[f].append(s)
        return out


def _load(data: bytes, limits: Limits) -> tuple[Tune | None, str, str]:
    """(tune, status, reason) for one file's bytes."""
    try:
        tune = read_midi_bytes(data)
    except ValueError as e:
        return None, ERROR, str(e)
    n = tune.n_notes
    if n == 0:
        return None, SKIPPED, "no notes"
    if n > limits.max_notes:
        return None, SKIPPED, f"too many notes ({n} > {limits.max_notes})"
    if tune.end_beats > limits.max_beats:
        return None, SKIPPED, f"absurd length ({tune.end_beats:.0f} > {limits.max_beats:.0f} beats)"
    return tune, OK, ""


def _no_sequence_reason(stats: dict[str, int]) -> str:
    drops = {k: v for k, v in stats.items()
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
    return EncodedBatch(tokens, offsets, seq_tune, cat("seq_notes"), cat("seq_bar_steps"),
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
    records, tunes, tune_file = [], [], []
    for i, (digest, data) in enumerate(items):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tune, status, reason = _load(data, limits)
        rec = FileRecord(digest, status, reason, tune.n_notes if tune else 0,
                         warnings=[str(w.message) for w in caught])
        records.append(rec)
        if tune is not None:
            tunes.append(tune)
            tune_file.append(i)
    try:
        batch, errors = encoding.encode_tunes(tunes), [""] * len(tunes)
    except Exception:  # noqa: BLE001 - isolate the file that broke the vectorised pass
        batch, errors = _encode_isolated(encoding, tunes)
    tune_file_arr = np.asarray(tune_file, np.int64)
    batch.seq_tune = tune_file_arr[batch.seq_tune] if tune_file else batch.seq_tune
    n_seq = np.bincount(batch.seq_tune, minlength=len(items))
    for t, f in enumerate(tune_file):
        rec = records[f]
        rec.stats = {k: int(v[t]) for k, v in batch.stats.items() if v[t]}
        if errors[t]:
            rec.status, rec.reason = ERROR, errors[t]
        elif n_seq[f] == 0:
            rec.status, rec.reason = SKIPPED, _no_sequence_reason(rec.stats)
    batch.stats = {}
    return ChunkResult(records, batch)


def read_input(path: str, limits: Limits) -> tuple[str | None, bytes | str]:
    """(content hash, bytes) of a file, or (None, reason) when it cannot be read."""
    try:
        p = Path(path)
        size = p.stat().st_size
        if size > limits.max_file_bytes:
            return None, f"file too large ({size} bytes > {limits.max_file_bytes})"
        if not p.is_file():
            return None, "not a regular file"
        data = p.read_bytes()
    except FileNotFoundError:
        return None, "unreadable: no such file (dangling symlink?)"
    except OSError as e:
        return None, f"unreadable: {e.strerror or e}"
    return hashlib.blake2b(data, digest_size=16).hexdigest(), data
