"""Train a character model on a text file and complete a prompt, with melodyrnn's public API.

    python samples/text_autofill.py $MELODYRNN_DATA/text/fortunes.txt --prompt "Q: Why" --epochs 3
"""

import argparse

import melodyrnn as mr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("text_file")
    ap.add_argument("--out", default="runs/text-autofill")
    ap.add_argument("--prompt", default="The ")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args()
    data = f"{args.out}/data"
    mr.ingest_text(mr.TextIngestConfig(inputs=(args.text_file,), output=data, encoding="char"))
    best = mr.train(data, f"{args.out}/run", dict(kind="lstm", hidden=args.hidden, embedding=64),
                    mr.TrainConfig(epochs=args.epochs, lr=3e-3), progress=False)
    print(f"valid: {best['bits_per_char']:.3f} bits/char")
    for c in mr.complete_text(f"{args.out}/run/best.pt", args.prompt, n=3, max_tokens=150,
                              decode=mr.DecodeConfig(mr.SamplingConfig(temperature=0.8))):
        print(c.prompt + c.text)
        print("%")


if __name__ == "__main__":
    main()
