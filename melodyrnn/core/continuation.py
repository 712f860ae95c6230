"""Continue a primer with a trained model, many outputs in one batched pass.

The primer runs through the model once to set the hidden state; every new id is then
produced one step at a time from that carried state -- the prefix is never re-run.
Music-agnostic: ids in, ids out; constraints arrive as a mask of allowed ids and as rules
with state of their own, applied in turn at every step: a grammar of the id language
(:class:`GrammarRule`), any rule of the caller's, and a limit on how often one run of ids may
be played (:class:`PhraseLimit`, which keeps decoders from looping: a phrase may come back,
but not again and again).

Reproducibility: output ``k`` draws its random numbers from its own generator, seeded
by ``(seed, k)``, so it is the same whatever the number of outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from melodyrnn.core.beam import beam_search, stochastic_beam_search
from melodyrnn.core.models import SequenceModel
from melodyrnn.core.sampling import SamplingConfig, sample_next

__all__ = ["DecodeConfig", "Continuation", "continue_ids", "row_generator", "plays_of_next",
           "suffix_matches", "extend_matches", "next_counts", "GrammarRule", "PhraseLimit"]


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

    def __post_init__(self) -> None:
        if not (1 <= self.beam_size <= MAX_BEAM and 1 <= self.branch_factor <= MAX_BEAM
                and 1 <= self.steps_per_iteration <= 4096):
            raise ValueError(f"need 1 <= beam_size, branch_factor <= {MAX_BEAM} and "
                             "1 <= steps_per_iteration <= 4096")


MAX_BEAM = 256  # beam and branch sizes: beyond this a search only burns memory


@dataclass
class Continuation:
    """Generated ids (n, steps) and the total ``-ln p`` of each row under the model."""

    ids: torch.Tensor
    nats: torch.Tensor


_select = SequenceModel.select_lanes


def row_generator(seed: int, row: int) -> torch.Generator:
    """The random generator of output ``row`` under ``seed`` (independent of the others)."""
    state = np.random.SeedSequence([seed, row]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def plays_of_next(tokens: torch.Tensor, n: int, vocab: int) -> torch.Tensor:
    """How often each id (N, V) has followed the last ``n - 1`` ids of ``tokens`` (N, T)
    before: the number of times the run of ``n`` ids it would complete was played."""
    return next_counts(tokens, suffix_matches(tokens), n, vocab)


def suffix_matches(tokens: torch.Tensor) -> torch.Tensor:
    """(N, T): at each position ``i``, how many ids ending at ``i`` equal the ids ending at
    the last position (0 at the last position itself), built id by id."""
    match = torch.zeros(tokens.shape[0], 0, dtype=torch.long, device=tokens.device)
    for t in range(tokens.shape[1]):
        _, match = extend_matches(tokens[:, :t], match, tokens[:, t])
    return match


def extend_matches(tokens: torch.Tensor, match: torch.Tensor, ids: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``tokens`` (N, T) with ``ids`` (N,) appended, and its :func:`suffix_matches` from the
    old ones in O(T): a position extends the match of the one before it when its id is the
    new id, else it matches nothing."""
    before = torch.cat([torch.zeros_like(match[:, :1]), match[:, :-1]], dim=1)  # (N, T): match[i - 1]
    grown = torch.where(tokens == ids[:, None], before + 1, torch.zeros_like(before))
    return (torch.cat([tokens, ids[:, None]], dim=1),
            torch.cat([grown, torch.zeros_like(ids[:, None])], dim=1))


def next_counts(tokens: torch.Tensor, match: torch.Tensor, n: int, vocab: int) -> torch.Tensor:
    """:func:`plays_of_next` from the suffix matches: every earlier place where the last
    ``n - 1`` ids were played counts the id that followed them there."""
    counts = torch.zeros(tokens.shape[0], vocab, dtype=torch.long, device=tokens.device)
    if tokens.shape[1] < n:
        return counts
    hit = match[:, :-1] >= n - 1  # (N, T - 1): the last n - 1 ids end here too
    return counts.scatter_add_(1, tokens[:, 1:].clamp(min=0), hit.long())


class GrammarRule:
    """A finite-state grammar of the id language as a decoding rule: from state 0 each id
    moves to ``next_state[state, id]`` (S, V); only ids ``allowed[state]`` (S, V) may come
    next."""

    def __init__(self, next_state: torch.Tensor, allowed: torch.Tensor) -> None:
        self.next_state, self.allowed = next_state, allowed

    def start(self, primer: list[int]) -> dict[str, torch.Tensor]:
        fsm = 0
        for i in primer[:-1]:  # the last id moves the state in the first step
            fsm = int(self.next_state[fsm, i])
        return {"fsm": torch.tensor([fsm])}

    def apply(self, e: dict, ids: torch.Tensor, logits: torch.Tensor) -> tuple[dict, torch.Tensor]:
        fsm = self.next_state.to(ids.device)[e["fsm"], ids]  # (N,)
        return {"fsm": fsm}, logits.masked_fill(~self.allowed.to(ids.device)[fsm], float("-inf"))


class PhraseLimit:
    """No run of ``run`` ids played more than ``plays`` times, primer (after <s>) included:
    the id that would play one once more is ruled out, unless that would rule out every id.
    The ids so far and their suffix matches are its state."""

    def __init__(self, run: int, plays: int) -> None:
        self.run, self.plays = run, plays

    def start(self, primer: list[int]) -> dict[str, torch.Tensor]:
        played = torch.tensor([primer[1:-1]], dtype=torch.long).reshape(1, -1)
        return {"played": played, "match": suffix_matches(played)}

    def apply(self, e: dict, ids: torch.Tensor, logits: torch.Tensor) -> tuple[dict, torch.Tensor]:
        played, match = extend_matches(e["played"], e["match"], ids)  # (N, T + 1) each
        limited = logits.masked_fill(next_counts(played, match, self.run, logits.shape[-1]) >= self.plays,
                                     float("-inf"))
        stuck = torch.isinf(limited).all(dim=-1, keepdim=True)  # nothing left: no limit
        return {"played": played, "match": match}, torch.where(stuck, logits, limited)


def continue_ids(model: SequenceModel, primer: list[int], n: int, steps: int,
                 decode: DecodeConfig = DecodeConfig(), seed: int = 0,
                 allowed: torch.Tensor | None = None, period: int = 0,
                 limit: tuple[int, int] = (0, 0),
                 grammar: tuple[torch.Tensor, torch.Tensor] | None = None,
                 rule=None) -> Continuation:
    """Generate ``n`` continuations of ``steps`` ids after ``primer`` (which starts with <s>).

    Parameters
    ----------
    allowed : bool tensor (V,), optional
        Ids that may be generated.
    period : int
        Bar length in tokens for lookback models (0: none).
    limit : (n, plays)
        ``plays`` > 0: no run of ``n`` ids is played more than ``plays`` times in primer
        (after <s>) and continuation together (:class:`PhraseLimit`).
    grammar : (next_state (S, V) long, allowed (S, V) bool), optional
        A finite-state grammar of the id language (:class:`GrammarRule`: an encoding uses it
        to rule out ids that would mean nothing, so that no two outputs differ only in such
        ids).
    rule : object, optional
        A stateful constraint of the caller's (a voice-leading rule, say), applied after the
        grammar and before the phrase limit. Every constraint here is such a rule:
        ``rule.start(primer)`` gives its state entries (tensors with the lane first, one
        lane) and ``rule.apply(entries, ids, logits)`` takes the ids just chosen (N,) and the
        next logits (N, V) and returns (entries, logits) with ruled-out ids at ``-inf``; the
        entries travel with the model state, so beam search keeps them with their hypotheses.

    Deterministic beam search returns the ``n`` best distinct beams of a beam of
    ``max(beam_size, n)``; sampling and stochastic beam search give row ``k`` its own
    generator (:func:`row_generator`). Small batches (under 16 rows) run single-threaded:
    for one-step matrix products that small, thread hand-offs cost more than they save.
    """
    threads = torch.get_num_threads()
    if n < 16 and model.embed.weight.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return _continue(model, primer, n, steps, decode, seed, allowed, period, limit,
                             grammar, rule)
    finally:
        torch.set_num_threads(threads)


def _continue(model, primer, n, steps, decode, seed, allowed, period, limit,
              grammar, rule) -> Continuation:
    model.eval()
    device = model.embed.weight.device
    state = model.initial_state(1, torch.tensor([period]), device=device)
    prefix = torch.tensor([primer[:-1]], device=device) if len(primer) > 1 else None
    if prefix is not None:
        _, state = model(prefix, state)  # the primer, once
    last = torch.tensor([primer[-1]], device=device)
    mask = None if allowed is None else allowed.to(device)[None, :]
    run, plays = limit
    rules = ([GrammarRule(*grammar)] if grammar is not None else []) + ([rule] if rule is not None else [])
    rules += [PhraseLimit(run, plays)] if plays > 0 and run > 1 else []  # last: it may give way
    started = [r.start(primer) for r in rules]
    keys = [{k: f"rule{i}.{k}" for k in e} for i, e in enumerate(started)]
    for named, e in zip(keys, started):  # every rule's entries travel with the model state
        state = {**state, **{named[k]: v.to(device) for k, v in e.items()}}

    def step(ids: torch.Tensor, st: dict) -> tuple[torch.Tensor, dict]:
        st = dict(st)
        entries = [{k: st.pop(key) for k, key in named.items()} for named in keys]
        logits, st = model(ids[:, None], st)
        logits = logits[:, -1].float()
        if mask is not None:
            logits = logits.masked_fill(~mask, float("-inf"))
        for r, named, e in zip(rules, keys, entries):
            e, logits = r.apply(e, ids, logits)
            st.update({named[k]: v for k, v in e.items()})
        return torch.log_softmax(logits, dim=-1), st

    if decode.beam_size > 1 and decode.branch_factor == 1:
        ids, scores = beam_search(step, _select, last[0], state, steps, max(decode.beam_size, n))
        return Continuation(ids[:n].cpu(), -scores[:n].cpu())
    if decode.beam_size > 1:
        rows, totals = [], []
        for i in range(n):
            g = row_generator(seed, i)
            sample = (lambda lp, g=g: sample_next(lp, decode.sampling, g, None))
            ids, score = stochastic_beam_search(step, _select, last[0], state, steps,
                                                decode.beam_size, decode.branch_factor,
                                                decode.steps_per_iteration, sample)
            rows.append(ids)
            totals.append(-score)
        return Continuation(torch.stack(rows).cpu(), torch.tensor(totals, dtype=torch.float64))
    # one uniform draw per row and step, from the row's own generator
    uniforms = torch.stack([torch.rand(steps, generator=row_generator(seed, i), dtype=torch.float64)
                            for i in range(n)])  # (n, steps)
    state = _select(state, torch.zeros(n, dtype=torch.long, device=device))
    ids = last.expand(n)
    out, nats = [], torch.zeros(n, dtype=torch.float64, device=device)
    for t in range(steps):
        logp, state = step(ids, state)  # (n, V)
        ids = sample_next(logp.cpu(), decode.sampling, uniforms=uniforms[:, t]).to(device)
        nats -= logp.gather(1, ids[:, None]).squeeze(1)
        out.append(ids)
    return Continuation(torch.stack(out, dim=1).cpu(), nats.cpu())
