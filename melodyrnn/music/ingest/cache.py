"""Per-chunk ingest results cached by file content hash, as pickle-free ``.npz`` files.

Each finished chunk is saved atomically under ``DATASET/.cache/<key>/`` where ``key``
hashes the encoding, the limits and the cache format. A re-run over the same inputs
(or a run resumed after a kill) finds every finished file by its content hash and skips
parsing it.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from melodyrnn.core.atomic import atomic_path
from melodyrnn.core.encoding import EncodedBatch
from melodyrnn.music.ingest.worker import CACHE_VERSION, ChunkResult, Limits

__all__ = ["ResultCache"]


def _key(encoding_dict: dict, limits: Limits) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "encoding": encoding_dict, "limits": asdict(limits)},
                      sort_keys=True)
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


class ResultCache:
    """Finished chunk results of one encoding, looked up by file content hash."""

    def __init__(self, dataset_dir: str | Path, encoding_dict: dict, limits: Limits) -> None:
        self.folder = Path(dataset_dir) / ".cache" / _key(encoding_dict, limits)
        self.index: dict[str, tuple[ChunkResult, int]] = {}
        self.broken = 0  #: cache files found damaged (cut short, garbled) and removed

    def load(self) -> int:
        """Read every cached chunk; returns the number of files found. A damaged chunk
        file counts as missing (its files are parsed again) and is removed."""
        if not self.folder.is_dir():
            return 0
        for path in sorted(self.folder.glob("chunk-*.npz")):
            try:
                self.add(_read(path))
            except (OSError, ValueError, KeyError, EOFError, IndexError, zipfile.BadZipFile):
                self.broken += 1
                path.unlink(missing_ok=True)
        return len(self.index)

    def add(self, result: ChunkResult) -> None:
        for i, digest in enumerate(result.hashes):
            self.index[digest] = (result, i)

    def get(self, digest: str) -> tuple[ChunkResult, int] | None:
        return self.index.get(digest)

    def hashes(self) -> frozenset:
        """Content hashes of every cached file."""
        return frozenset(self.index)

    def save(self, result: ChunkResult) -> None:
        """Write one chunk result atomically (named by the hashes it holds)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.blake2b("".join(result.hashes).encode(), digest_size=8).hexdigest()
        b = result.batch
        with atomic_path(self.folder / f"chunk-{name}.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, hashes=np.array(result.hashes, dtype=str),
                         status=np.array(result.status, dtype=str),
                         reason=np.array(result.reason, dtype=str),
                         notes=np.asarray(result.notes, np.int64),
                         warnings=np.array(json.dumps(result.warnings)),
                         stat_names=np.array(result.stat_names, dtype=str),
                         stat_table=result.stat_table, tokens=b.tokens, offsets=b.offsets,
                         seq_tune=b.seq_tune, seq_units=b.seq_units,
                         seq_bar_steps=b.seq_bar_steps)


def _read(path: Path) -> ChunkResult:
    with np.load(path, allow_pickle=False) as z:
        batch = EncodedBatch(z["tokens"], z["offsets"], z["seq_tune"], z["seq_units"], z["seq_bar_steps"])
        n = z["hashes"].shape[0]
        table = z["stat_table"].reshape(n, -1)
        _check(batch, n, [z[k].shape[0] for k in ("status", "reason", "notes")])
        return ChunkResult(z["hashes"].tolist(), z["status"].tolist(), z["reason"].tolist(),
                           z["notes"].tolist(), json.loads(str(z["warnings"])),
                           z["stat_names"].tolist(), table, batch)


def _check(batch: EncodedBatch, n: int, columns: list[int]) -> None:
    """ValueError unless a cached chunk's arrays agree with one another (a garbled file
    that still unzips)."""
    offsets, seqs = batch.offsets, batch.seq_tune.shape[0]
    if (any(c != n for c in columns) or offsets.ndim != 1 or offsets.shape[0] != seqs + 1
            or offsets[0] != 0 or offsets[-1] != batch.tokens.shape[0] or (offsets[1:] < offsets[:-1]).any()
            or batch.seq_units.shape[0] != seqs or batch.seq_bar_steps.shape[0] != seqs
            or (seqs and not 0 <= batch.seq_tune.min() <= batch.seq_tune.max() < n)):
        raise ValueError("inconsistent cached chunk")
