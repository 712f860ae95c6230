"""Does a bar-copy model give repeats the probability real tunes do? Teacher-forced, per collection.

For bars 9-24 of held-out tunes of 24 bars or more, with the real bars before them: the
model's chance of playing one of the last K bars again exactly (summed over the distinct
earlier bars, each scored by the whole model in the bar's place), against how often the
real bar does. Compare with benchmarks/continuations.py, where the continuations are the
model's own: a gap there that is not here comes from generating, not from the model's
probabilities.

    python benchmarks/repeat_calibration.py DATASET --models default runs/cal.pt [--split valid]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.form_bars import collect_bars
from melodyrnn.core.form_fit import measure
from melodyrnn.core.loading import load_model

GROUPS = {"oneills1850": "Irish", "ryans-mammoth": "Irish", "essen": "Essen"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--split", default="valid", choices=["valid", "test"])
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    split = ds.split(args.split)
    files = ds.meta["files"]
    group = np.array([GROUPS.get(Path(files[s]["path"]).parent.name, "other") for s in split.source])
    print("| model | collection | bars | P(repeat) | real repeat | ratio | nats/bar |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        model = load_model(name)[0]
        t = collect_bars(model, split).tensors()
        row_group = group[t["sequence"].numpy()]
        for g in ("Irish", "Essen"):
            keep = np.flatnonzero(row_group == g)
            c = np.flatnonzero(np.isin(t["c_row"].numpy(), keep))
            if not len(c):
                continue
            m = measure(model.bar_copy, t, torch.from_numpy(keep), torch.from_numpy(c))
            print(f"| {Path(name).name} | {g} | {m['repeat_bars']} | {m['p_repeat']:.3f} "
                  f"| {m['real_repeat']:.3f} | {m['p_repeat'] / m['real_repeat']:.2f} "
                  f"| {m['nats_per_bar']:.3f} |")


if __name__ == "__main__":
    main()
