"""Train a classifier that tells which collection (or metre) a tune comes from, with the API.

    python samples/train_classifier.py $MELODYRNN_DATA/midi/essen $MELODYRNN_DATA/midi/oneills1850 \\
        --labels $MELODYRNN_DATA/midi/manifest.csv:collection
"""

import argparse

import melodyrnn as mr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("midi", nargs="+")
    ap.add_argument("--labels", required=True, help="FILE.csv:COLUMN")
    ap.add_argument("--out", default="runs/classifier")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args()
    data = f"{args.out}/data"
    mr.run_ingest(mr.ingest_config(args.midi, data, quiet=True))
    result = mr.train_classifier(data, f"{args.out}/run", args.labels,
                                 dict(kind="lstm", hidden=args.hidden, layers=1),
                                 mr.ClassifyConfig(epochs=args.epochs), progress=False)
    print(f"test accuracy {result['accuracy']:.3f} (majority class {result['majority_class']}: "
          f"{result['majority_accuracy']:.3f})")
    print("confusion (rows: true " + ", ".join(result["classes"]) + ")")
    for row in result["confusion"]:
        print("  " + " ".join(f"{n:5d}" for n in row))


if __name__ == "__main__":
    main()
