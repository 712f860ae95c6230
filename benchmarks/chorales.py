"""Chorale continuations against real chorales, and bits/note against two baselines, in one run.

    python benchmarks/chorales.py CHORALE_DATASET --model chorale \
        [--performance-model BEST.pt --performance-dataset PERF_DATASET] [--ngram-order 20]

CHORALE_DATASET is ``melodyrnn ingest bach-chorales --encoding chorale --valid 0.1 --test 0.1``
(the same split as ``pipelines/bach.toml``'s performance dataset: splits hash file contents).
Prints, on the test chorales:

- test bits/note of the chorale model, of the performance-encoding model, and of the best
  Witten-Bell n-gram on the chorale encoding (ratios below each);
- each test chorale primed with its first ``--primer-bars`` bars and continued for ``--bars``
  bars (``--outputs`` each), against the same chorales' real bars after the primer: each
  voice's range, voice crossings, parallel fifths/octaves between the outer voices, the chord
  vocabulary and the overlap of the chord histograms; Yang-Lerch features per voice (mean
  overlap area); the longest run of notes shared with a training chorale (generated, and
  the real bars as the baseline).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ngram  # noqa: E402  (benchmarks/ngram.py: the n-gram baseline)

VOICES = ("soprano", "alto", "tenor", "bass")


def one_voice(tune, k: int):
    from melodyrnn.music.notes import Tune

    return Tune([tune.tracks[k]], tune.tempos, tune.time_signatures)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--model", default="chorale")
    ap.add_argument("--performance-model")
    ap.add_argument("--performance-dataset")
    ap.add_argument("--ngram-order", type=int, default=20)
    ap.add_argument("--primer-bars", type=int, default=4)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--outputs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from melodyrnn.core.dataset import load_dataset
    from melodyrnn.core.loading import load_with_checkpoint
    from melodyrnn.core.registry import encoding_from_dict
    from melodyrnn.core.tasks import evaluate
    from melodyrnn.music.compose import GenerateConfig, generate
    from melodyrnn.music.midi_io import read_midi
    from melodyrnn.music.sample_eval import compare_sets, longest_shared_runs
    from melodyrnn.music.voice_leading import chord_overlap, summarise
    from melodyrnn.music.voices import VoiceWindow

    ds = load_dataset(args.dataset)
    rows, totals = {}, {}
    r = evaluate(args.model, [args.dataset], split="test", device="cpu")
    rows["chorale model"], totals["chorale model"] = r["bits_per_note"], r["bits_per_note"] * r["notes"]
    if args.performance_model:
        r = evaluate(args.performance_model, [args.performance_dataset], split="test", device="cpu")
        rows["performance model"] = r["bits_per_note"]
        totals["performance model"], perf_notes = r["bits_per_note"] * r["notes"], r["notes"]
    lists = lambda s: [np.asarray(s.sequence(i)).tolist() for i in range(s.n_sequences)]  # noqa: E731
    train, test = lists(ds.split("train")), lists(ds.split("test"))
    notes = int(ds.split("test").units.sum())
    counts = ngram.count(train, args.ngram_order)
    best = min((ngram.score(test, k, ds.vocab_size, *counts) / notes, k)
               for k in range(1, args.ngram_order + 1))
    rows[f"n-gram, chorale encoding (order {best[1]})"] = best[0]
    totals[f"n-gram, chorale encoding (order {best[1]})"] = best[0] * notes
    print(f"test chorales: {len(test)} ({notes} notes in the chorale encoding, which keeps a unison "
          "of two voices as two notes)\n")
    print("| model | test bits/note | chorale model below it | total bits | per performance note |\n"
          "|---|---|---|---|---|")
    mine = rows["chorale model"]
    for name, bits in rows.items():
        below = "" if name == "chorale model" else f"{1 - mine / bits:.1%}"
        per = f"{totals[name] / perf_notes:.3f}" if args.performance_model else "-"
        print(f"| {name} | {bits:.3f} | {below} | {totals[name]:.0f} | {per} |")

    enc = encoding_from_dict(ds.meta["encoding"])
    loaded = load_with_checkpoint(args.model)
    files = [f["path"] for f in ds.meta["files"] if f.get("split") == "test"]
    train_files = [f["path"] for f in ds.meta["files"] if f.get("split") == "train"]
    generated, free, real = [], [], []
    end = args.primer_bars + args.bars
    for path in files:
        seed = read_midi(path)
        try:  # the real bars after the primer, as the outputs hold them
            truth = VoiceWindow(enc, seed, args.bars, end + 1)
        except ValueError:
            continue  # too short to hold the real continuation
        cfg = GenerateConfig(num_outputs=args.outputs, bars=args.bars, seed=args.seed,
                             primer_bars=args.primer_bars, from_bar=args.primer_bars + 1,
                             continuation_only=True)
        generated += [o.tune for o in generate(loaded, seed, None, cfg)]
        free += [o.tune for o in generate(loaded, seed, None, replace(cfg, allow_parallels=True))]
        real.append(truth.tune(truth.frames, 0.0))
    g, f2, r = summarise(generated, enc), summarise(free, enc), summarise(real, enc)
    print(f"\ncontinuations: {len(generated)} generated ({args.outputs} each of {len(real)} chorales, "
          f"bars {args.primer_bars + 1}-{end}) against the real bars\n")
    print("| statistic | generated | generated, --allow-parallels | real |\n|---|---|---|---|")
    sets = (g, f2, r)
    row = lambda name, fn: print(f"| {name} | " + " | ".join(fn(x) for x in sets) + " |")  # noqa: E731
    for k, name in enumerate(VOICES):
        fmt = lambda x: f"{x[0]:.1f} / {x[1]:.1f} / {x[2]:.1f}" if x else "-"  # noqa: E731
        row(f"{name}: lowest / highest / mean pitch", lambda x: fmt(x["range"][k]))
    row("voice crossings (share of adjacent-voice steps)", lambda x: f"{x['crossing_rate']:.4f}")
    row("parallel 5ths/8ves (share of outer-voice common moves)", lambda x: f"{x['parallel_rate']:.4f}")
    row("chord vocabulary (pitch-class sets)", lambda x: str(x["chord_vocabulary"]))
    row("chord histogram overlap", lambda x: f"{chord_overlap(x['chords'], r['chords']):.3f}")
    top = [c for c, _ in r["chords"].most_common(5)]
    share = lambda ch: sum(ch[c] for c in top) / max(sum(ch.values()), 1)  # noqa: E731
    row("share of the real top-5 chords", lambda x: f"{share(x['chords']):.3f}")
    print("\nYang-Lerch features per voice, overlap area of generated vs real (1 = the same):\n")
    print("| voice | mean overlap | pitch range | pitch count | note lengths | IOI |\n"
          "|---|---|---|---|---|---|")
    for k, name in enumerate(VOICES):
        f = compare_sets([one_voice(t, k) for t in generated], [one_voice(t, k) for t in real])["features"]
        oa = [v["overlap_area"] for v in f.values() if v.get("overlap_area") is not None
              and math.isfinite(v["overlap_area"])]
        print(f"| {name} | {np.mean(oa):.3f} | {f['pitch_range']['overlap_area']:.3f} | "
              f"{f['pitch_count']['overlap_area']:.3f} | {f['note_length_histogram']['overlap_area']:.3f} | "
              f"{f['average_inter_onset_interval']['overlap_area']:.3f} |")
    training = [read_midi(p) for p in train_files]
    runs, real_runs = longest_shared_runs(generated, training), longest_shared_runs(real, training)
    print(f"\ncopies: longest run of notes shared with a training chorale: median {np.median(runs):.0f}, "
          f"max {max(runs)} (of {len(generated)} continuations); the real bars: median "
          f"{np.median(real_runs):.0f}, max {max(real_runs)} (Bach set some tunes more than once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
