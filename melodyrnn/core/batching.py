"""Truncated-BPTT batches: lanes that each read whole sequences window by window.

Each of the ``batch`` lanes takes the next sequence from a (shuffled) queue and feeds it
``seq_len`` tokens at a time, so the hidden state carries from one window to the next
of the same sequence and is reset where a lane starts a new one. A sequence's last
window is padded (id 0, target ignored); nothing else is. Every prediction of every
sequence is made exactly once per epoch: the first from ``<s>``, the last the end token.

The plan of an epoch is a pure function of (sequence lengths, order, batch, seq_len), so
a run can stop anywhere and resume at the same step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from melodyrnn.core.dataset import SplitArrays

__all__ = ["Plan", "plan_epoch", "make_batch", "sequence_bars", "Augmenter", "IGNORE"]

IGNORE = -100  # target id that the loss skips


class Augmenter(Protocol):
    """Changes training sequences on the fly (e.g. transposition), one choice per sequence."""

    def choose(self, sequence: np.ndarray, rng: np.random.Generator) -> int:
        """A variant (0: unchanged) for a whole sequence."""

    def apply(self, ids: np.ndarray, variant: int) -> np.ndarray:
        """Apply a variant chosen by :meth:`choose` to part of that sequence."""


@dataclass
class Plan:
    """Which sequence window each lane reads at each step (-1: the lane idles)."""

    seq: np.ndarray  # (steps, batch) sequence index
    window: np.ndarray  # (steps, batch) window index within that sequence
    variant: np.ndarray  # (n_sequences,) augmentation variant per sequence

    @property
    def steps(self) -> int:
        return int(self.seq.shape[0])


def plan_epoch(lengths: np.ndarray, order: np.ndarray, batch: int, seq_len: int,
               variants: np.ndarray | None = None) -> Plan:
    """Lay the sequences of ``order`` (indices into ``lengths``) out on ``batch`` lanes.

    ``lengths`` are token counts with start and end tokens; a sequence of length L makes
    ``L - 1`` predictions in ``ceil((L - 1) / seq_len)`` windows.
    """
    windows = np.maximum(1, -(-(np.asarray(lengths)[order] - 1) // seq_len))
    lane_end = np.zeros(batch, np.int64)  # step at which each lane is free
    start = np.zeros(len(order), np.int64)
    lane = np.zeros(len(order), np.int64)
    for i, w in enumerate(windows.tolist()):  # greedy: the lane that frees up first
        b = int(np.argmin(lane_end))
        lane[i], start[i] = b, lane_end[b]
        lane_end[b] += w
    steps = int(lane_end.max()) if len(order) else 0
    seq = np.full((steps, batch), -1, np.int64)
    win = np.zeros((steps, batch), np.int64)
    for i, (b, s, w) in enumerate(zip(lane.tolist(), start.tolist(), windows.tolist())):
        seq[s:s + w, b] = order[i]
        win[s:s + w, b] = np.arange(w)
    if variants is None:
        variants = np.zeros(len(lengths), np.int64)
    return Plan(seq, win, variants)


@dataclass
class Batch:
    """One step's tensors as numpy arrays, all (batch, seq_len) unless noted."""

    inputs: np.ndarray
    targets: np.ndarray  # IGNORE where there is nothing to predict
    resets: np.ndarray  # (batch,) bool: the lane starts a new sequence here
    periods: np.ndarray  # (batch,) bar length of the lane's sequence (0: none)
    seq: np.ndarray  # (batch,) sequence index (-1: idle lane)
    bars: np.ndarray  # (batch,) length of the lane's sequence in bars (0: no bar grid)


def sequence_bars(lengths: np.ndarray, periods: np.ndarray) -> np.ndarray:
    """Lengths in bars (a started bar counts) of sequences of ``lengths`` tokens (with start
    and end tokens) and bar length ``periods`` tokens (0: no grid, 0 bars)."""
    body = np.maximum(np.asarray(lengths, np.int64) - 2, 0)
    per = np.asarray(periods, np.int64)
    return np.where(per > 0, -(-body // np.maximum(per, 1)), 0)


def make_batch(split: SplitArrays, plan: Plan, step: int, seq_len: int,
               augmenter: Augmenter | None = None) -> Batch:
    """Gather the windows of ``step`` from the (memory-mapped) split."""
    seqs, wins = plan.seq[step], plan.window[step]
    batch = seqs.shape[0]
    inputs = np.zeros((batch, seq_len), np.int64)
    targets = np.full((batch, seq_len), IGNORE, np.int64)
    periods = np.zeros(batch, np.int64)
    for b in np.flatnonzero(seqs >= 0).tolist():
        s, w = int(seqs[b]), int(wins[b])
        begin, end = int(split.offsets[s]), int(split.offsets[s + 1])
        a = begin + w * seq_len
        z = min(a + seq_len + 1, end)
        chunk = np.asarray(split.tokens[a:z], np.int64)
        if augmenter is not None and plan.variant[s]:
            chunk = augmenter.apply(chunk, int(plan.variant[s]))
        n = chunk.shape[0] - 1
        inputs[b, :n] = chunk[:-1]
        targets[b, :n] = chunk[1:]
        periods[b] = split.bar_steps[s]
    s = np.maximum(seqs, 0)
    bars = np.where(seqs >= 0, sequence_bars(split.offsets[s + 1] - split.offsets[s], periods), 0)
    return Batch(inputs, targets, (wins == 0) & (seqs >= 0), periods, seqs, bars)
