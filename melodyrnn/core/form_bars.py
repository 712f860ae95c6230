"""Per-bar tables for fitting a bar-copy head on a frozen network.

With the network fixed, what the form head decides at a bar's start enters the likelihood
only through that bar: the bar's probability is the mixture, over the head's 2K + 1
components, of each component's probability of the whole bar (exact copy: 1 or 0; varied
copy d bars back: the product over its tokens of ``(1 - eps) [y == copy] + eps q(y)``; new:
the product of ``q(y)``, the network's probabilities). :func:`collect_bars` records, for
every whole bar after the first, the head's inputs and the network's ``q`` along the real
bar; for the bars of a window (``counterfactual``, bars 9-24 by default) of long enough
sequences it also records ``q`` along each distinct one of the last K bars played in its
place, from the same state, so that the chance of reproducing an earlier bar exactly can
be computed for bars that do not repeat (:mod:`.form_fit`). Ids and bar lengths only: no
notes, no files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from melodyrnn.core.batching import sequence_bars
from melodyrnn.core.models.form import bar_start_streaks, span_of

__all__ = ["BarTable", "collect_bars", "split_bars"]


@dataclass
class BarTable:
    """Bars (N) with the head's inputs and the network's probabilities along them.

    ``h`` (N, H) the network's output at the bar's start, ``bar`` (N,) its index, ``streak``
    (N, K) the repeat streaks, ``span`` (N,) the sequence's length class, ``period`` (N,)
    the bar length in tokens, ``hits`` (N, K, P) which of its tokens equal those d bars back
    (none where no bar lies d back), ``q`` (N, P) the network's probability of each of its
    tokens (1 past the bar's end), ``sequence`` (N,) which sequence it is from.
    Counterfactual rows (M): ``c_row`` (M,) the bar, ``c_tokens`` (M, K, P) the distinct bars
    of the last K (-1: none), ``c_q`` (M, K, P) the network's probabilities along each played
    in its place, ``c_source`` (M, K) which of them lies d bars back (-1: before the start),
    ``c_repeat`` (M,) whether the real bar is one of them.
    """

    h: np.ndarray
    bar: np.ndarray
    streak: np.ndarray
    span: np.ndarray
    period: np.ndarray
    hits: np.ndarray
    q: np.ndarray
    sequence: np.ndarray
    c_row: np.ndarray
    c_tokens: np.ndarray
    c_q: np.ndarray
    c_source: np.ndarray
    c_repeat: np.ndarray

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in vars(self).items()}


def split_bars(ids: list[int], per: int, n: int) -> list[tuple]:
    """The first ``n`` bars of ``ids`` (``per`` tokens each, after the start token) as tuples."""
    return [tuple(ids[1 + b * per:1 + (b + 1) * per]) for b in range(n)]


def _net_probs(model, ids: list[int], state) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The network's outputs (T, H) and its probabilities (T, V) after each of ``ids``."""
    h, state = model.features(torch.tensor([ids]), state)
    return h[0], torch.softmax(model.logits(h).float(), dim=-1)[0], state


def _streaks(bars: list[tuple], k: int) -> list[np.ndarray]:
    """Repeat streaks (K,) at the start of bars 1..n - 1, as the head counts them."""
    streak, out = np.zeros(k, np.int64), []
    for b in range(1, len(bars)):
        match = np.array([d < b and bars[b - 1] == bars[b - 1 - d] for d in range(1, k + 1)])
        streak = bar_start_streaks(match[None], streak[None], np.array([b]))[0]
        out.append(streak)
    return out


def _counterfactual(model, state, last: int, bars: list[tuple], b: int, k: int, width: int) -> tuple:
    """For bar ``b`` (``state``: the network's after the bars before it, ``last`` the token
    before it): the distinct bars among the last K (K, P), the network's probabilities along
    each played as bar b (K, P), which of them lies d bars back (K,), whether bar b is one."""
    cands = sorted({bars[j] for j in range(max(0, b - k), b)})
    source = np.full(k, -1)
    for d in range(1, min(k, b) + 1):
        source[d - 1] = cands.index(bars[b - d])
    lanes = model.select_lanes(state, torch.zeros(len(cands), dtype=torch.long))
    h, _ = model.features(torch.tensor([[last, *c[:-1]] for c in cands]), lanes)
    probs = torch.softmax(model.logits(h).float(), dim=-1)  # (C, P, V)
    q = probs.gather(2, torch.tensor(cands)[..., None])[..., 0].numpy()  # (C, P)
    per = len(cands[0])
    tokens, c_q = np.full((k, width), -1, np.int64), np.ones((k, width), np.float32)
    tokens[:len(cands), :per], c_q[:len(cands), :per] = cands, q
    return tokens, c_q, source, bars[b] in cands


def _one_pass(model, ids: list[int], bars: list[tuple], window: range, k: int, width: int
              ) -> tuple[torch.Tensor, np.ndarray, list[tuple]]:
    """The network over ``ids`` once, in the tune's own length class: its outputs (T, H) and
    each target's probability (T,), with the counterfactual rows of the bars of ``window``
    (empty: none) taken from the state at each of their starts on the way."""
    per = len(bars[0])
    cuts = [0, *(b * per for b in window), len(ids) - 1]  # state at input b * per: bars before b
    length = torch.from_numpy(sequence_bars([len(ids)], [per]))
    state, hs, probs, rows = model.initial_state(1, torch.tensor([per]), bars=length), [], [], []
    for a, z in zip(cuts[:-1], cuts[1:]):
        if a:
            rows.append((a // per, *_counterfactual(model, state, ids[a], bars, a // per, k, width)))
        h, p, state = _net_probs(model, ids[a:z], state)
        hs.append(h)
        probs.append(p[torch.arange(z - a), torch.tensor(ids[a + 1:z + 1])])
    return torch.cat(hs), torch.cat(probs).numpy(), rows


def collect_bars(model, split, counterfactual: tuple[int, int] = (8, 24)) -> BarTable:
    """The bar table of the sequences of ``split`` (a :class:`~melodyrnn.core.dataset.SplitArrays`)
    under a bar-copy ``model`` (eval mode, no gradients); bars ``counterfactual`` (0-based,
    end exclusive) of sequences at least that long get counterfactual rows."""
    k, width = model.bar_copy.k, int(max(split.bar_steps.max(initial=1), 1))
    rows: dict[str, list] = {name: [] for name in ("h", "bar", "streak", "span", "period", "hits", "q",
                                                     "sequence")}
    cf: list[tuple] = []
    was = model.training
    model.eval()
    with torch.no_grad():
        for i in range(split.n_sequences):
            ids, per = split.sequence(i).astype(np.int64).tolist(), int(split.bar_steps[i])
            whole = (len(ids) - 2) // per if per > 0 else 0  # whole bars before the end token
            if whole < 2:
                continue
            bars = split_bars(ids, per, whole)
            window = range(*counterfactual) if whole >= counterfactual[1] else range(0)
            h, q_real, extra = _one_pass(model, ids, bars, window, k, width)
            first = len(rows["bar"])
            cf += [(first + b - 1, *rest) for b, *rest in extra]
            span = int(span_of(sequence_bars([len(ids)], [per])[0]))
            for b, streak in zip(range(1, whole), _streaks(bars, k)):
                hits, q = np.zeros((k, width), bool), np.ones(width, np.float32)
                for d in range(1, min(k, b) + 1):
                    hits[d - 1, :per] = np.equal(bars[b - d], bars[b])
                q[:per] = q_real[b * per:(b + 1) * per]
                for name, v in zip(rows, (h[b * per].numpy(), b, streak, span, per, hits, q, i)):
                    rows[name].append(v)
    model.train(was)
    arrays = {name: np.array(v) for name, v in rows.items()}
    columns = list(zip(*cf)) if cf else [[] for _ in range(5)]
    return BarTable(**arrays, c_row=np.array(columns[0], np.int64),
                    c_tokens=np.array(columns[1], np.int64).reshape(-1, k, width),
                    c_q=np.array(columns[2], np.float32).reshape(-1, k, width),
                    c_source=np.array(columns[3], np.int64).reshape(-1, k),
                    c_repeat=np.array(columns[4], bool))
