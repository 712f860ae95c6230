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
    tokens = first.reshape(1, 1)  # (beams, length)
    scores = torch.zeros(1, dtype=torch.float64)
    for _ in range(steps):
        logp, state = step_fn(tokens[:, -1], state)  # (beams, V)
        vocab = logp.shape[-1]
        total = _possible((scores[:, None] + logp.double()).reshape(-1))  # (beams * V,)
        k = min(beam_size, int(torch.isfinite(total).sum()))
        if k == 0:
            raise ValueError("beam search: no continuation is possible (every id ruled out)")
        scores, flat = torch.topk(total, k)
        parent, ids = flat // vocab, flat % vocab
        tokens = torch.cat([tokens[parent], ids[:, None]], dim=1)
        state = reorder(state, parent)
    return tokens[:, 1:], scores


def stochastic_beam_search(step_fn: StepFn, reorder: ReorderFn, first: torch.Tensor,
                           state: Any, steps: int, beam_size: int, branch_factor: int,
                           steps_per_iteration: int, sample: Callable[[torch.Tensor], torch.Tensor]
                           ) -> tuple[torch.Tensor, float]:
    """Magenta's beam search: sampled branches, most likely survive each iteration.

    ``sample(logp)`` draws ids (N,) from log probabilities (N, V) (temperature, top-k,
    generator: the caller's choice).
    """
    tokens = first.reshape(1, 1)
    scores = torch.zeros(1, dtype=torch.float64)
    done = 0
    while done < steps:
        n = min(steps_per_iteration, steps - done)
        rows = torch.arange(tokens.shape[0]).repeat_interleave(branch_factor)
        tokens, scores, state = tokens[rows], scores[rows], reorder(state, rows)
        for _ in range(n):
            logp, state = step_fn(tokens[:, -1], state)
            ids = sample(logp)
            scores = scores + logp.double().gather(1, ids[:, None]).squeeze(1)
            tokens = torch.cat([tokens, ids[:, None]], dim=1)
        done += n
        keep = torch.topk(_possible(scores), min(beam_size, scores.shape[0])).indices
        tokens, scores, state = tokens[keep], scores[keep], reorder(state, keep)
    return tokens[0, 1:], float(scores[0])


def _possible(scores: torch.Tensor) -> torch.Tensor:
    """``scores`` with NaN (a row the model or the rules left empty) as ``-inf``: topk ranks
    NaN above every number, so an impossible hypothesis would otherwise win."""
    return torch.nan_to_num(scores, nan=-torch.inf, posinf=-torch.inf)
