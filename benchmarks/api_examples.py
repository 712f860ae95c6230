"""How long the README's Python API examples take: each call timed, on real data.

The README's placeholders are filled with ``$MELODYRNN_DATA``: ``tunes/`` is
``midi/oneills1850`` (1,603 tunes), ``fortunes.txt`` is ``text/fortunes.txt`` (1.6 MB),
``labels.csv:style`` is a CSV of those tunes' metres made from ``midi/manifest.csv``.
Training runs the README's settings; ``--text-epochs`` shortens the text model's 20 epochs
(the time per epoch is printed, so the whole run can be read off).

    python benchmarks/api_examples.py OUT_DIR [--text-epochs 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from pathlib import Path

import torch


def _in(folder: Path, fn):
    """Run ``fn`` with ``folder`` as the working directory (pipeline files name paths from it)."""
    here = os.getcwd()
    os.chdir(folder)
    try:
        return fn()
    finally:
        os.chdir(here)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--text-epochs", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    data = Path(os.environ["MELODYRNN_DATA"])
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)
    rows = [r for r in csv.DictReader(open(data / "midi" / "manifest.csv"))
            if r["collection"] == "oneills1850"]
    with open("labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "style"])
        for r in rows:
            w.writerow([str(data / "midi" / r["path"]), r["meter"]])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)

    import melodyrnn as mr

    tunes = str(data / "midi" / "oneills1850")
    seed_path = str(Path(__file__).resolve().parents[1] / "samples" / "jig.mid")
    steps = [
        ("read, extract, encode, decode a tune", lambda: mr.get_encoding("melody").decode(
            mr.get_encoding("melody").encode(mr.extract_melodies(mr.read_midi(seed_path))[0][0]))),
        ("run_ingest (1,603 tunes)", lambda: mr.run_ingest(mr.IngestConfig(
            inputs=(tunes,), output="data/mine", encoding=mr.get_encoding("melody").to_dict(),
            progress=False))),
        ("train melody LSTM 256, lookback, 5 epochs", lambda: mr.train(
            "data/mine", "runs/mine", dict(kind="lstm", hidden=256, lookback=True),
            mr.TrainConfig(epochs=5, augment={"transpose": 3}), progress=False)),
        ("evaluate (test split)", lambda: mr.evaluate("runs/mine/best.pt", ["data/mine"], split="test")),
        ("generate 2 x 8 bars, default model", lambda: mr.write_midi(mr.generate(
            "default", mr.read_midi(seed_path), cfg=mr.GenerateConfig(num_outputs=2, bars=8, seed=1)
        )[0].tune, "generated/new.mid") if Path("generated").mkdir(exist_ok=True) is None else None),
        ("ingest_text (fortunes)", lambda: mr.ingest_text(mr.TextIngestConfig(
            inputs=(str(data / "text" / "fortunes.txt"),), output="data/text", encoding="char"))),
        ("dataset_from_sequences", lambda: mr.dataset_from_sequences(
            [["C", "E", "G"], ["D", "F", "A", "C"]], "data/chords")),
        (f"train char LSTM 512, {args.text_epochs} of the README's 20 epochs", lambda: mr.train(
            "data/text", "runs/text", dict(kind="lstm", hidden=512),
            mr.TrainConfig(epochs=args.text_epochs), progress=False)),
        ("complete_text", lambda: mr.complete_text("runs/text/best.pt", "Q: What", n=2)),
        ("train_classifier (metre)", lambda: mr.train_classifier(
            "data/mine", "runs/which", "labels.csv:style", dict(kind="lstm"))),
        ("load + save", lambda: mr.save("copy.pt", *mr.load("runs/text/best.pt"))),
        ("evaluate_samples", lambda: mr.evaluate_samples("generated/", "data/mine", train="data/mine")),
        ("run_pipeline dry run", lambda: _in(Path(__file__).resolve().parents[1], lambda: mr.run_pipeline(
            mr.load_pipeline("pipelines/folk.toml"), dry_run=True))),
    ]
    print("| call | seconds |")
    print("|---|---|")
    total = 0.0
    for name, fn in steps:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        total += dt
        print(f"| {name} | {dt:.1f} |", flush=True)
    print(f"| all | {total:.1f} |")


if __name__ == "__main__":
    main()
