"""Decoding speed of this tree against another commit's, in one run.

    python benchmarks/against_commit.py --commit 954ca64 [--model default] [--rounds 7]

Checks COMMIT out into a temporary git worktree and times, in alternating rounds (a fresh
process each, so neither side keeps a warm cache the other lacks), batch-1 sampling of
``--steps`` events with ``melodyrnn.core.continuation.continue_ids`` on the model as
``generate`` loads it (numpy for the shipped ones), in CPU seconds of that process. Prints
each side's median events/s and the median of the paired ratios (this tree / the commit):
the refactor that put the form head's arithmetic in one home (issue 32) was held to >= 0.85.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TIMED = """
import time
from melodyrnn.core.continuation import continue_ids
from melodyrnn.core.loading import load_for_sampling
m = load_for_sampling({model!r})[0]
continue_ids(m, [1, 5, 6, 7], 1, 64, period=12)  # warm: first calls, caches
t = time.process_time()
continue_ids(m, [1, 5, 6, 7], 1, {steps}, period=12)
print({steps} / (time.process_time() - t))
"""


def rate(tree: Path, model: str, steps: int) -> float:
    """Events/s of one fresh process importing melodyrnn from ``tree``."""
    out = subprocess.run([sys.executable, "-c", TIMED.format(model=model, steps=steps)], cwd=tree,
                         env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commit", required=True, help="The baseline commit (e.g. the one before a change).")
    ap.add_argument("--model", default="default", help="A shipped model name or a checkpoint path.")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.commit],
                       check=True, capture_output=True)
        try:
            new, old = [], []
            for _ in range(args.rounds):
                new.append(rate(ROOT, args.model, args.steps))
                old.append(rate(base, args.model, args.steps))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           capture_output=True)
    pairs = [a / b for a, b in zip(new, old)]
    print(f"model {args.model}, batch 1, {args.steps} events, {args.rounds} paired rounds (CPU time)")
    print(f"this tree        {statistics.median(new):8.0f} events/s")
    print(f"commit {args.commit:9} {statistics.median(old):8.0f} events/s")
    print(f"ratio: median of paired rounds {statistics.median(pairs):.3f} "
          f"(min {min(pairs):.3f}, max {max(pairs):.3f})")


if __name__ == "__main__":
    main()
