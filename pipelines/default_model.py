"""The default model's recipe: from the folk MIDI files to melodyrnn/assets/default.pt.

    python pipelines/default_model.py OUT_DIR [--data $MELODYRNN_DATA/midi] [--install]

1. ingest essen, oneills1850, ryans-mammoth and nottingham with the lossless melody
   encoding (full MIDI pitch range, no key transposition, 16th-note grid);
2. train the default model -- an LSTM 2x256 with lookback inputs 1, 2, 4 and 8 bars back,
   dropout 0.1 and random transposition of +-3 semitones on training data, 15 epochs -- and,
   the same way, a plain LSTM 2x256 as the baseline it must beat;
3. print both models' test bits/note (``benchmarks/ngram.py OUT/folk --models ...`` adds
   the Witten-Bell n-gram in the same run);
4. with ``--install``, copy the default model's best.pt into the package.
Re-running resumes unfinished training and skips finished steps. The shipped model was
trained on a CUDA GPU (``--device auto`` takes it; fp32, no AMP: about 4 minutes a model on an
H200); on 2 CPU cores each model takes about 3 minutes an epoch.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from melodyrnn.checkpoint import assets_dir
from melodyrnn.encodings import get_encoding
from melodyrnn.ingest import IngestConfig, run_ingest
from melodyrnn.tasks import evaluate, train
from melodyrnn.trainer import TrainConfig

FOLK = ("essen", "oneills1850", "ryans-mammoth", "nottingham")
SIZE = dict(kind="lstm", hidden=256, layers=2, embedding=128, dropout=0.1)
MODELS = {"default": dict(lookback=True, lookback_bars=(1, 2, 4, 8), **SIZE),
          "baseline-lstm": dict(SIZE)}
TRAIN = TrainConfig(batch_size=64, seq_len=128, lr=3e-3, epochs=15, patience=0, transpose=3,
                    seed=0, amp=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("MELODYRNN_DATA", "../shared/data")) / "midi")
    ap.add_argument("--install", action="store_true", help="copy the model into the package")
    args = ap.parse_args()
    dataset = args.out / "folk"
    if not (dataset / "meta.json").is_file():
        run_ingest(IngestConfig(inputs=tuple(str(args.data / c) for c in FOLK),
                                output=str(dataset), encoding=get_encoding("melody").to_dict()))
    for name, model in MODELS.items():
        run = args.out / f"run-{name}"
        train(dataset, run, model, TRAIN, resume=(run / "last.pt").is_file(), progress=False)
        r = evaluate(str(run / "best.pt"), [str(dataset)], split="test")
        print(f"{name:14} test {r['bits_per_note']:.4f} bits/note, "
              f"event accuracy {r['event_accuracy']:.3f}")
    if args.install:
        shutil.copyfile(args.out / "run-default" / "best.pt", assets_dir() / "default.pt")
        print(f"installed {assets_dir() / 'default.pt'}")


if __name__ == "__main__":
    main()
