"""Ingest speed: melodyrnn against symusic parse-only and miditok's REMI, in one run.

    python benchmarks/ingest.py [--data DIR] [--limit N]

DIR defaults to $MELODYRNN_DATA/midi. Every contender reads the same files, after one
warm-up pass so that all of them read from the page cache. Prints files/s and notes/s for

- symusic parse only (``Score(path)``): the practical limit of any Python MIDI pipeline;
- miditok REMI (``tokenizer.encode(path)``): what users tokenise with today;
- ``melodyrnn ingest`` (melody encoding) on 1 worker and on all cores, end to end:
  discovery, hashing, parsing, melody extraction, encoding, and writing the dataset;

each the fastest of ``--repeat`` runs (3), then the ratios behind the goals:
melodyrnn (1 worker) >= 10x miditok's files/s and
>= 20% of symusic's parse-only rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def bench_symusic(files: list[str]) -> tuple[float, int]:
    from symusic import Score

    t = time.perf_counter()
    notes = sum(s.note_num() for s in (Score(f) for f in files))
    return time.perf_counter() - t, notes


def bench_miditok(files: list[str]) -> tuple[float, int]:
    from miditok import REMI, TokenizerConfig

    tokenizer = REMI(TokenizerConfig())
    t = time.perf_counter()
    for f in files:
        tokenizer.encode(Path(f))
    return time.perf_counter() - t, 0


def bench_melodyrnn(inputs: tuple[str, ...], workers: int) -> tuple[float, int]:
    import json

    from melodyrnn.core.registry import get_encoding
    from melodyrnn.music.ingest.build import IngestConfig, run_ingest

    with tempfile.TemporaryDirectory() as tmp:
        cfg = IngestConfig(inputs=inputs, output=str(Path(tmp) / "ds"),
                           encoding=get_encoding("melody").to_dict(), workers=workers,
                           progress=False)
        t = time.perf_counter()
        run_ingest(cfg)
        dt = time.perf_counter() - t
        notes = sum(json.loads(line)["notes"]
                    for line in (Path(tmp) / "ds" / "report.jsonl").read_text().splitlines())
    return dt, notes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("MELODYRNN_DATA", "../shared/data")) / "midi"
    ap.add_argument("--data", type=Path, default=default)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N files")
    ap.add_argument("--skip-miditok", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each contender; the fastest counts (timeit's rule)")
    args = ap.parse_args()
    from melodyrnn.music.ingest.files import discover

    files = discover([str(args.data)])
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no MIDI files under {args.data}", file=sys.stderr)
        return 1
    for f in files:  # warm the page cache for everyone
        Path(f).read_bytes()
    cores = os.cpu_count() or 1
    best = (lambda fn, *a: min((fn(*a) for _ in range(args.repeat)), key=lambda r: r[0]))
    rows = {}
    rows["symusic parse only"] = best(bench_symusic, files)
    notes = rows["symusic parse only"][1]
    if not args.skip_miditok:
        rows["miditok REMI"] = (best(bench_miditok, files)[0], notes)
    inputs = tuple(files) if args.limit else (str(args.data),)  # a folder is walked, as users do
    rows["melodyrnn ingest, 1 worker"] = best(bench_melodyrnn, inputs, 1)
    rows[f"melodyrnn ingest, {cores} workers"] = best(bench_melodyrnn, inputs, cores)
    print(f"{len(files)} files, {notes} notes, {cores} cores, best of {args.repeat} runs each")
    print(f"{'':34} {'seconds':>8} {'files/s':>10} {'notes/s':>12}")
    rate = {}
    for name, (dt, n) in rows.items():
        rate[name] = len(files) / dt
        print(f"{name:34} {dt:8.2f} {rate[name]:10.0f} {(n or notes) / dt:12.0f}")
    ours = rate["melodyrnn ingest, 1 worker"]
    print(f"melodyrnn (1 worker) / symusic parse-only = {ours / rate['symusic parse only']:.1%}"
          "   (goal >= 20%)")
    if "miditok REMI" in rate:
        print(f"melodyrnn (1 worker) / miditok REMI       = {ours / rate['miditok REMI']:.1f}x"
              "   (goal >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
