"""Critic-guided decoding, a trial (issue 33): does keeping the most "real" of K samples help?

Discriminator rejection sampling, measured without touching the product:

1. A critic is trained on the TRAIN split only: up to ``--train-tunes`` train tunes reaching bar 24
   from bar 1 (taken in a seeded random order), each giving its real bars 9-24 and one model
   continuation (the default model, T = 1, generated exactly as ``benchmarks/discriminate.py``
   generates), described by :func:`melodyrnn.music.critic.pair_statistics`; gradient boosting
   with discriminate.py's settings.
2. On ``--split`` (valid to choose; test only once valid shows a gain) the model writes ``--k``
   continuations a tune (one :func:`generate` call, seed ``--seed`` + the tune's index, as
   discriminate.py's ``--outputs K``); for k = 1, 2, 4 ... K the continuation among the first k
   that the train critic scores most real is kept (k = 1: the first sample, the baseline).
3. Each kept collection meets discriminate.py's own evaluation: critics trained and scored by
   5-fold cross-validation grouped by tune within the split, 2AFC per collection with 95%
   bootstrap intervals, real vs kept. Then the form numbers (repeat fraction of bars 9-24, last
   note on the primer's final pitch class, register lift of bars 17-24) of real, baseline and
   kept, and the time a tune's K samples take to generate (and to score) on this machine.

    python benchmarks/critic_rerank.py /tmp/folk [--split valid] [--train-tunes 400] [--k 4]
        [--model default] [--seed 0] [--cache /tmp/disc-cache] [--timing-tunes 10] [--json out.json]

Continuations are cached under ``--cache`` with discriminate.py's keys, so its cache serves both.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import discriminate as disc  # noqa: E402  (benchmarks/discriminate.py: its pairs, critics and 2AFC)

from melodyrnn.core.checkpoint import resolve_checkpoint  # noqa: E402
from melodyrnn.core.dataset import load_dataset  # noqa: E402
from melodyrnn.core.loading import load_for_sampling  # noqa: E402
from melodyrnn.music.compose import generate  # noqa: E402
from melodyrnn.music.continuations import ContinuationConfig  # noqa: E402
from melodyrnn.music.critic import bootstrap_interval, pair_statistics, two_afc  # noqa: E402
from melodyrnn.music.structure import repeat_fraction, tune_bars  # noqa: E402

PRIMER, BARS = disc.PRIMER, disc.BARS
NAMES = disc.NAMES


def tunes_of(files: list[str], spq: int, limit: int, order) -> list[tuple]:
    """(index, path, tune, primer, real, bar beats) of up to ``limit`` tunes reaching bar 24."""
    out = []
    for i in order:
        got = disc.real_pairs(files[i], spq)
        if got is not None:
            out.append((int(i), files[i], *got))
            if limit and len(out) >= limit:
                break
    return out


def continuations(loaded, tunes, k: int, seed: int, model_hash: str, spq: int, cache, label: str,
                  t0: float) -> list[list[tuple]]:
    cfg = ContinuationConfig(PRIMER, BARS, k, seed=seed)
    out = []
    for t, (i, path, tune, *_rest) in enumerate(tunes):
        key = json.dumps([model_hash, disc._digest(Path(path).read_bytes()), seed + i, k,
                          PRIMER, BARS, repr(cfg)])
        out.append(disc.generated(loaded, tune, cfg, seed + i, spq, cache, key))
        if (t + 1) % 100 == 0:
            print(f"  {label}: {t + 1} tunes, {time.time() - t0:.0f} s", flush=True)
    return out


def stats(primer, cont, bar_beats) -> list[float]:
    return list(pair_statistics(primer, cont, bar_beats, PRIMER, BARS).values())


def form(primer, cont, bar_beats) -> tuple[float, float, float]:
    """(repeat fraction of bars 9-24, last note on the primer's final pc, bars 17-24's mean
    pitch above the primer's)."""
    shift = PRIMER * bar_beats
    bars = tune_bars(np.r_[primer[0], cont[0]], np.r_[primer[1], cont[1] + shift],
                     np.r_[primer[2], cont[2] + shift], bar_beats)
    s = pair_statistics(primer, cont, bar_beats, PRIMER, BARS)
    return repeat_fraction(bars[:PRIMER + BARS], PRIMER), s["cad_last_on_primer_final"], s["reg_h2_mean"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="valid", choices=["valid", "test"])
    ap.add_argument("--train-tunes", type=int, default=400, help="train tunes for the critic")
    ap.add_argument("--k", type=int, default=4, help="samples a tune to choose from")
    ap.add_argument("--model", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None, help="folder for generated continuations")
    ap.add_argument("--timing-tunes", type=int, default=10,
                    help="tunes generated afresh (no cache) to time 1 and K samples")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.time()
    loaded = load_for_sampling(args.model)
    spq = loaded[1].config.steps_per_quarter
    model_hash = disc._digest(resolve_checkpoint(args.model).read_bytes()) \
        if not Path(args.model).exists() else disc._digest(Path(args.model).read_bytes())
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    data = load_dataset(args.dataset)

    # 1. the critic, on train tunes only
    files = data.split_files("train")
    train = tunes_of(files, spq, args.train_tunes, np.random.default_rng(args.seed).permutation(len(files)))
    print(f"{len(train)} train tunes of {PRIMER + BARS}+ bars for the critic", flush=True)
    gens = continuations(loaded, train, 1, args.seed, model_hash, spq, args.cache, "train", t0)
    Xr = np.array([stats(p, c, b) for _i, _f, _t, p, c, b in train])
    Xg = np.array([stats(p, g[0], b) for (_i, _f, _t, p, _c, b), g in zip(train, gens)])
    critic = disc.classifiers(args.seed)["boosting"]().fit(
        np.vstack([Xr, Xg]), np.r_[np.ones(len(Xr)), np.zeros(len(Xg))])
    print(f"critic trained, {time.time() - t0:.0f} s", flush=True)

    # 2. K samples a held-out tune, the most real kept
    files = data.split_files(args.split)
    held = tunes_of(files, spq, 0, range(len(files)))
    print(f"{len(held)} tunes of {PRIMER + BARS}+ bars in {args.split}", flush=True)
    samples = continuations(loaded, held, args.k, args.seed, model_hash, spq, args.cache, args.split, t0)
    collection = np.array([disc.GROUPS.get(Path(f).parent.name, Path(f).parent.name) for _i, f, *_ in held])
    real_x = np.array([stats(p, c, b) for _i, _f, _t, p, c, b in held])
    sample_x = [np.array([stats(p, g, b) for g in gs]) for (_i, _f, _t, p, _c, b), gs in zip(held, samples)]
    score = [critic.predict_proba(x)[:, 1] for x in sample_x]
    ks = sorted({1, *[2 ** j for j in range(1, 8) if 2 ** j < args.k], args.k})
    chosen = {k: np.array([int(np.argmax(s[:k])) for s in score]) for k in ks}

    # the train critic's own view of the held-out split (it chose; it is not the judge)
    real_score = critic.predict_proba(real_x)[:, 1]
    own = {k: summarise_per_tune(two_afc(real_score, np.array([s[c] for s, c in zip(score, chosen[k])]),
                                         np.arange(len(held))), collection, args.seed) for k in ks}

    # 3. discriminate.py's evaluation, real vs each kept collection; all K samples for reference
    results, per_tune, gain = {}, {}, {}
    for k in ks:
        fake = np.array([x[c] for x, c in zip(sample_x, chosen[k])])
        for cname, make in disc.classifiers(args.seed).items():
            cv = disc.cross_validate(make, real_x, fake, np.arange(len(held)), args.seed)
            per_tune[(k, cname)] = cv["per_tune"]
            results[(f"kept of {k}" if k > 1 else "first sample (K = 1)", cname)] = \
                disc.summarise(cv["per_tune"], collection, args.seed)
            if k > 1:  # paired over tunes: kept minus first sample (negative: harder to tell)
                gain[(k, cname)] = disc.summarise(cv["per_tune"] - per_tune[(1, cname)], collection,
                                                  args.seed)
    allx = np.vstack(sample_x)
    all_tune = np.repeat(np.arange(len(held)), [len(x) for x in sample_x])
    for cname, make in disc.classifiers(args.seed).items():
        cv = disc.cross_validate(make, real_x, allx, all_tune, args.seed)
        results[(f"all {args.k} samples", cname)] = disc.summarise(cv["per_tune"], collection, args.seed)

    cols = disc.print_2afc(results, f"2AFC on {args.split} (discriminate.py's critics, 5-fold CV grouped by "
                                    f"tune within the split; 0.5: can't tell; 95% bootstrap interval); model "
                                    f"{args.model}, T = 1, seed {args.seed}; chooser: boosting trained on "
                                    f"{len(train)} train tunes")
    print("\nKept minus first sample, paired over tunes (95% bootstrap interval):")
    for (k, cname), g in gain.items():
        print(f"  k = {k}, {cname}: " + ", ".join(f"{c} {g[c]['2afc']:+.3f} [{g[c]['interval'][0]:+.2f}, "
                                                  f"{g[c]['interval'][1]:+.2f}]" for c in cols if c in g))
    print("\nThe choosing critic (trained on train) scoring the held-out split, real vs kept:")
    for k in ks:
        print(f"  k = {k}: " + ", ".join(f"{c} {own[k][c]['2afc']:.3f} [{own[k][c]['interval'][0]:.2f}, "
                                         f"{own[k][c]['interval'][1]:.2f}]" for c in cols if c in own[k]))

    # form numbers
    rows = {"real": [form(p, c, b) for _i, _f, _t, p, c, b in held]}
    for k in ks:
        rows[f"kept of {k}" if k > 1 else "first sample"] = [
            form(p, gs[c], b) for (_i, _f, _t, p, _c, b), gs, c in zip(held, samples, chosen[k])]
    print("\nForm (means; Irish | Essen in brackets)\n")
    print("| | repeat fraction bars 9-24 | last note on primer's final pc | register lift bars 17-24 (st) |")
    print("|---|---|---|---|")
    forms = {}
    for name, r in rows.items():
        r = np.array(r, float)
        cells = []
        for j in range(3):
            parts = [np.nanmean(r[:, j])] + [np.nanmean(r[collection == c, j]) for c in ("Irish", "Essen")]
            forms.setdefault(name, []).append(parts)
            cells.append(f"{parts[0]:.3f} ({parts[1]:.2f} / {parts[2]:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")

    # time: K samples a tune, generated afresh, vs 1
    timing = {}
    if args.timing_tunes:
        for k in sorted({1, args.k}):
            cfg = ContinuationConfig(PRIMER, BARS, k, seed=args.seed)
            took = []
            for i, _f, tune, *_ in held[:args.timing_tunes]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t1 = time.perf_counter()
                    generate(loaded, tune, None, cfg.generate_config(args.seed + i))
                    took.append(time.perf_counter() - t1)
            timing[k] = float(np.median(took))
        n = min(args.timing_tunes, len(held))
        t1 = time.perf_counter()
        xs = [np.array([stats(p, g, b) for g in gs])
              for (_i, _f, _t, p, _c, b), gs in zip(held[:n], samples)]
        t2 = time.perf_counter()
        for x in xs:
            critic.predict_proba(x)
        timing["statistics"], timing["predict"] = (t2 - t1) / n, (time.perf_counter() - t2) / n
        timing["score"] = timing["statistics"] + timing["predict"]
        print(f"\nTime a tune (median of {min(args.timing_tunes, len(held))} tunes, one generate call each, "
              f"16 bars): 1 sample {timing[1]:.2f} s, {args.k} samples {timing[args.k]:.2f} s "
              f"({timing[args.k] / timing[1]:.2f}x); "
              f"scoring {args.k} with the critic {timing['score']:.3f} s "
              f"(statistics {timing['statistics']:.3f} s, boosting {timing['predict']:.3f} s)")
    print(f"\n{time.time() - t0:.0f} s in all", flush=True)
    if args.json:
        args.json.write_text(json.dumps({
            "config": vars(args) | {"dataset": str(args.dataset), "cache": str(args.cache),
                                    "json": str(args.json), "train_tunes_used": len(train),
                                    "held_tunes": len(held)},
            "results": {f"{cond} / {cname}": s for (cond, cname), s in results.items()},
            "kept_minus_first": {f"{k} / {c}": g for (k, c), g in gain.items()},
            "chooser_on_heldout": {str(k): v for k, v in own.items()},
            "form": forms, "timing_s": {str(k): v for k, v in timing.items()}}, indent=1))


def summarise_per_tune(per_tune, collection, seed) -> dict:
    out = {}
    for name in ["all", *sorted(set(collection))]:
        sel = np.ones(len(per_tune), bool) if name == "all" else collection == name
        if sel.sum() < 20:
            continue
        out[name] = {"2afc": float(np.nanmean(per_tune[sel])),
                     "interval": bootstrap_interval(per_tune[sel], seed=seed)}
    return out


if __name__ == "__main__":
    main()
