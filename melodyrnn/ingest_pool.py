"""Run ingest chunks on worker processes with time caps.

A chunk that exceeds its time cap (a pathological file, a parser stuck in C++) gets its
pool killed; its files are then retried one by one in a fresh process each under a per-file
cap, so the one bad file is reported as an error and every other file still gets through.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections import deque
from typing import Iterable, Iterator

import numpy as np

from .encodings.base import EncodedBatch, concat_ragged
from .ingest_worker import ERROR, ChunkResult, FileRecord, Limits, process_chunk

__all__ = ["ChunkRunner", "merge_results"]

Items = list[tuple[str, bytes]]


def merge_results(results: list[ChunkResult]) -> ChunkResult:
    """Concatenate chunk results into one (records in order, sequences re-indexed)."""
    records = [r for res in results for r in res.records]
    seqs, seq_tune, notes, bars = [], [], [], []
    shift = 0
    for res in results:
        b = res.batch
        seqs.extend(b.sequence(i) for i in range(b.n_sequences))
        seq_tune.append(b.seq_tune + shift)
        notes.append(b.seq_notes)
        bars.append(b.seq_bar_steps)
        shift += len(res.records)
    tokens, offsets = concat_ragged(seqs)
    cat = (lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64))
    return ChunkResult(records, EncodedBatch(tokens, offsets, cat(seq_tune), cat(notes), cat(bars)))


def _failed(digest: str, reason: str) -> ChunkResult:
    z = np.zeros(0, np.int64)
    return ChunkResult([FileRecord(digest, ERROR, reason)], EncodedBatch(z, np.zeros(1, np.int64),
                                                                         z, z, z))


class ChunkRunner:
    """Process chunks on ``workers`` processes, yielding results in submission order."""

    def __init__(self, workers: int, encoding_dict: dict, limits: Limits) -> None:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self._ctx = mp.get_context(method)
        self._workers = max(1, workers)
        self._args = (encoding_dict, limits)
        self._limits = limits
        self._pool = None

    def __enter__(self) -> "ChunkRunner":
        self._pool = self._ctx.Pool(self._workers)
        return self

    def __exit__(self, *exc) -> None:
        self._pool.terminate()
        self._pool.join()

    def _submit(self, items: Items):
        return self._pool.apply_async(process_chunk, (items,) + self._args)

    def _restart(self) -> None:
        self._pool.terminate()
        self._pool.join()
        self._pool = self._ctx.Pool(self._workers)

    def run(self, chunks: Iterable[Items]) -> Iterator[tuple[Items, ChunkResult]]:
        window: deque = deque()
        for items in chunks:
            window.append([items, self._submit(items)])
            while len(window) >= 2 * self._workers:
                yield self._finish(window)
        while window:
            yield self._finish(window)

    def _finish(self, window: deque) -> tuple[Items, ChunkResult]:
        items, pending = window.popleft()
        try:
            return items, pending.get(self._limits.chunk_timeout_seconds)
        except mp.TimeoutError:
            self._restart()
            for entry in window:  # the old pool died with them
                entry[1] = self._submit(entry[0])
        except Exception:  # noqa: BLE001 - a worker died or raised: find the file that did it
            pass
        return items, self._isolate(items)

    def _isolate(self, items: Items) -> ChunkResult:
        """Retry a failed chunk file by file, each under the per-file time cap."""
        cap = self._limits.file_timeout_seconds
        results = []
        pool = self._ctx.Pool(1)
        try:
            for digest, data in items:
                pending = pool.apply_async(process_chunk, ([(digest, data)],) + self._args)
                try:
                    results.append(pending.get(cap))
                except mp.TimeoutError:
                    results.append(_failed(digest, f"timed out after {cap:g} s"))
                    pool.terminate()
                    pool = self._ctx.Pool(1)
                except Exception as e:  # noqa: BLE001
                    results.append(_failed(digest, f"worker failed: {type(e).__name__}: {e}"))
        finally:
            pool.terminate()
            pool.join()
        return merge_results(results)
