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

from melodyrnn.core.encoding import EncodedBatch, concat_ragged
from melodyrnn.music.ingest.worker import FAILED, ChunkResult, Limits, PathsResult, process_paths
from melodyrnn.music.midi_io import load_parser

__all__ = ["ChunkRunner", "merge_results"]

Paths = list[str]


def merge_results(results: list[ChunkResult]) -> ChunkResult:
    """Concatenate chunk results into one (files in order, sequences re-indexed)."""
    names = sorted({k for r in results for k in r.stat_names})
    table = np.zeros((sum(len(r) for r in results), len(names)), np.int64)
    seqs, seq_tune, notes, bars = [], [], [], []
    shift = 0
    for r in results:
        for j, k in enumerate(r.stat_names):
            table[shift:shift + len(r), names.index(k)] = r.stat_table[:, j]
        b = r.batch
        seqs.extend(b.sequence(i) for i in range(b.n_sequences))
        seq_tune.append(b.seq_tune + shift)
        notes.append(b.seq_units)
        bars.append(b.seq_bar_steps)
        shift += len(r)
    tokens, offsets = concat_ragged(seqs)
    cat = (lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64))
    col = (lambda attr: [x for r in results for x in getattr(r, attr)])
    return ChunkResult(col("hashes"), col("status"), col("reason"), col("notes"),
                       col("warnings"), names, table,
                       EncodedBatch(tokens, offsets, cat(seq_tune), cat(notes), cat(bars)))


def _empty_result() -> ChunkResult:
    z = np.zeros(0, np.int64)
    return ChunkResult([], [], [], [], [], [], np.zeros((0, 0), np.int64),
                       EncodedBatch(z, np.zeros(1, np.int64), z, z, z))


def merge_paths_results(parts: list[PathsResult]) -> PathsResult:
    """Concatenate the results of consecutive path lists."""
    hashes, index, reasons, shift = [], [], [], 0
    for part in parts:
        hashes += part.hashes
        reasons += part.reasons
        index += [i + shift if i >= 0 else i for i in part.index]
        shift += len(part.result)
    return PathsResult(hashes, index, reasons, merge_results([p.result for p in parts]))


class ChunkRunner:
    """Process chunks on ``workers`` processes, yielding results in submission order."""

    def __init__(self, workers: int, encoding_dict: dict, limits: Limits,
                 cached: frozenset = frozenset()) -> None:
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self._ctx = mp.get_context(method)
        self._workers = max(1, workers)
        self._args = (encoding_dict, limits, cached)
        self._limits = limits
        self._pool = None

    def __enter__(self) -> "ChunkRunner":
        load_parser()  # once here, so forked workers inherit it instead of each importing it
        self._pool = self._ctx.Pool(self._workers)
        return self

    def __exit__(self, *exc) -> None:
        self._pool.terminate()
        self._pool.join()

    def _submit(self, paths: Paths):
        return self._pool.apply_async(process_paths, (paths,) + self._args)

    def _restart(self) -> None:
        self._pool.terminate()
        self._pool.join()
        self._pool = self._ctx.Pool(self._workers)

    def run(self, chunks: Iterable[Paths]) -> Iterator[tuple[Paths, PathsResult]]:
        window: deque = deque()
        for items in chunks:
            window.append([items, self._submit(items)])
            while len(window) >= 2 * self._workers:
                yield self._finish(window)
        while window:
            yield self._finish(window)

    def _finish(self, window: deque) -> tuple[Paths, PathsResult]:
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

    def _isolate(self, paths: Paths) -> PathsResult:
        """Retry a failed chunk file by file, each under the per-file time cap."""
        cap = self._limits.file_timeout_seconds
        parts = []
        pool = self._ctx.Pool(1)
        try:
            for path in paths:
                pending = pool.apply_async(process_paths, ([path],) + self._args)
                try:
                    parts.append(pending.get(cap))
                    continue
                except mp.TimeoutError:
                    reason = f"timed out after {cap:g} s"
                    pool.terminate()
                    pool = self._ctx.Pool(1)
                except Exception as e:  # noqa: BLE001
                    reason = f"worker failed: {type(e).__name__}: {e}"
                parts.append(PathsResult([None], [FAILED], [reason], _empty_result()))
        finally:
            pool.terminate()
            pool.join()
        return merge_paths_results(parts)
