"""``melodyrnn ingest``: MIDI collections -> token dataset folder + per-file report.

Files are found recursively here; worker processes read, hash, parse and encode them
in chunks, cached by content hash (so re-runs and resumed runs skip finished files),
split deterministically by content hash, and written with :mod:`melodyrnn.core.dataset`.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from melodyrnn.core.dataset import SPLITS, SplitArrays, assign_split, check_output, write_dataset
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.music.ingest.cache import ResultCache
from melodyrnn.music.ingest.files import discover
from melodyrnn.music.ingest.pool import ChunkRunner
from melodyrnn.music.ingest.worker import CACHED, ERROR, FAILED, OK, SKIPPED, ChunkResult, FileRecord, Limits

__all__ = ["IngestConfig", "IngestReport", "run_ingest"]



@dataclass(frozen=True)
class IngestConfig:
    """Everything ``melodyrnn ingest`` needs.

    Parameters
    ----------
    inputs : tuple of str
        Files and folders (searched recursively for MIDI suffixes).
    output : str
        Dataset folder to write.
    encoding : dict
        ``Encoding.to_dict()`` of the encoding to apply.
    valid, test : float
        Fractions of files (by content hash) for the valid and test splits.
    seed : int
        Salt of the split hash (0: the content hash itself).
    workers : int
        Worker processes; 0 = all cores.
    shard : (int, int) or None
        ``(i, n)``: process only the files whose path hashes to ``i`` mod ``n``.
    chunk_files : int
        Files per unit of work (and per cache file).
    limits : Limits
        Per-file size, note, length and time caps.
    progress : bool
        Show a progress bar on stderr.
    """

    inputs: tuple[str, ...]
    output: str
    encoding: dict
    valid: float = 0.05
    test: float = 0.05
    seed: int = 0
    workers: int = 0
    shard: tuple[int, int] | None = None
    chunk_files: int = 512
    limits: Limits = field(default_factory=Limits)
    progress: bool = True

    def __post_init__(self) -> None:
        if not (0 <= self.valid < 1 and 0 <= self.test < 1 and self.valid + self.test < 1):
            raise ValueError("valid and test fractions must be >= 0 and sum to less than 1")
        if self.shard is not None and not 0 <= self.shard[0] < self.shard[1]:
            raise ValueError("shard must be i/n with 0 <= i < n")


@dataclass
class IngestReport:
    """Outcome of an ingest run; ``exit_code`` maps it to the process status."""

    files: int = 0
    status: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    stats: Counter = field(default_factory=Counter)
    splits: dict = field(default_factory=dict)
    cached: int = 0
    cache_broken: int = 0  #: damaged cache files removed (their files parsed again)
    seconds: float = 0.0

    @property
    def sequences(self) -> int:
        return sum(s["sequences"] for s in self.splits.values())

    @property
    def exit_code(self) -> int:
        return 0 if self.sequences > 0 else 1

    def summary(self) -> str:
        s = self.status
        lines = [f"{self.files} files: {s[OK]} ok, {s[SKIPPED]} skipped, {s[ERROR]} errors"
                 f" ({self.cached} from cache) in {self.seconds:.1f} s"
                 + (f"; {self.cache_broken} damaged cache files removed and their files read again"
                    if self.cache_broken else ""),
                 "sequences " + ", ".join(f"{k} {v['sequences']} ({v['tokens']} tokens)"
                                          for k, v in self.splits.items())]
        if self.stats:
            lines.append("alterations and drops: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.stats.items()) if v and k != "melodies"))
        for reason, n in self.reasons.most_common(8):
            lines.append(f"  {n:6d} x {reason}")
        return "\n".join(lines)


def _in_shard(path: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or zlib.crc32(path.encode("utf-8", "surrogateescape")) % shard[1] == shard[0]


class _Assembler:
    """Turns per-file outcomes into split rows and report lines as they arrive.

    Runs in the main process while workers parse the next chunks, so that little is
    left to do once the last chunk is in.
    """

    def __init__(self, cfg: IngestConfig, report: IngestReport) -> None:
        self.cfg, self.report = cfg, report
        self.parts: dict[str, list] = {s: [] for s in SPLITS}
        self.lines: list[dict] = []
        self.texts: list[str] = []
        self._bounds: dict[int, tuple] = {}  # per chunk result: (it, first sequence of each file)

    def add(self, path: str, rec: FileRecord, result: ChunkResult | None = None,
            row: int = -1) -> None:
        split, n_seq = None, 0
        if rec.status == OK and result is not None:
            kept = self._bounds.get(id(result))
            if kept is None or kept[0] is not result:
                # the result is kept with its bounds: a freed result's id could be reused
                kept = self._bounds[id(result)] = (result, result.sequence_bounds().tolist())
            b = kept[1]
            split = assign_split(rec.hash, self.cfg.valid, self.cfg.test, self.cfg.seed)
            n_seq = b[row + 1] - b[row]
            self.parts[split].append((result.batch, b[row], b[row + 1], len(self.lines)))
        line = {"path": path, "status": rec.status, "reason": rec.reason, "sequences": n_seq,
                "notes": rec.notes, "split": split, "hash": rec.hash, "stats": rec.stats,
                "warnings": rec.warnings}
        self.lines.append(line)
        self.texts.append(report_line(line))
        self.report.status[rec.status] += 1
        self.report.stats.update(rec.stats)
        if rec.reason:
            self.report.reasons[rec.reason.split(" (")[0]] += 1

    def splits(self) -> dict[str, SplitArrays]:
        return {s: _stack(rows) if rows else SplitArrays.empty() for s, rows in self.parts.items()}


def _collect(cfg: IngestConfig, paths: list[str], cache: ResultCache, out: _Assembler) -> None:
    """Process every file on the workers, feeding outcomes to ``out`` in input order."""
    from tqdm import tqdm

    bar = tqdm(total=len(paths), unit="file", disable=not cfg.progress or None, leave=False,
               desc="ingest")
    chunks = (paths[i:i + cfg.chunk_files] for i in range(0, len(paths), cfg.chunk_files))
    workers = cfg.workers or os.cpu_count() or 1
    with ChunkRunner(workers, cfg.encoding, cfg.limits, cache.hashes()) as runner:
        for chunk, done in runner.run(chunks):
            if len(done.result):
                cache.save(done.result)
            for path, digest, index, reason in zip(chunk, done.hashes, done.index, done.reasons):
                if index == FAILED:
                    out.add(path, FileRecord("", ERROR, reason))
                    continue
                result, row = (done.result, index) if index >= 0 else cache.get(digest)
                out.report.cached += index == CACHED
                out.add(path, result.record(row), result, row)
            bar.update(len(chunk))
    bar.close()


def _stack(rows: list) -> SplitArrays:
    """SplitArrays of (batch, first sequence, end sequence, source) row ranges."""
    tokens, lengths, notes, bars, source = [], [], [], [], []
    for batch, a, b, src in rows:
        offs = batch.offsets
        tokens.append(batch.tokens[offs[a]:offs[b]])
        lengths.append(np.diff(offs[a:b + 1]))
        notes.append(batch.seq_units[a:b])
        bars.append(batch.seq_bar_steps[a:b])
        source.append(np.full(b - a, src, np.int64))
    offsets = np.concatenate(([0], np.cumsum(np.concatenate(lengths))))
    return SplitArrays(np.concatenate(tokens), offsets, np.concatenate(notes),
                       np.concatenate(bars), np.concatenate(source))


def report_line(line: dict) -> str:
    """One report.jsonl line: readable UTF-8, or escaped where a file name is not valid
    UTF-8 (its bytes come back as the same path through ``json.loads``)."""
    text = json.dumps(line, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(line)
    return text


def run_ingest(cfg: IngestConfig) -> IngestReport:
    """Ingest ``cfg.inputs`` into ``cfg.output``; see :class:`IngestConfig`.

    Raises
    ------
    ValueError
        For unusable arguments (missing inputs, bad encoding options).
    OSError
        When the output folder cannot be written.
    """
    t0 = time.perf_counter()
    encoding_from_dict(cfg.encoding)  # validate early
    paths = [p for p in discover(cfg.inputs) if _in_shard(p, cfg.shard)]
    out = check_output(cfg.output)
    cache = ResultCache(out, cfg.encoding, cfg.limits)
    cache.load()
    report = IngestReport(files=len(paths), cache_broken=cache.broken)
    assembler = _Assembler(cfg, report)
    _collect(cfg, paths, cache, assembler)
    extra = {"split_fractions": {"valid": cfg.valid, "test": cfg.test, "seed": cfg.seed},
             "shard": f"{cfg.shard[0]}/{cfg.shard[1]}" if cfg.shard else None,
             "limits": asdict(cfg.limits), "stats": dict(report.stats)}
    lines = assembler.lines
    texts = assembler.texts if assembler.texts is not None else [report_line(ln) for ln in lines]
    status = Counter(line["status"] for line in lines)
    extra = {"counts": {"files": len(lines), **{k: status[k] for k in (OK, SKIPPED, ERROR)}},
             "files": [{k: line[k] for k in ("path", "hash", "status", "split", "sequences")}
                       for line in lines], **extra}
    meta = write_dataset(out, encoding_from_dict(cfg.encoding), assembler.splits(),
                         report="".join(t + "\n" for t in texts), extra=extra)
    report.splits = meta["splits"]
    report.seconds = time.perf_counter() - t0
    return report
