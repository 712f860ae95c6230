"""Does looking back help? Plain LSTM vs lookback inputs vs attention on the folk tunes.

    python pipelines/long_structure.py OUT_DIR [--data $MELODYRNN_DATA/midi] [--epochs 6]

Ingests the folk collections (essen, oneills1850, ryans-mammoth, nottingham), trains
three models of the same size with the same settings and seed -- a plain LSTM, the LSTM
with lookback inputs (tokens one and two bars back at each tune's own bar length, and
the position in the bar), and the LSTM with additive attention over its last 40
outputs -- then prints each one's held-out (test split) bits/note and event accuracy.
Finished steps are skipped when re-run (the dataset is reused, training resumes).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from melodyrnn.core.registry import get_encoding
from melodyrnn.music.ingest.build import IngestConfig, run_ingest
from melodyrnn.core.tasks import evaluate, train
from melodyrnn.core.trainer import TrainConfig

FOLK = ("essen", "oneills1850", "ryans-mammoth", "nottingham")
SIZE = dict(hidden=128, layers=2, embedding=64)
MODELS = {
    "lstm": dict(kind="lstm", **SIZE),
    "lookback": dict(kind="lstm", lookback=True, **SIZE),
    "attention": dict(kind="attention", attention_length=40, **SIZE),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("MELODYRNN_DATA", "../shared/data")) / "midi")
    ap.add_argument("--epochs", type=int, default=6)
    args = ap.parse_args()
    dataset = args.out / "folk"
    if not (dataset / "meta.json").is_file():
        run_ingest(IngestConfig(inputs=tuple(str(args.data / c) for c in FOLK),
                                output=str(dataset), encoding=get_encoding("melody").to_dict()))
    cfg = TrainConfig(batch_size=64, seq_len=128, lr=3e-3, epochs=args.epochs, patience=2, seed=0)
    results = {}
    for name, model in MODELS.items():
        run = args.out / f"run-{name}"
        resume = (run / "last.pt").is_file()
        train(dataset, run, model, cfg, resume=resume, progress=False)
        results[name] = evaluate(str(run / "best.pt"), [str(dataset)], split="test")
    print(f"{'model':10} {'test bits/note':>15} {'event accuracy':>15}")
    for name, r in results.items():
        print(f"{name:10} {r['bits_per_note']:15.4f} {r['event_accuracy']:15.4f}")
    (args.out / "long_structure.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
