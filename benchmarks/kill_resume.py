"""kill -9 at every rename of ``melodyrnn train`` and ``melodyrnn pipeline run``, then resume.

    python benchmarks/kill_resume.py [--only train|pipeline] [--every K] [--work DIR]

Two tiny runs on tunes composed in code: a ``train`` run (evaluations, best.pt and last.pt
checkpoints mid-epoch) and a ``pipeline run`` (ingest -> train -> generate -> evaluate ->
report). An unbroken run of each counts the renames melodyrnn makes (``os.replace``,
``os.rename`` called from melodyrnn's modules, and the dataset's rename exchange); then for
every N (every K-th with ``--every``) a run is killed with SIGKILL just before its N-th
rename, resumed (``train --resume`` where last.pt exists, else the same command; the pipeline
re-run) and its ``last.pt``, ``best.pt`` and (pipeline) ``report.html`` compared byte for
byte with the unbroken run's. A last row resumes the finished run once more: it must change
no file. Prints a table; exits 1 when any file differs.

Each run is forked from this process (torch imported once, one thread), in the same run
folder, so paths written into the files agree; ``tests/test_resume_kill.py`` runs this on a
small model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN = ["--hidden", "16", "--layers", "1", "--embedding", "8", "--batch-size", "8", "--seq-len", "32",
         "--warmup", "2", "--max-steps", "9", "--checkpoint-every", "2", "--eval-every", "4",
         "--patience", "0", "--dropout", "0.1", "--transpose", "2", "--seed", "3", "-q"]

TOML = """
[pipeline]
name = "kill"
seed = 3

[ingest]
inputs = ["{tunes}"]
workers = 1
valid = 0.2
test = 0.2
quiet = true

[train]
hidden = 16
layers = 1
embedding = 8
lookback = true
max_steps = 7
batch_size = 8
seq_len = 32
checkpoint_every = 3
eval_every = 4
patience = 0

[generate]
unprimed = 1
num_outputs = 1
bars = 2
workers = 1
render = []

[evaluate]
max_pieces = 10

[report]
"""

COMPARED = ("last.pt", "best.pt", "report.html")


def compose(folder: Path, n: int = 24) -> Path:
    """``n`` eight-bar tunes written as MIDI files (the test suite's motif tunes)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tunes import motif_tune
    from melodyrnn.music.midi_io import write_midi

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_midi(motif_tune(i), folder / f"t{i:02d}.mid")
    return folder


def _patch_renames(kill_at: int, counted: list) -> None:
    """Count melodyrnn's renames in this (child) process; SIGKILL it before the
    ``kill_at``-th (0: never)."""
    import melodyrnn.core.dataset as dataset

    def wrap(fn, always: bool = False):
        def renaming(*args, **kwargs):
            if always or sys._getframe(1).f_globals.get("__name__", "").startswith("melodyrnn"):
                counted[0] += 1
                if counted[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)
        return renaming

    os.replace, os.rename = wrap(os.replace), wrap(os.rename)
    dataset._exchange = wrap(dataset._exchange, always=True)


def run_cli(argv: list[str], kill_at: int = 0, log: Path | None = None) -> tuple[str, int]:
    """``melodyrnn ARGV`` in a forked child: ("killed", renames before the kill) or
    ("exit N", renames made)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            os.close(read)
            out = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            counted = [0]
            _patch_renames(kill_at, counted)
            from melodyrnn.cli.main import main

            try:
                code = main.main(argv, prog_name="melodyrnn", standalone_mode=False) or 0
            finally:
                os.write(write, str(counted[0]).encode())
        finally:
            os._exit(code if isinstance(code, int) else 1)
    os.close(write)
    with os.fdopen(read) as f:
        made = f.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "killed", kill_at - 1
    return f"exit {os.WEXITSTATUS(status)}", int(made or 0)


def snapshot(folder: Path) -> dict[str, bytes]:
    """The compared files under ``folder``, by path relative to it."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.name in COMPARED and p.is_file()}


def _train_args(data: Path, run: Path) -> list[str]:
    return ["train", str(data), "-o", str(run), *TRAIN]


def _train_resume(data: Path, run: Path) -> list[str]:
    return _train_args(data, run) + (["--resume"] if (run / "last.pt").is_file() else [])


def check_target(name: str, run: Path, first, again, every: int = 1, log=print) -> list[dict]:
    """Kill ``first()``'s command at every ``every``-th rename, resume with ``again()``'s,
    compare with the unbroken run; one row per point."""
    shutil.rmtree(run, ignore_errors=True)
    t = time.perf_counter()
    status, total = run_cli(first())
    if status != "exit 0":
        raise SystemExit(f"{name}: the unbroken run failed ({status})")
    whole = snapshot(run)
    log(f"{name}: unbroken run, {total} renames, {time.perf_counter() - t:.1f} s; "
        f"compared: {', '.join(whole)}")
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    status, made = run_cli(again())
    after = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    rows = [{"target": name, "kill at": "finished", "killed": "-", "resume": status,
             "renames": made, "same": snapshot(run) == whole and before == after}]
    whole_dir = run.with_name(run.name + ".whole")
    shutil.rmtree(whole_dir, ignore_errors=True)
    run.rename(whole_dir)
    for n in range(1, total + 1, every):
        shutil.rmtree(run, ignore_errors=True)
        killed, _ = run_cli(first(), kill_at=n)
        resumed, made = run_cli(again())
        cut = snapshot(run)
        differ = sorted(k for k in whole.keys() | cut.keys() if whole.get(k) != cut.get(k))
        rows.append({"target": name, "kill at": n, "killed": killed, "resume": resumed,
                     "renames": made, "same": not differ, "differ": differ})
    shutil.rmtree(run, ignore_errors=True)
    whole_dir.rename(run)
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'target':9} {'kill at':>8} {'killed':7} {'resume':7} {'renames':>7}  identical"]
    for r in rows:
        same = "yes" if r["same"] else "NO: " + ", ".join(r.get("differ") or ["files touched"])
        lines.append(f"{r['target']:9} {r['kill at']!s:>8} {r['killed']:7} {r['resume']:7} "
                     f"{r['renames']:>7}  {same}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["train", "pipeline"], default=None)
    ap.add_argument("--every", type=int, default=1, help="Kill at every K-th rename (1: all).")
    ap.add_argument("--work", default=None, help="Folder for the runs (default: a temporary one).")
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)  # the same sums in every run, and a fork-safe thread pool
    import importlib

    for name in ("melodyrnn.cli.main", "melodyrnn.settings", "melodyrnn.core.tasks", "melodyrnn.pipeline.plan",
                 "melodyrnn.pipeline.report", "melodyrnn.music.encodings.melody", "melodyrnn.music.compose",
                 "melodyrnn.music.sample_eval", "tqdm", "matplotlib.pyplot"):
        importlib.import_module(name)  # once, before the forks
    weight = torch.zeros(1, requires_grad=True)
    weight.sum().backward()
    torch.optim.AdamW([weight]).step()  # its first use imports torch._dynamo: seconds, once

    work = Path(args.work or tempfile.mkdtemp(prefix="kill-resume-"))
    work.mkdir(parents=True, exist_ok=True)
    tunes = compose(work / "tunes")
    rows = []
    if args.only in (None, "train"):
        from melodyrnn.core.registry import get_encoding
        from melodyrnn.music.ingest.build import IngestConfig, run_ingest

        data = work / "data"
        run_ingest(IngestConfig(inputs=(str(tunes),), output=str(data), valid=0.2, test=0.2,
                                encoding=get_encoding("melody").to_dict(), workers=1, progress=False))
        run = work / "train-run"
        rows += check_target("train", run, lambda: _train_args(data, run),
                             lambda: _train_resume(data, run), args.every)
    if args.only in (None, "pipeline"):
        toml = work / "kill.toml"
        toml.write_text(TOML.format(tunes=tunes))
        run = work / "pipeline-run"
        cmd = ["pipeline", "run", str(toml), "-o", str(run)]
        rows += check_target("pipeline", run, lambda: cmd, lambda: cmd, args.every)
    print(table(rows))
    bad = [r for r in rows if not r["same"] or r["resume"] != "exit 0"]
    killed = sum(r["killed"] == "killed" for r in rows)
    print(f"{killed} kills, {len(rows) - len(bad)} of {len(rows)} resumed runs identical to the unbroken run")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
