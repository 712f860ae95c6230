"""Peak memory of text ingest against the bare cost of holding the text, in one run.

    python benchmarks/text_memory.py [--mb 50] [--source FILE]

Writes a corpus of about ``--mb`` megabytes (copies of ``--source``, by default a built-in
paragraph; fortune-file separators between copies), then measures the peak RSS of two fresh
processes: ``melodyrnn ingest CORPUS --encoding char`` and a baseline that imports the same
libraries and reads the corpus into one string. Prints both, the extra bytes per character
of the ingest, and their ratio. Goal: the ingest's extra memory stays a small multiple of the
text (a Python list of ids costs 36 bytes a character).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

PARAGRAPH = ("It was the best of times, it was the worst of times; a fortune for every day, "
             "and a proverb for the night.\n")

BASELINE = ("import sys, numpy, torch, melodyrnn.text.corpus\n"
            "text = open(sys.argv[1], encoding='utf-8').read()\n"
            "print(len(text))\n")


def peak_mb(cmd: list[str]) -> float:
    """Peak RSS (MB) of a fresh child process running ``cmd``."""
    code = ("import resource, subprocess, sys\n"
            "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--source", type=Path, default=None)
    args = ap.parse_args()
    unit = (args.source.read_text(encoding="utf-8") if args.source else PARAGRAPH * 20) + "%\n"
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text(unit * max(1, int(args.mb * 2 ** 20 / len(unit.encode()))), encoding="utf-8")
        chars = len(corpus.read_text(encoding="utf-8"))
        base = peak_mb([sys.executable, "-c", BASELINE, str(corpus)])
        ingest = peak_mb([sys.executable, "-m", "melodyrnn", "ingest", str(corpus),
                          "-o", str(Path(tmp) / "ds"), "--encoding", "char", "-q"])
    print(f"corpus: {chars / 1e6:.1f} M characters ({corpus.name})")
    print(f"peak RSS: baseline (imports + the text as a string) {base:.0f} MB, ingest {ingest:.0f} MB")
    print(f"ingest extra: {(ingest - base) * 2 ** 20 / chars:.1f} bytes a character; "
          f"ingest / baseline = {ingest / base:.2f}")


if __name__ == "__main__":
    main()
