"""Witten-Bell interpolated n-gram baseline over any token dataset, in bits/note (bits/char for text).

    python benchmarks/ngram.py DATASET [--max-order 12] [--split test] [--models CKPT...]

Counts n-grams of every order up to ``--max-order`` on the train split, then scores the
chosen split with the library's bits/note definition (every predicted token of every
sequence, end token included, first token predicted from the start token, divided by
the notes), for each order; the best order is the baseline a recurrent model must beat.

P(w | h) = (c(h, w) + T(h) * P(w | h')) / (c(h) + T(h)), where T(h) is the number of
distinct tokens seen after h and h' drops h's oldest token; the order-0 model is uniform.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict

import numpy as np


def count(seqs: list[list[int]], order: int):
    """Counts c(h, w) and c(h), and type counts T(h), for all histories up to ``order - 1``."""
    pair = defaultdict(int)
    ctx = defaultdict(int)
    for seq in seqs:
        for i in range(1, len(seq)):
            for k in range(order):  # history length k
                if i - k < 0:
                    break
                h = tuple(seq[i - k:i])
                pair[(h, seq[i])] += 1
                ctx[h] += 1
    types = defaultdict(int)
    for h, _ in pair:
        types[h] += 1
    return pair, ctx, types


def score(seqs: list[list[int]], order: int, vocab: int, pair, ctx, types) -> float:
    """Total -log2 p of every predicted token of ``seqs`` under the order-``order`` model."""
    bits = 0.0
    for seq in seqs:
        for i in range(1, len(seq)):
            p = 1.0 / vocab
            for k in range(min(order - 1, i) + 1):  # from short history to long
                h = tuple(seq[i - k:i])
                c = ctx.get(h, 0)
                if c == 0:
                    break
                t = types[h]
                p = (pair.get((h, seq[i]), 0) + t * p) / (c + t)
            bits -= math.log2(p)
    return bits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--max-order", type=int, default=12)
    ap.add_argument("--split", default="test")
    ap.add_argument("--models", nargs="*", default=[],
                    help="checkpoints to score on the same split in the same run")
    args = ap.parse_args()
    from melodyrnn.core.dataset import load_dataset

    ds = load_dataset(args.dataset)
    as_lists = (lambda s: [np.asarray(s.sequence(i)).tolist() for i in range(s.n_sequences)])
    train, held = as_lists(ds.split("train")), as_lists(ds.split(args.split))
    notes = int(ds.split(args.split).units.sum())
    unit = ds.meta.get("unit", "note")  # text datasets count characters
    pair, ctx, types = count(train, args.max_order)
    print(f"{args.split}: {len(held)} sequences, {notes} {unit}s; Witten-Bell n-gram")
    best = (math.inf, 0)
    for order in range(1, args.max_order + 1):
        bpn = score(held, order, ds.vocab_size, pair, ctx, types) / notes
        best = min(best, (bpn, order))
        print(f"order {order:2d}: {bpn:.4f} bits/{unit}")
    print(f"best: order {best[1]}, {best[0]:.4f} bits/{unit}")
    if args.models:
        from melodyrnn.core.tasks import evaluate

        for ckpt in args.models:
            r = evaluate(ckpt, [args.dataset], split=args.split, device="cpu")
            bits = r.get("bits_per_note", r.get("bits_per_char"))
            print(f"{ckpt}: {bits:.4f} bits/{unit} ({1 - bits / best[0]:.1%} below the n-gram), "
                  f"event accuracy {r['event_accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
