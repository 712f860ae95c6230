"""Continue a primer with a trained model, many outputs in one batched pass.

The primer runs through the model once to set the hidden state; every new id is then
produced one step at a time from that carried state -- the prefix is never re-run.
Music-agnostic: ids in, ids out; constraints arrive as a mask of allowed ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .beam import beam_search, stochastic_beam_search
from .models import SequenceModel
from .sampling import SamplingConfig, sample_next

__all__ = ["DecodeConfig", "Continuation", "continue_ids"]


@dataclass(frozen=True)
class DecodeConfig:
    """How to pick ids: sampling (``sampling``), or a beam when ``beam_size`` > 1.

    ``branch_factor`` > 1 selects Magenta's stochastic beam search (sampled branches of
    ``steps_per_iteration`` steps); otherwise the beam is deterministic.
    """

    sampling: SamplingConfig = SamplingConfig()
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1


@dataclass
class Continuation:
    """Generated ids (n, steps) and the total ``-ln p`` of each row under the model."""

    ids: torch.Tensor
    nats: torch.Tensor


def _select(state: dict, index: torch.Tensor) -> dict:
    return {k: (v[:, index] if k in ("h", "c") else v[index]) for k, v in state.items()}


def continue_ids(model: SequenceModel, primer: list[int], n: int, steps: int,
                 decode: DecodeConfig = DecodeConfig(), seed: int = 0,
                 allowed: torch.Tensor | None = None, period: int = 0) -> Continuation:
    """Generate ``n`` continuations of ``steps`` ids after ``primer`` (which starts with <s>).

    Parameters
    ----------
    allowed : bool tensor (V,), optional
        Ids that may be generated.
    period : int
        Bar length in tokens for lookback models (0: none).

    Small batches (under 16 rows) run single-threaded: for one-step matrix products that
    small, thread hand-offs cost more than they save (3-4x on 2 cores).
    """
    threads = torch.get_num_threads()
    if n < 16 and model.embed.weight.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return _continue(model, primer, n, steps, decode, seed, allowed, period)
    finally:
        torch.set_num_threads(threads)


def _continue(model, primer, n, steps, decode, seed, allowed, period) -> Continuation:
    model.eval()
    device = model.embed.weight.device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    state = model.initial_state(1, torch.tensor([period]), device=device)
    prefix = torch.tensor([primer[:-1]], device=device) if len(primer) > 1 else None
    if prefix is not None:
        _, state = model(prefix, state)  # the primer, once
    last = torch.tensor([primer[-1]], device=device)
    mask = None if allowed is None else allowed.to(device)[None, :]

    def step(ids: torch.Tensor, st: dict) -> tuple[torch.Tensor, dict]:
        logits, st = model(ids[:, None], st)
        logits = logits[:, -1].float()
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        return torch.log_softmax(logits, dim=-1), st

    if decode.beam_size > 1:
        rows, totals = [], []
        for i in range(n):
            if decode.branch_factor > 1:
                g = torch.Generator().manual_seed(seed + i)
                sample = (lambda lp, g=g: sample_next(lp, decode.sampling, g, None))
                ids, score = stochastic_beam_search(step, _select, last[0], state, steps,
                                                    decode.beam_size, decode.branch_factor,
                                                    decode.steps_per_iteration, sample)
            else:
                ids, score = beam_search(step, _select, last[0], state, steps, decode.beam_size)
            rows.append(ids)
            totals.append(-score)
        return Continuation(torch.stack(rows).cpu(), torch.tensor(totals, dtype=torch.float64))
    state = _select(state, torch.zeros(n, dtype=torch.long, device=device))
    ids = last.expand(n)
    out, nats = [], torch.zeros(n, dtype=torch.float64, device=device)
    for _ in range(steps):
        logp, state = step(ids, state)  # (n, V)
        ids = sample_next(logp.cpu(), decode.sampling, gen).to(device)
        nats -= logp.gather(1, ids[:, None]).squeeze(1)
        out.append(ids)
    return Continuation(torch.stack(out, dim=1).cpu(), nats.cpu())
