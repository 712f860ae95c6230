"""Compare a set of generated tunes with a reference set (Yang & Lerch 2020), and catch copies.

For each feature of :mod:`melodyrnn.music.features`: the Euclidean distances between the pieces of
the reference set (intra-set), of the generated set, and between the two sets (inter-set);
each distance set smoothed by a Gaussian kernel density estimate (Scott's bandwidth) on one
common grid; from the reference's intra-set density p and the inter-set density q, the
overlapping area ``sum(min(p, q)) dx`` (1: the sets are alike) and ``KL(p || q)`` in nats
(0: alike). Copy detection: the longest run of consecutive notes (pitch and duration) that a
generated tune shares with any training tune.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.music.encodings.base import makes_tunes
from melodyrnn.music.features import FEATURES, piece_features, pitched_notes
from melodyrnn.music.ingest.files import discover
from melodyrnn.music.midi_io import read_midi
from melodyrnn.music.notes import Tune

__all__ = ["compare_sets", "evaluate_samples", "load_tune_set", "longest_shared_runs",
           "markdown_table", "kde_on_grid"]

GRID = 1024
_P = 0x100000001B3  # odd hash base; invertible mod 2**64
_MASK = (1 << 64) - 1


def _subsample(items: list, limit: int, seed: int) -> list:
    if len(items) <= limit:
        return items
    keep = np.sort(np.random.default_rng(seed).choice(len(items), limit, replace=False))
    return [items[i] for i in keep]


def _pairwise(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Distances between rows: all pairs i < j of ``a``, or every row of ``a`` to every row of ``b``."""
    if b is None:
        i, j = np.triu_indices(len(a), k=1)
        return np.linalg.norm(a[i] - a[j], axis=1)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2).ravel()


def _bandwidth(x: np.ndarray) -> float:
    spread = float(np.std(x)) if len(x) > 1 else 0.0
    scott = spread * len(x) ** -0.2 if len(x) else 0.0
    return scott if scott > 0 else max(abs(float(x.mean())) * 0.01 if len(x) else 0.0, 1e-3)


def kde_on_grid(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian KDE of samples ``x`` evaluated on the evenly spaced ``grid`` (binned: the
    samples are counted into grid cells, then smoothed), normalised to integrate to 1."""
    dx = grid[1] - grid[0]
    edges = np.concatenate([grid - dx / 2, [grid[-1] + dx / 2]])
    counts, _ = np.histogram(x, bins=edges)
    sigma = _bandwidth(x) / dx  # in cells
    half = int(min(max(4 * sigma, 1), len(grid)))
    offsets = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (offsets / max(sigma, 1e-9)) ** 2)
    density = np.convolve(counts.astype(np.float64), kernel / kernel.sum(), mode="same")
    total = density.sum() * dx
    return density / total if total > 0 else density


def _compare(ref: np.ndarray, gen: np.ndarray) -> dict:
    intra_ref, intra_gen, inter = _pairwise(ref), _pairwise(gen), _pairwise(gen, ref)
    samples = [d for d in (intra_ref, inter) if len(d)]
    if len(samples) < 2:
        raise ValueError("need at least two reference tunes and one generated tune")
    pad = 4 * max(_bandwidth(d) for d in samples)
    lo = min(float(d.min()) for d in samples) - pad
    hi = max(float(d.max()) for d in samples) + pad
    grid = np.linspace(lo, hi, GRID)
    p, q = kde_on_grid(intra_ref, grid), kde_on_grid(inter, grid)
    dx = grid[1] - grid[0]
    tiny = 1e-12
    kl = float(np.sum(np.where(p > 0, p * np.log((p + tiny) / (q + tiny)), 0.0)) * dx)

    def stats(x):
        return {"mean": float(x.mean()) if len(x) else math.nan,
                "std": float(x.std()) if len(x) else math.nan}

    return {"reference_intra": stats(intra_ref), "generated_intra": stats(intra_gen),
            "inter": stats(inter), "overlap_area": float(np.minimum(p, q).sum() * dx),
            "kl_divergence": max(kl, 0.0)}


def compare_sets(generated: list[Tune], reference: list[Tune], *, max_pieces: int = 400,
                 seed: int = 0) -> dict:
    """Per feature: mean value in each set, distance statistics, overlap area and KL.

    Sets larger than ``max_pieces`` are subsampled (seeded) to bound the pairwise distances.
    """
    gen = [piece_features(t) for t in _subsample(generated, max_pieces, seed)]
    ref = [piece_features(t) for t in _subsample(reference, max_pieces, seed + 1)]
    out = {}
    for name in FEATURES:
        g = np.stack([f[name].ravel() for f in gen]) if gen else np.zeros((0, 1))
        r = np.stack([f[name].ravel() for f in ref]) if ref else np.zeros((0, 1))
        row = _compare(r, g)
        if g.shape[1] == 1:  # scalar feature: its mean value in each set
            row["generated_value"], row["reference_value"] = float(g.mean()), float(r.mean())
        out[name] = row
    return {"features": out, "generated": len(gen), "reference": len(ref)}


# -- copies ---------------------------------------------------------------------------
def _codes(tune: Tune) -> np.ndarray:
    """One int per note of the tune's pitched notes: pitch and duration (1/12 beats)."""
    pitch, start, end = pitched_notes(tune)
    return (pitch * 100_003 + np.round((end - start) * 12).astype(np.int64) + 1).astype(np.uint64)


class _Hasher:
    """Hashes of every k-note window of concatenated sequences in O(n) per k (prefix sums of
    ``c_j * P^-(j+1)`` mod 2**64)."""

    def __init__(self, seqs: list[np.ndarray]) -> None:
        self.codes = np.concatenate(seqs) if seqs else np.zeros(0, np.uint64)
        self.seq = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
        n = len(self.codes)
        inv = _P
        for _ in range(6):  # Newton's iteration for P^-1 mod 2**64
            inv = (inv * (2 - _P * inv)) & _MASK
        with np.errstate(over="ignore"):
            self.pow = np.concatenate([[np.uint64(1)], np.cumprod(np.full(n, _P, np.uint64))])
            ipow = np.cumprod(np.full(n, inv, np.uint64))  # P^-(j+1)
            self.prefix = np.concatenate([[np.uint64(0)], np.cumsum(self.codes * ipow)])

    def windows(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(hashes, sequence index) of every window of k notes inside one sequence."""
        n = len(self.codes)
        if k < 1 or k > n:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        i = np.arange(n - k + 1)
        inside = self.seq[i] == self.seq[i + k - 1]
        i = i[inside]
        with np.errstate(over="ignore"):
            h = self.pow[i + k] * (self.prefix[i + k] - self.prefix[i])
        return h, self.seq[i]


def longest_shared_runs(generated: list[Tune], training: list[Tune], cap: int = 128) -> list[int]:
    """For each generated tune, the longest run of consecutive notes (same pitches and
    durations) found in any training tune, up to ``cap``."""
    gen = _Hasher([_codes(t) for t in generated])
    train = _Hasher([_codes(t) for t in training])
    known: dict[int, np.ndarray] = {}

    def shared(k: int) -> np.ndarray:  # (tunes,) bool: some k-window is in the training set
        if k not in known:
            h, _ = train.windows(k)
            known[k] = np.unique(h)
        h, which = gen.windows(k)
        hit = np.zeros(len(generated), bool)
        if len(h) and len(known[k]):
            pos = np.searchsorted(known[k], h).clip(max=len(known[k]) - 1)
            hit[which[known[k][pos] == h]] = True
        return hit

    lo = np.zeros(len(generated), np.int64)  # shared at lo (0 always)
    hi = np.full(len(generated), cap + 1, np.int64)  # not shared at hi
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        for k in np.unique(mid[hi - lo > 1]):
            rows = (mid == k) & (hi - lo > 1)
            hit = shared(int(k))
            lo[rows & hit], hi[rows & ~hit] = k, k
    return lo.tolist()


def markdown_table(result: dict) -> str:
    """The comparison as a Markdown table, one row per feature."""
    lines = ["| feature | reference intra-set | generated intra-set | inter-set | overlap area | KL |",
             "|---|---|---|---|---|---|"]
    for name, r in result["features"].items():
        cells = [f"{r[k]['mean']:.3f} ± {r[k]['std']:.3f}"
                 for k in ("reference_intra", "generated_intra", "inter")]
        lines.append(f"| {name} | {' | '.join(cells)} | {r['overlap_area']:.3f} | "
                     f"{r['kl_divergence']:.3f} |")
    copies = result.get("copies")
    if copies:
        lines.append("")
        lines.append(f"Longest run of notes shared with a training tune: median "
                     f"{copies['median']:.0f}, max {copies['max']}; {copies['at_least']} of "
                     f"{copies['tunes']} tunes share {copies['threshold']}+ notes.")
    return "\n".join(lines)


# -- sets from disk -------------------------------------------------------------------
def load_tune_set(path: str | os.PathLike, split: str = "test") -> tuple[list[Tune], list[tuple[str, str]]]:
    """Tunes of a dataset folder's ``split`` (decoded with its encoding), or of MIDI files and
    folders (searched recursively); also the (path, reason) of each file that could not be read."""
    path = Path(path)
    if (path / "meta.json").is_file():
        ds = load_dataset(path)
        enc = encoding_from_dict(ds.meta["encoding"])
        if not makes_tunes(enc):
            raise ValueError(f"{path} is a text dataset (the {enc.name!r} encoding): it holds no tunes "
                             "to compare")
        arrays = ds.split(split)
        return [enc.decode_tune(np.asarray(arrays.sequence(i))) for i in range(arrays.n_sequences)], []
    tunes, bad = [], []
    for file in discover([str(path)]):
        try:
            tunes.append(read_midi(file))
        except (ValueError, OSError) as e:
            bad.append((file, str(e).splitlines()[0] if str(e) else type(e).__name__))
    return tunes, bad


def evaluate_samples(generated: str | os.PathLike, reference: str | os.PathLike, *,
                     train: str | os.PathLike | None = None, split: str = "test",
                     max_pieces: int = 400, copy_threshold: int = 16, seed: int = 0) -> dict:
    """:func:`compare_sets` of the tunes under ``generated`` against ``reference`` (MIDI
    folder or dataset folder, its ``split``), plus copies of ``train`` (a dataset folder's
    train split, or MIDI) when given. Unreadable files are listed under ``skipped``."""
    gen, bad_gen = load_tune_set(generated, split)
    ref, bad_ref = load_tune_set(reference, split)
    if not gen or len(ref) < 2:
        raise ValueError(f"need generated tunes ({len(gen)} read) and two or more reference tunes "
                         f"({len(ref)} read)")
    result = compare_sets(gen, ref, max_pieces=max_pieces, seed=seed)
    result["skipped"] = [{"path": p, "reason": r} for p, r in bad_gen + bad_ref]
    if train is not None:
        train_tunes, _ = load_tune_set(train, "train")
        runs = longest_shared_runs(gen, train_tunes)
        result["copies"] = {"tunes": len(runs), "median": float(np.median(runs)), "max": int(max(runs)),
                            "threshold": copy_threshold,
                            "at_least": int(sum(r >= copy_threshold for r in runs)), "runs": runs}
    return result
