"""Do decoders loop their seed? Copy statistics of each decoder against real tunes.

Seeds: the first 8 bars of tunes of ``$MELODYRNN_DATA/midi`` with 24 bars or more (and
``samples/*.mid``). Each decoder continues every seed for 16 bars with the default model,
with the phrase limit (``--max-plays 2``, the default: no 4-bar run played a third time)
and without it (``0``). Reported per decoder:

- replay: the continuation begins by playing the primer's 8 bars again (A A);
- A A A: it plays them twice (the seed three times in a row: a loop);
- copied bars: share of continuation bars equal to a bar of the primer.

The reference row is the real tunes themselves: bars 9-24 against bars 1-8.

    python benchmarks/copies.py [--tunes 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import os
import warnings
from pathlib import Path

import numpy as np

from melodyrnn.music.compose import GenerateConfig, generate
from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.music.copies import bar_contents, primer_copies
from melodyrnn.core.loading import load_with_checkpoint
from melodyrnn.music.midi_io import read_midi
from melodyrnn.core.sampling import SamplingConfig
from melodyrnn.music.seeds import seed_window
from melodyrnn.music.structure import has_aaa

DECODERS = {
    "sample T=1": DecodeConfig(),
    "sample T=0.5": DecodeConfig(SamplingConfig(temperature=0.5)),
    "top-p 0.9": DecodeConfig(SamplingConfig(top_p=0.9)),
    "greedy": DecodeConfig(SamplingConfig(greedy=True)),
    "beam 4": DecodeConfig(beam_size=4),
    "stochastic beam 2x2": DecodeConfig(beam_size=2, branch_factor=2),
}
SPQ = 4


def seeds(tunes: int, seed: int) -> list:
    """The seed tunes: the samples, then tunes of 24 bars or more from the corpus."""
    out = [read_midi(p) for p in sorted(Path(__file__).parents[1].glob("samples/*.mid"))]
    data = os.environ.get("MELODYRNN_DATA")
    if data:
        root = Path(data) / "midi"
        rows = [r for r in csv.DictReader(open(root / "manifest.csv"))
                if r["collection"] != "bach-chorales"]
        rng = np.random.default_rng(seed)
        for i in rng.permutation(len(rows)):
            tune = read_midi(root / rows[i]["path"])
            if seed_window(tune, SPQ, 0).seed_bars >= 24:
                out.append(tune)
            if len(out) >= tunes:
                break
    return out


def real_stats(tune):
    w = seed_window(tune, SPQ, 24, 25)
    m, bar = w.melody, w.melody.steps_per_bar
    bars = bar_contents(m.pitch, m.start_steps, m.end_steps, bar, 24)
    return primer_copies(bars[:8], bars[8:]), has_aaa(bars)


def generated_stats(out):
    primer, cont = out.bars()
    return primer_copies(primer, cont), has_aaa(primer + cont)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tunes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    tunes = seeds(args.tunes, args.seed)
    long = [seed_window(t, SPQ, 0).seed_bars >= 24 for t in tunes]
    loaded = load_with_checkpoint("default")  # built once for every generation
    print(f"{len(tunes)} seeds, 8-bar primers, 16-bar continuations, default model\n")
    print("| decoder | phrase limit | replay (A A) | A A A | copied bars |")
    print("|---|---|---|---|---|")
    real = [real_stats(t) for t, is_long in zip(tunes, long) if is_long]
    print(f"| real tunes (bars 9-24 vs 1-8, {len(real)}) | - | {np.mean([s.replay for s, _ in real]):.0%} "
          f"| {np.mean([a for _, a in real]):.0%} | {np.mean([s.copied for s, _ in real]):.0%} |")
    for name, decode in DECODERS.items():
        for guard in (2, 0):
            stats = []
            for i, (tune, is_long) in enumerate(zip(tunes, long)):
                cfg = GenerateConfig(num_outputs=1, bars=16, decode=decode, seed=args.seed + i,
                                     primer_bars=8, from_bar=9 if is_long else None, max_plays=guard)
                stats.append(generated_stats(generate(loaded, tune, None, cfg)[0]))
            print(f"| {name} | {'on' if guard else 'off'} | {np.mean([s.replay for s, _ in stats]):.0%} "
                  f"| {np.mean([a for _, a in stats]):.0%} | {np.mean([s.copied for s, _ in stats]):.0%} |",
                  flush=True)


if __name__ == "__main__":
    main()
