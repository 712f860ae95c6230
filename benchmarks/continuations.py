"""Do continuations develop like real tunes? Models side by side, in one run.

For each model: bits/note on the dataset's test split (``--split valid`` to choose models),
split into rhythm and pitch (the pitch part beside IDyOM's, Pearce 2005: 2.878 bits/note
averaged over its Essen datasets for the long-term model, 2.479 with the short-term model;
per Essen subset here, by file-name prefix). Then each model continues every held-out tune
of 24 bars or more from its first 8 bars for 16 bars, at each temperature, and the form of
the continuations is compared with the tunes' own bars 9-24, per collection (Irish = O'Neill
+ Ryan's; Essen):

- repeat: share of continuation bars that repeat an earlier bar (goal: within 0.05 of real);
- new: bars never heard before in the tune, of 16 (within 1.5);
- in key: notes whose pitch class is in the primer (within 0.02);
- A A A: one 8-bar block three times in a row (at most 3 points above real).

    python benchmarks/continuations.py DATASET --models default runs/form/best.pt \\
        [--temperatures 0.8,1.0,1.2] [--outputs 4] [--limit 0] [--split test]
"""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import numpy as np

from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.music.continuations import ContinuationConfig, evaluate_continuations
from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.sampling import SamplingConfig
from melodyrnn.core.tasks import evaluate

GROUPS = {"oneills1850": "Irish", "ryans-mammoth": "Irish", "essen": "Essen", "nottingham": "Nottingham"}
GOALS = {"repeat_fraction": 0.05, "new_bars": 1.5, "in_primer_key": 0.02}


def scores(model: str, dataset: Path, files: list[str], split: str) -> None:
    r = evaluate(model, [str(dataset)], split=split)
    print(f"\n### {model}\n\n{split}: {r['bits_per_note']:.3f} bits/note = rhythm "
          f"{r['rhythm_bits_per_note']:.3f} + pitch {r['pitch_bits_per_note']:.3f} "
          f"(IDyOM pitch, Essen average: 2.878 long-term, 2.479 with short-term)")
    essen = [f for f in files if Path(f).parent.name == "essen"]
    subsets: dict[str, list[str]] = {}
    for f in essen:
        subsets.setdefault(re.sub(r"[0-9]*-[0-9]*$", "", Path(f).stem), []).append(f)
    cells = []
    for name, group in sorted(subsets.items()):
        if len(group) >= 10:
            s = evaluate(model, group)
            cells.append(f"{name} ({len(group)}) {s['pitch_bits_per_note']:.2f}")
    print(f"pitch bits/note by Essen subset ({split} tunes): " + ", ".join(cells))


def form(model: str, files: list[str], temperature: float, seed: int, outputs: int) -> dict:
    cfg = ContinuationConfig(8, 16, outputs, DecodeConfig(SamplingConfig(temperature)), 2, seed)
    result = evaluate_continuations(model, files, cfg, features=False)
    out = {}
    for group in sorted(set(GROUPS.values())):
        rows = [r for r in result["tunes"] if GROUPS.get(r["collection"]) == group]
        if rows:
            out[group] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]
                          if k.startswith(("real_", "generated_"))} | {"tunes": len(rows)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--temperatures", default="0.8,1.0,1.2")
    ap.add_argument("--limit", type=int, default=0, help="at most this many test tunes (0: all)")
    ap.add_argument("--outputs", type=int, default=4, help="continuations per tune")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="test", choices=["valid", "test"],
                    help="held-out tunes to continue: valid to choose a model, test to report it")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    files = load_dataset(args.dataset).split_files(args.split)
    if args.limit:
        files = files[:: max(len(files) // args.limit, 1)][:args.limit]
    for model in args.models:
        scores(model, args.dataset, files, args.split)
    print("\n| model | T | collection | tunes | repeat gen/real | new gen/real | in key gen/real "
          "| A A A gen/real | goals met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in args.models:
        for t in (float(x) for x in args.temperatures.split(",")):
            for group, s in form(model, files, t, args.seed, args.outputs).items():
                ok = [abs(s[f"generated_{k}"] - s[f"real_{k}"]) <= tol for k, tol in GOALS.items()]
                ok.append(s["generated_aaa"] - s["real_aaa"] <= 0.03)
                print(f"| {Path(model).stem} | {t} | {group} | {s['tunes']} "
                      f"| {s['generated_repeat_fraction']:.3f} / {s['real_repeat_fraction']:.3f} "
                      f"| {s['generated_new_bars']:.1f} / {s['real_new_bars']:.1f} "
                      f"| {s['generated_in_primer_key']:.3f} / {s['real_in_primer_key']:.3f} "
                      f"| {s['generated_aaa']:.0%} / {s['real_aaa']:.0%} | {sum(ok)}/4 |", flush=True)


if __name__ == "__main__":
    main()
