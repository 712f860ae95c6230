"""Beam search over a step function; it knows no model.

A step function maps the last ids of N hypotheses (N,) and their state to log
probabilities (N, V) and the next state; ``reorder(state, index)`` picks state rows.
:func:`beam_search` returns the final beam, best first (distinct sequences, each with its
total log probability); :func:`stochastic_beam_search` returns the best sequence.

- :func:`beam_search` -- deterministic: every hypothesis expands to all ids, the
  ``beam_size`` best continuations survive each step.
- :func:`stochastic_beam_search` -- Magenta's: each of ``beam_size`` hypotheses branches
  ``branch_factor`` times, each branch *sampled* for ``steps_per_iteration`` steps, and
  the ``beam_size`` most likely branches survive each iteration.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["beam_search", "stochastic_beam_search", "StepFn", "ReorderFn"]

StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]
ReorderFn = Callable[[Any, torch.Tensor], Any]


def beam_search(step_fn: StepFn, reorder: ReorderFn, first: torch.Tensor, state: Any,
                steps: int, beam_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``beam_size`` best continuations of ``steps`` ids after ``first`` (one id,
    shape ()): ids (k, steps) and total log probabilities (k,), best first. Every
    hypothesis is a different path, so the rows are distinct sequences.

    Only possible continuations (finite log probability) enter the beam: where fewer than
    ``beam_size`` ids are allowed (a key, a range, a grammar), the beam holds fewer, so ``k``
    may be less than ``beam_size``. ``state`` is for one hypothesis; it is reordered to the
    beam as the search grows.

    Raises
    ------
    ValueError
        When no continuation is possible (every id of every hypothesis ruled out).
    """
    paths = _Paths(first)
    scores = torch.zeros(1, dtype=torch.float64)
    for _ in range(steps):
        logp, state = step_fn(paths.last, state)  # (beams, V)
        vocab = logp.shape[-1]
        total = (scores[:, None] + logp.double()).reshape(-1)  # (beams * V,)
        scores, flat = torch.topk(total, min(beam_size, total.shape[0]))
        if torch.isnan(scores).any():  # rare (a model that gives NaN): checked on the k best only
            scores, flat = torch.topk(_possible(total), min(beam_size, total.shape[0]))
        k = int((scores > -torch.inf).sum())  # impossible continuations are last: drop them
        if k == 0:
            raise ValueError("beam search: no continuation is possible (every id ruled out)")
        scores, flat = scores[:k], flat[:k]
        parent = flat // vocab
        paths.pick(parent)
        paths.append(flat % vocab)
        state = reorder(state, parent)
    return paths.ids(), scores


def stochastic_beam_search(step_fn: StepFn, reorder: ReorderFn, first: torch.Tensor,
                           state: Any, steps: int, beam_size: int, branch_factor: int,
                           steps_per_iteration: int, sample: Callable[[torch.Tensor], torch.Tensor]
                           ) -> tuple[torch.Tensor, float]:
    """Magenta's beam search: sampled branches, most likely survive each iteration.

    ``sample(logp)`` draws ids (N,) from log probabilities (N, V) (temperature, top-k,
    generator: the caller's choice).
    """
    paths = _Paths(first)
    scores = torch.zeros(1, dtype=torch.float64)
    done = 0
    while done < steps:
        n = min(steps_per_iteration, steps - done)
        rows = torch.arange(scores.shape[0]).repeat_interleave(branch_factor)
        paths.pick(rows)
        scores, state = scores[rows], reorder(state, rows)
        for _ in range(n):
            logp, state = step_fn(paths.last, state)
            ids = sample(logp)
            scores = scores + logp.double().gather(1, ids[:, None]).squeeze(1)
            paths.append(ids)
        done += n
        keep = torch.topk(_possible(scores), min(beam_size, scores.shape[0])).indices
        paths.pick(keep)
        scores, state = scores[keep], reorder(state, keep)
    return paths.ids()[0], float(scores[0])


class _Paths:
    """The hypotheses' ids as back-pointers: each step records the new ids and which row
    each came from, and :meth:`ids` walks back once at the end. Copying every path at every
    step instead made a search quadratic in its length (beam 64 x 64 bars: 48 s)."""

    def __init__(self, first: torch.Tensor) -> None:
        self.last = first.reshape(1)  # (rows,): each hypothesis' last id
        self.moves: list[tuple[str, torch.Tensor]] = []  # ("pick", rows) or ("append", ids)

    def pick(self, rows: torch.Tensor) -> None:
        """Keep (and repeat) hypotheses: row ``i`` becomes old row ``rows[i]``."""
        self.last = self.last[rows]
        self.moves.append(("pick", rows))

    def append(self, ids: torch.Tensor) -> None:
        self.last = ids
        self.moves.append(("append", ids))

    def ids(self) -> torch.Tensor:
        """(rows, steps): every hypothesis' ids after the first."""
        steps = sum(kind == "append" for kind, _ in self.moves)
        out = torch.empty((self.last.shape[0], steps), dtype=torch.int64)
        index = torch.arange(self.last.shape[0])
        for kind, values in reversed(self.moves):
            if kind == "pick":
                index = values[index]
            else:
                steps -= 1
                out[:, steps] = values[index]
        return out


def _possible(scores: torch.Tensor) -> torch.Tensor:
    """``scores`` with NaN (a row the model or the rules left empty) as ``-inf``: topk ranks
    NaN above every number, so an impossible hypothesis would otherwise win."""
    return scores.masked_fill(~(scores < torch.inf), -torch.inf)  # NaN and +inf fail the test
