"""Train a melody model on a folder of MIDI files and continue a seed tune, with the public API.

    python samples/train_melody.py path/to/midi/ --seed-tune samples/jig.mid --epochs 5
"""

import argparse
from pathlib import Path

import melodyrnn as mr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("midi_folder")
    ap.add_argument("--out", default="runs/my-melodies")
    ap.add_argument("--seed-tune", default=str(Path(__file__).parent / "jig.mid"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args()
    data = f"{args.out}/data"
    report = mr.run_ingest(mr.ingest_config([args.midi_folder], data, quiet=True))
    print(report.summary())
    model = dict(kind="lstm", hidden=args.hidden, lookback=True, lookback_bars=(1, 2, 4, 8))
    cfg = mr.TrainConfig(epochs=args.epochs, augment={"transpose": 3})  # music: random transposition
    best = mr.train(data, f"{args.out}/run", model, cfg, progress=False)
    print(f"valid: {best['bits_per_note']:.3f} bits/note")
    outs = mr.generate(f"{args.out}/run/best.pt", mr.read_midi(args.seed_tune),
                       cfg=mr.GenerateConfig(num_outputs=2, bars=8, seed=1))
    for k, out in enumerate(outs):
        path = Path(args.out) / f"continued-{k}.mid"
        mr.write_midi(out.tune, path)
        print(f"{path}: {out.notes} new notes, {out.bits_per_note:.2f} bits/note")


if __name__ == "__main__":
    main()
