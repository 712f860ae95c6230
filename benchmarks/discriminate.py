"""Can a critic tell a model's continuation from the tune's own? (issue 33)

Every held-out tune of 24 bars or more in ``--split`` gives pairs: its first 8 bars (the
primer) with its real bars 9-24, and with ``--outputs`` continuations of 16 bars that the
model writes from the same primer exactly as ``melodyrnn generate`` and
``evaluate-continuations`` do with their defaults (:class:`ContinuationConfig`'s
generate config: temperature 1, top-p 1 unless ``--temperature`` / ``--top-p`` say
otherwise; seed ``--seed`` + the tune's index in the split). Each pair
is described by :func:`melodyrnn.music.critic.pair_statistics` (cadence, register, contour,
rhythm, repeats exact and near, sections, intervals, relation to the primer).

Two classifiers -- gradient boosting and logistic regression on standardized statistics --
are trained and scored by 5-fold cross-validation grouped by tune, inside the split (nothing
is trained on another split, so ``--split test`` reports without training on the train
tunes either). Per tune, the two-alternative forced choice: is the real continuation scored
as more real than the generated one (ties: half)? 0.5 means the critic cannot tell. 95%
intervals: bootstrap over tunes. Per collection (Irish = O'Neill's + Ryan's, Essen,
Nottingham when it has 20 tunes) and overall. Two sanity rows must be caught (>= 0.95):
the primer played twice, and the real bars 9-24 shuffled in bar order. Then the statistics
that give the model away most (permutation importance of the best classifier on its held-out
folds) with their real and generated means. Choose on valid, report on test.

    python benchmarks/discriminate.py /tmp/folk --split valid [--model default] [--outputs 1]
        [--max-tunes 0] [--seed 0] [--cache /tmp/discriminate-cache] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

try:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
except ImportError:  # pragma: no cover
    sys.exit("benchmarks/discriminate.py needs scikit-learn: pip install 'melodyrnn[bench]'")

from melodyrnn.core.checkpoint import resolve_checkpoint
from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.loading import load_for_sampling
from melodyrnn.core.sampling import SamplingConfig
from melodyrnn.music.compose import generate
from melodyrnn.music.continuations import ContinuationConfig
from melodyrnn.music.critic import STATISTICS, bootstrap_interval, padded_bars, pair_statistics, two_afc
from melodyrnn.music.midi_io import read_midi
from melodyrnn.music.seeds import seed_window

GROUPS = {"oneills1850": "Irish", "ryans-mammoth": "Irish", "essen": "Essen", "nottingham": "Nottingham"}
PRIMER, BARS = 8, 16
NAMES = list(STATISTICS)


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def real_pairs(path: str, spq: int):
    """(primer, real continuation, bar beats) of a tune with 24 bars from bar 1, or None;
    notes as (pitch, start beats, end beats), the continuation's from bar 9."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tune = read_midi(path)
        total = PRIMER + BARS
        if seed_window(tune, spq, 0).seed_bars < total:
            return None
        whole = seed_window(tune, spq, total, total + 1)
    if whole.first_bar != 1:
        return None
    m = whole.melody
    bar, cut = m.steps_per_bar, PRIMER * m.steps_per_bar
    p, c = m.start_steps < cut, m.start_steps >= cut
    primer = (m.pitch[p], m.start_steps[p] / spq, np.minimum(m.end_steps[p], cut) / spq)
    real = (m.pitch[c], (m.start_steps[c] - cut) / spq, (m.end_steps[c] - cut) / spq)
    return tune, primer, real, bar / spq


def generated(loaded, tune, cfg: ContinuationConfig, seed: int, spq: int, cache: Path | None,
              key: str) -> list[tuple]:
    """The model's continuations of ``tune`` from bar 9 (cached by model, file and settings)."""
    file = cache / f"{_digest(key.encode())[:20]}.json" if cache else None
    if file and file.exists():
        rows = json.loads(file.read_text())
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outs = generate(loaded, tune, None, cfg.generate_config(seed))
        rows = [[o.continuation.pitch.tolist(), o.continuation.start_steps.tolist(),
                 o.continuation.end_steps.tolist()] for o in outs]
        if file:
            file.write_text(json.dumps(rows))
    return [(np.asarray(p), np.asarray(s) / spq, np.asarray(e) / spq) for p, s, e in rows]


def shared_bars(gens: list[tuple], bar_beats: float) -> list[float]:
    """For each pair of one tune's continuations: the share of its BARS bar places where the
    two play the same bar (diversity: 1.0 would be two identical outputs)."""
    bars = [padded_bars(p, s, e, bar_beats, BARS) for p, s, e in gens]
    return [float(np.mean([x == y for x, y in zip(bars[i], bars[j])]))
            for i in range(len(bars)) for j in range(i + 1, len(bars))]


def primer_twice(primer, bar_beats: float) -> tuple:
    p, s, e = primer
    return (np.r_[p, p], np.r_[s, s + PRIMER * bar_beats], np.r_[e, e + PRIMER * bar_beats])


def shuffled(real, bar_beats: float, rng) -> tuple:
    """The real bars in another order (each note stays in its bar, cut at the bar's end)."""
    p, s, e = real
    order = np.arange(BARS)
    while (order == np.arange(BARS)).all():
        order = rng.permutation(BARS)
    where = np.argsort(order)  # bar b goes to place where[b]
    b = np.minimum(np.floor(s / bar_beats + 1e-9).astype(int), BARS - 1)
    shift = (where[b] - b) * bar_beats
    ns, ne = s + shift, np.minimum(e, (b + 1) * bar_beats) + shift
    idx = np.argsort(ns, kind="stable")
    return p[idx], ns[idx], ne[idx]


def classifiers(seed: int) -> dict:
    return {"boosting": lambda: HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0,
                random_state=seed),
            "logistic": lambda: make_pipeline(SimpleImputer(), StandardScaler(),
                                              LogisticRegression(C=0.1, max_iter=5000))}


def cross_validate(make, real: np.ndarray, fake: np.ndarray, fake_tune: np.ndarray, seed: int,
                   importance: bool = False) -> dict:
    """Held-out scores (P(real)) of every real and fake row, 5 folds grouped by tune; with
    ``importance``, the mean drop in held-out 2AFC when each statistic is shuffled."""
    T = len(real)
    X = np.vstack([real, fake])
    y = np.r_[np.ones(T), np.zeros(len(fake))]
    groups = np.r_[np.arange(T), fake_tune]
    scores = np.zeros(len(X))
    drop = np.zeros(X.shape[1])
    rng = np.random.default_rng(seed)
    for train, test in GroupKFold(n_splits=5).split(X, y, groups):
        model = make().fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
        if importance:
            tr, fk = test[test < T], test[test >= T]
            base = np.nanmean(two_afc(scores[:T], scores[fk], groups[fk])[tr])
            for f in range(X.shape[1]):
                for _ in range(3):
                    Xp = X[test].copy()
                    Xp[:, f] = Xp[rng.permutation(len(test)), f]
                    sp = np.zeros(len(X))
                    sp[test] = model.predict_proba(Xp)[:, 1]
                    drop[f] += (base - np.nanmean(two_afc(sp[:T], sp[fk], groups[fk])[tr])) \
                        * len(tr) / T / 3
    per_tune = two_afc(scores[:T], scores[T:], fake_tune)
    return {"per_tune": per_tune, "importance": drop if importance else None}


def summarise(per_tune: np.ndarray, collection: np.ndarray, seed: int) -> dict:
    out = {}
    for name in ["all", *sorted(set(collection))]:
        sel = np.ones(len(per_tune), bool) if name == "all" else collection == name
        if name == "Nottingham" and sel.sum() < 20:
            continue
        v = per_tune[sel]
        out[name] = {"tunes": int(sel.sum()), "2afc": float(np.nanmean(v)),
                     "interval": bootstrap_interval(v, seed=seed)}
    return out


def print_2afc(results: dict, header: str) -> list[str]:
    """Print ``results`` ({(compared with, critic): summarise(...)}) as one markdown table of
    2AFC with intervals per collection, under ``header``; returns the collections shown."""
    first = results[next(iter(results))]
    cols = ["all", *[c for c in ("Irish", "Essen", "Nottingham") if c in first]]
    print(f"\n{header}\n")
    print("| real vs | critic | " + " | ".join(f"{c} ({first[c]['tunes']})" for c in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for (cond, cname), s in results.items():
        cells = [f"{s[c]['2afc']:.3f} [{s[c]['interval'][0]:.2f}, {s[c]['interval'][1]:.2f}]" for c in cols]
        print(f"| {cond} | {cname} | " + " | ".join(cells) + " |")
    return cols


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="valid", choices=["valid", "test"],
                    help="held-out tunes: valid to choose, test to report")
    ap.add_argument("--model", default="default")
    ap.add_argument("--outputs", type=int, default=1, help="generated continuations per tune")
    ap.add_argument("--max-tunes", type=int, default=0, help="at most this many tunes (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=SamplingConfig.temperature)
    ap.add_argument("--top-p", type=float, default=SamplingConfig.top_p)
    ap.add_argument("--cache", type=Path, default=None, help="folder for generated continuations")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.time()
    loaded = load_for_sampling(args.model)
    spq = loaded[1].config.steps_per_quarter
    model_hash = _digest(resolve_checkpoint(args.model).read_bytes()) \
        if not Path(args.model).exists() else _digest(Path(args.model).read_bytes())
    sampling = SamplingConfig(temperature=args.temperature, top_p=args.top_p)  # default: generate's
    cfg = ContinuationConfig(PRIMER, BARS, args.outputs, DecodeConfig(sampling), seed=args.seed)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    files = load_dataset(args.dataset).split_files(args.split)
    tunes = []
    for i, path in enumerate(files):
        got = real_pairs(path, spq)
        if got is not None:
            tunes.append((i, path, *got))
    if args.max_tunes and len(tunes) > args.max_tunes:
        tunes = [tunes[k] for k in np.linspace(0, len(tunes) - 1, args.max_tunes).round().astype(int)]
    print(f"{len(tunes)} tunes of {PRIMER + BARS}+ bars in {args.split} ({len(files)} files)", flush=True)
    rng = np.random.default_rng(args.seed)
    real, fakes = [], {"generated": [], "primer twice": [], "shuffled bars": []}
    fake_tune, collection, shared = [], [], []
    for t, (i, path, tune, primer, cont, bar_beats) in enumerate(tunes):
        key = json.dumps([model_hash, _digest(Path(path).read_bytes()), args.seed + i, args.outputs,
                          PRIMER, BARS, repr(cfg)])
        gens = generated(loaded, tune, cfg, args.seed + i, spq, args.cache, key)
        stats = (lambda c: list(pair_statistics(primer, c, bar_beats, PRIMER, BARS).values()))
        real.append(stats(cont))
        fakes["generated"] += [stats(g) for g in gens]
        shared.append(shared_bars(gens, bar_beats))
        fake_tune += [t] * len(gens)
        fakes["primer twice"].append(stats(primer_twice(primer, bar_beats)))
        fakes["shuffled bars"].append(stats(shuffled(cont, bar_beats, rng)))
        collection.append(GROUPS.get(Path(path).parent.name, Path(path).parent.name))
        if (t + 1) % 50 == 0:
            print(f"  {t + 1} tunes, {time.time() - t0:.0f} s", flush=True)
    real_x, collection = np.array(real), np.array(collection)
    tune_of = {"generated": np.array(fake_tune), "primer twice": np.arange(len(tunes)),
               "shuffled bars": np.arange(len(tunes))}
    results, importance = {}, {}
    for cond, rows in fakes.items():
        for cname, make in classifiers(args.seed).items():
            cv = cross_validate(make, real_x, np.array(rows), tune_of[cond], args.seed,
                                importance=cond == "generated" and cname == "boosting")
            results[(cond, cname)] = summarise(cv["per_tune"], collection, args.seed)
            if cv["importance"] is not None:
                importance[cname] = cv["importance"]
    gen_x = np.array(fakes["generated"])
    logistic = classifiers(args.seed)["logistic"]().fit(
        np.vstack([real_x, gen_x]), np.r_[np.ones(len(real_x)), np.zeros(len(gen_x))])
    weights = logistic[-1].coef_[0]

    cols = print_2afc(results, f"2AFC: share of tunes whose real bars 9-24 the critic scores as more real "
                               f"than the other (0.5: can't tell; 95% bootstrap interval over tunes); "
                               f"{args.split}, model {args.model}, T = {args.temperature:g}, "
                               f"top-p {args.top_p:g}, {args.outputs} output(s) a tune, "
                               f"seed {args.seed}")
    imp = importance["boosting"]
    top = np.argsort(-imp)[:12]
    gen_tune = tune_of["generated"]
    print("\nWhat gives the model away (boosting: drop in held-out 2AFC when the statistic is shuffled; "
          "logistic: standardized weight, + = more real); means real / generated\n")
    groups = [c for c in cols if c != "all"]
    print("| statistic | drop | logistic | all | " + " | ".join(groups) + " |")
    print("|---|---|---|---|" + "---|" * len(groups))
    means = {}
    for f in top:
        name = NAMES[f]
        cells = []
        for c in ["all", *groups]:
            r = real_x[:, f] if c == "all" else real_x[collection == c, f]
            g = gen_x[:, f] if c == "all" else gen_x[collection[gen_tune] == c, f]
            means.setdefault(name, {})[c] = [float(np.nanmean(r)), float(np.nanmean(g))]
            cells.append(f"{np.nanmean(r):.2f} / {np.nanmean(g):.2f}")
        print(f"| {STATISTICS[name]} (`{name}`) | {imp[f]:.3f} | {weights[f]:+.2f} | "
              + " | ".join(cells) + " |")
    pairs = [x for tune in shared for x in tune]
    diversity = {"mean_shared_bars": None, "tunes_with_a_pair_sharing_over_half": None}
    if pairs:  # two outputs a tune or more
        over_half = float(np.mean([max(t) > 0.5 for t in shared if t]))
        diversity = {"mean_shared_bars": float(np.mean(pairs)),
                     "tunes_with_a_pair_sharing_over_half": over_half}
        print(f"\nDiversity: two outputs of one tune share {diversity['mean_shared_bars']:.3f} of their "
              f"{BARS} bar places on average; tunes where some pair shares more than half: "
              f"{diversity['tunes_with_a_pair_sharing_over_half']:.3f}")
    print(f"\n{len(NAMES)} statistics, {time.time() - t0:.0f} s", flush=True)
    if args.json:
        out = {"config": {"dataset": str(args.dataset), "split": args.split, "model": args.model,
                          "outputs": args.outputs, "seed": args.seed, "tunes": len(tunes),
                          "max_tunes": args.max_tunes, "statistics": NAMES},
               "results": {f"{cond} / {cname}": s for (cond, cname), s in results.items()},
               "importance": {NAMES[f]: float(imp[f]) for f in np.argsort(-imp)},
               "logistic_weights": {n: float(w) for n, w in zip(NAMES, weights)},
               "means_real_generated": means, "diversity": diversity,
               "real_means": dict(zip(NAMES, np.nanmean(real_x, 0).tolist())),
               "generated_means": dict(zip(NAMES, np.nanmean(gen_x, 0).tolist()))}
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
