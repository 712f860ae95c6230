"""Continue a primer with a trained model, many outputs in one batched pass.

The primer runs through the model once to set the hidden state; every new id is then
produced one step at a time from that carried state -- the prefix is never re-run.
Music-agnostic: ids in, ids out; constraints arrive as a mask of allowed ids and as rules
with state of their own (:mod:`melodyrnn.core.rules`), applied in turn at every step.

The model is a torch :class:`~melodyrnn.core.models.network.SequenceModel` (or anything
with its ``initial_state`` / ``forward`` / ``embed``) or a
:class:`~melodyrnn.core.models.numpy_net.NumpyModel`; sampling runs in numpy either way,
so a numpy model decodes in a process that never imports torch. Beam search uses torch.

Reproducibility: output ``k`` draws its random numbers from its own generator, seeded
by ``(seed, k)``, so it is the same whatever the number of outputs.

A form head that reads the tune's length (``form.length``) is not told it: the primer runs
once per length class, and each output draws its class from the posterior, the classes'
prior times the primer's likelihood under each, over the classes long enough for the tune
asked for (at least the primer; with the end id ruled out, primer and continuation); greedy
decoding and beam search take the most probable class. ``nats`` are then the continuation's
under its class.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from melodyrnn.core.install import require_torch
from melodyrnn.core.models.form import SPANS, length_classes, length_posterior, spans_reaching
from melodyrnn.core.models.numpy_net import NumpyModel
from melodyrnn.core.rules import (GrammarRule, PhraseLimit, extend_matches, next_counts, plays_of_next,
                                  suffix_matches)
from melodyrnn.core.sampling import SamplingConfig, log_softmax, sample_next
from melodyrnn.core.vocab import EOS

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

    ids: np.ndarray
    nats: np.ndarray


def row_generator(seed: int, row: int) -> np.random.Generator:
    """The random generator of output ``row`` under ``seed`` (independent of the others)."""
    return np.random.default_rng(np.random.SeedSequence([seed, row]))


def _classes(lanes: int) -> dict:
    """``initial_state``'s length classes for a lane per class (none asked for at one lane, so
    that models without a form head, or wrappers of one, need not take the argument)."""
    return {"classes": np.arange(lanes)} if lanes > 1 else {}


class _NumpyStepper:
    """A :class:`NumpyModel` as the decoder's step: ids (N,) -> log-probs (N, V)."""

    def __init__(self, model: NumpyModel) -> None:
        self.model = model

    def start(self, primer: list[int], period: int, classes: int = 1) -> tuple[dict, np.ndarray]:
        state = self.model.initial_state(classes, period, **_classes(classes))
        nats = np.zeros(classes)
        for i, y in zip(primer[:-1], primer[1:]):  # the primer, once (per length class)
            lp, state = self.model.step(np.full(classes, i), state)
            nats -= lp[:, y]
        return state, nats

    def step(self, ids: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        return self.model.step(ids, state)

    def select(self, state: dict, index: np.ndarray) -> dict:
        return self.model.select_lanes(state, index)


class _TorchStepper:
    """A torch model as the decoder's step; ids and log-probs cross as numpy arrays."""

    def __init__(self, model) -> None:
        import torch

        from melodyrnn.core.models.network import SequenceModel

        self.torch, self.model, self.lanes = torch, model, SequenceModel.select_lanes
        self.device = model.embed.weight.device
        model.eval()

    def start(self, primer: list[int], period: int, classes: int = 1) -> tuple[dict, np.ndarray]:
        torch = self.torch
        state = self.model.initial_state(classes, torch.full((classes,), period), device=self.device,
                                         **_classes(classes))
        nats = np.zeros(classes)
        if len(primer) > 1:
            ids = torch.tensor([primer[:-1]] * classes, device=self.device)
            out, state = self.model(ids, state)  # log-probabilities (forward's one contract)
            y = torch.tensor([primer[1:]] * classes, device=self.device)[..., None]
            nats = -out.float().gather(2, y).sum(dim=(1, 2)).double().cpu().numpy()
        return state, nats

    def step(self, ids: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        x = self.torch.from_numpy(np.asarray(ids, np.int64))[:, None].to(self.device)
        logits, state = self.model(x, state)
        return logits[:, -1].float().cpu().numpy(), state

    def select(self, state: dict, index: np.ndarray) -> dict:
        return self.lanes(state, self.torch.from_numpy(np.asarray(index, np.int64)))


def continue_ids(model, primer: list[int], n: int, steps: int,
                 decode: DecodeConfig = DecodeConfig(), seed: int = 0,
                 allowed=None, period: int = 0, limit: tuple[int, int] = (0, 0),
                 grammar=None, rule=None) -> Continuation:
    """Generate ``n`` continuations of ``steps`` ids after ``primer`` (which starts with <s>).

    Parameters
    ----------
    allowed : bool array (V,), optional
        Ids that may be generated.
    period : int
        Bar length in tokens for lookback models (0: none).
    limit : (n, plays)
        ``plays`` > 0: no run of ``n`` ids is played more than ``plays`` times in primer
        (after <s>) and continuation together (:class:`PhraseLimit`).
    grammar : (next_state (S, V) int, allowed (S, V) bool), optional
        A finite-state grammar of the id language (:class:`GrammarRule`: an encoding uses it
        to rule out ids that would mean nothing, so that no two outputs differ only in such
        ids).
    rule : object, optional
        A stateful constraint of the caller's (a voice-leading rule, say), applied after the
        grammar and before the phrase limit (the protocol: :mod:`melodyrnn.core.rules`); its
        entries travel with the hypotheses, so beam search keeps them with the model state.

    Deterministic beam search returns the ``n`` best distinct beams of a beam of
    ``max(beam_size, n)``; sampling and stochastic beam search give row ``k`` its own
    generator (:func:`row_generator`). Small batches (under 16 rows) on the CPU decode
    single-threaded (numpy's BLAS, or torch): for one-step matrix products that small,
    thread hand-offs cost more than they save, and far more when another process holds a
    core (a numpy chorale continuation then took 4 s instead of 2).
    """
    if isinstance(model, NumpyModel):
        with threadpool_limits(1, user_api="blas") if n < 16 else nullcontext():
            return _continue(_NumpyStepper(model), primer, n, steps, decode, seed, allowed, period,
                             limit, grammar, rule)
    import torch

    stepper = _TorchStepper(model)
    threads = torch.get_num_threads()
    if n < 16 and stepper.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return _continue(stepper, primer, n, steps, decode, seed, allowed, period, limit,
                             grammar, rule)
    finally:
        torch.set_num_threads(threads)


def _continue(stepper, primer, n, steps, decode, seed, allowed, period, limit,
              grammar, rule) -> Continuation:
    prior = getattr(stepper.model, "length_prior", lambda: None)()  # duck-typed models may have none
    state, nats = stepper.start(primer, period, SPANS if prior is not None and period > 0 else 1)
    lanes = np.zeros(n, np.int64)
    if len(nats) > 1:  # one lane per length class: each output draws its class
        runs_on = allowed is not None and not np.asarray(allowed, bool)[EOS]  # no end before `steps`
        bars = -(-(len(primer) - 1 + (steps if runs_on else 1)) // period)
        lanes = length_classes(length_posterior(prior, nats, spans_reaching(bars)), n, seed,
                               decode.beam_size > 1 or decode.sampling.greedy)
    mask = None if allowed is None else np.asarray(allowed, bool)[None, :]
    run, plays = limit
    rules = ([GrammarRule(*grammar)] if grammar is not None else []) + ([rule] if rule is not None else [])
    rules += [PhraseLimit(run, plays)] if plays > 0 and run > 1 else []  # last: it may give way
    entries = [r.start(primer) for r in rules]

    def step(ids: np.ndarray, both: tuple) -> tuple[np.ndarray, tuple]:
        st, ents = both
        logits, st = stepper.step(ids, st)
        if mask is not None:
            logits = np.where(mask, logits, -np.inf)
        new = []
        for r, e in zip(rules, ents):
            e, logits = r.apply(e, ids, logits)
            new.append(e)
        return log_softmax(logits.astype(np.float64)), (st, new)

    def select(both: tuple, index: np.ndarray) -> tuple:
        st, ents = both
        return stepper.select(st, index), [{k: v[index] for k, v in e.items()} for e in ents]

    if decode.beam_size > 1:
        return _beam(step, select, primer[-1], (stepper.select(state, lanes[:1]), entries), steps, n,
                     decode, seed)
    uniforms = np.stack([row_generator(seed, i).random(steps) for i in range(n)])  # (n, steps)
    first = np.zeros(n, np.int64)
    both = stepper.select(state, lanes), [{k: v[first] for k, v in e.items()} for e in entries]
    ids = np.full(n, primer[-1], np.int64)
    out, nats = np.zeros((n, steps), np.int64), np.zeros(n)
    for t in range(steps):
        logp, both = step(ids, both)  # (n, V)
        ids = sample_next(logp, decode.sampling, uniforms=uniforms[:, t])
        nats -= logp[np.arange(n), ids]
        out[:, t] = ids
    return Continuation(out, nats)


def _beam(step, select, last: int, state, steps: int, n: int, decode: DecodeConfig, seed: int
          ) -> Continuation:
    """Beam search (torch) over the numpy step: deterministic, or Magenta's stochastic one."""
    torch = require_torch("beam search (a beam size over 1)")

    from melodyrnn.core.beam import beam_search, stochastic_beam_search

    def torch_step(ids: torch.Tensor, st):
        logp, st = step(ids.numpy(), st)
        return torch.from_numpy(logp), st

    def reorder(st, index: torch.Tensor):
        return select(st, index.numpy())

    first = torch.tensor(last)
    if decode.branch_factor == 1:
        ids, scores = beam_search(torch_step, reorder, first, state, steps, max(decode.beam_size, n))
        if ids.shape[0] < n:
            raise ValueError(f"only {ids.shape[0]} distinct continuations are possible under the "
                             f"constraints; ask for at most that many outputs")
        return Continuation(ids[:n].numpy(), -scores[:n].numpy())
    rows, totals = [], []
    for i in range(n):
        g = row_generator(seed, i)

        def sample(lp: torch.Tensor, g=g) -> torch.Tensor:
            return torch.from_numpy(sample_next(lp.numpy(), decode.sampling, g))

        ids, score = stochastic_beam_search(torch_step, reorder, first, state, steps, decode.beam_size,
                                            decode.branch_factor, decode.steps_per_iteration, sample)
        rows.append(ids.numpy())
        totals.append(-score)
    return Continuation(np.stack(rows), np.asarray(totals, np.float64))
