"""Bars of the model's own continuations, labelled with how the real tunes go on.

A form head fitted on real contexts alone (:mod:`.form_fit`) repeats as often as the tunes
do only while it reads real bars. Continuing its own music it meets contexts no tune had --
a repeat it chose itself, a phrase it varied -- and there it can repeat more than tunes do
(a third A where a reel starts its B part) or less (a German song that never returns to its
first phrase). :func:`policy_table` continues each long enough sequence of a split from its
first ``primer_bars`` bars as generation does (sampling at ``temperature``, the phrase limit,
the caller's allowed ids and grammar), records the bar table of the continuations
(:func:`.form_bars.collect_bars`, counterfactual rows on the continuation's bars) and labels
each counterfactual row with whether the *real* sequence's bar at that place equals one of
its earlier bars. Fitting P(repeat) there to those labels (:func:`.form_fit.fit_form`) teaches
the head how often a tune like this one repeats at this point of its form, wherever its own
continuation has gone. Ids and bar lengths only: no notes, no files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from melodyrnn.core.batching import sequence_bars
from melodyrnn.core.continuation import DecodeConfig, continue_ids
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.form_bars import collect_bars, split_bars
from melodyrnn.core.sampling import SamplingConfig
from melodyrnn.core.vocab import EOS

__all__ = ["PolicyConfig", "long_enough", "repeat_labels", "continue_split", "policy_table"]


@dataclass(frozen=True)
class PolicyConfig:
    """``outputs`` continuations of ``bars`` bars after the first ``primer_bars`` bars of each
    sequence (at most ``limit`` sequences, drawn with ``seed``; 0: all), sampled at
    ``temperature`` with no run of ``phrase_bars`` bars played more than ``max_plays`` times
    (0: no limit), as ``melodyrnn generate`` does."""

    primer_bars: int = 8
    bars: int = 16
    outputs: int = 2
    temperature: float = 1.0
    phrase_bars: int = 4
    max_plays: int = 2
    limit: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.primer_bars < 1 or self.bars < 1 or self.outputs < 1 or self.temperature <= 0:
            raise ValueError("primer_bars, bars and outputs must be at least 1, temperature above 0")


def long_enough(split: SplitArrays, bars: int) -> list[int]:
    """Sequences of ``split`` with a bar grid that reach bar ``bars`` (a last bar cut short
    counts, as it does for a tune)."""
    return np.flatnonzero(sequence_bars(split.lengths, split.bar_steps) >= bars).tolist()


def repeat_labels(ids: list[int], per: int, bars: int) -> np.ndarray:
    """Whether each of the first ``bars`` bars (``per`` tokens after the start token) of
    ``ids`` equals an earlier one, (bars,) bool."""
    cut = split_bars(ids, per, bars)
    return np.array([cut[b] in cut[:b] for b in range(bars)])


def continue_split(sampler, split: SplitArrays, cfg: PolicyConfig, allowed=None, grammar=None
                   ) -> tuple[SplitArrays, list[np.ndarray]]:
    """The continuations (primer, continuation and end token each) of the long enough
    sequences of ``split`` by ``sampler`` (a model :func:`.continuation.continue_ids` takes),
    with each one's real repeat labels (:func:`repeat_labels` of its source sequence)."""
    total = cfg.primer_bars + cfg.bars
    rows = long_enough(split, total)
    if cfg.limit and len(rows) > cfg.limit:
        rows = sorted(np.random.default_rng(cfg.seed).choice(rows, cfg.limit, replace=False).tolist())
    decode = DecodeConfig(SamplingConfig(cfg.temperature))
    seqs, pers, labels, source = [], [], [], []
    for i in rows:
        ids, per = split.sequence(i).astype(np.int64).tolist(), int(split.bar_steps[i])
        primer, real = ids[:1 + cfg.primer_bars * per], repeat_labels(ids, per, total)
        out = continue_ids(sampler, primer, cfg.outputs, cfg.bars * per, decode, cfg.seed * 1_000_003 + i,
                           allowed, per, (cfg.phrase_bars * per, cfg.max_plays), grammar)
        for row in out.ids:
            seqs.append(np.array([*primer, *row.tolist(), EOS], np.int64))
            pers.append(per)
            labels.append(real)
            source.append(int(split.source[i]))
    return SplitArrays.from_sequences(seqs, np.zeros(len(seqs)), source, pers), labels


def policy_table(sampler, model, split: SplitArrays, cfg: PolicyConfig, allowed=None, grammar=None
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The bar table's tensors of the continuations (:func:`continue_split`) under the torch
    ``model`` (counterfactual rows on every continuation bar) and each counterfactual row's
    label (M,), float64: does the real tune repeat an earlier bar there?"""
    generated, labels = continue_split(sampler, split, cfg, allowed, grammar)
    total = cfg.primer_bars + cfg.bars
    t = collect_bars(model, generated, counterfactual=(cfg.primer_bars, total)).tensors()
    seq, bar = t["sequence"][t["c_row"]].numpy(), t["bar"][t["c_row"]].numpy()
    y = np.array([labels[s][b] for s, b in zip(seq, bar)], np.float64)
    return t, torch.from_numpy(y)
