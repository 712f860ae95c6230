"""Fit a bar-copy head on a frozen network so that it repeats bars as often as real tunes do.

Under the likelihood alone, a head can be calibrated token by token and still give bars
that repeat an earlier bar exactly too little probability, where the network is unsure of
the copied tokens: a varied copy then seldom comes out exact. This fit adds, per bar of the
counterfactual window (:func:`.form_bars.collect_bars`), the binary cross-entropy of
whether the bar repeats one of the last K exactly against the whole mixture's chance of
doing so,

    P(repeat) = sum_d w_exact_d + sum_d w_varied_d sum_c P_varied_d(c) + w_new sum_c P_net(c)

over the distinct earlier bars ``c`` played in its place, to the bars' likelihood:
``nats/bar + weight * BCE``. With a policy table (:mod:`.form_policy`: the model's own
continuations of the training tunes, labelled with whether the real tune repeats there) a
second cross-entropy, ``policy_weight * BCE``, fits P(repeat) in the contexts the model
itself makes when it generates. Only the head's parameters change.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.form_bars import collect_bars
from melodyrnn.core.models import form
from melodyrnn.core.models.form import NEG

__all__ = ["FormFitConfig", "bar_log_probs", "repeat_log_prob", "measure", "fit_form", "refit_form"]



@dataclass(frozen=True)
class FormFitConfig:
    """``weight`` on the repeat cross-entropy on real contexts, ``policy_weight`` on the one
    on the model's own (a policy table); ``epochs`` over the bars in batches of
    ``batch_size`` bars (and ``repeat_batch`` counterfactual bars) at learning rate ``lr``.
    The likelihood alone by default; the shipped default's recipe is
    :class:`melodyrnn.music.form_calibration.CalibrateConfig`'s."""

    weight: float = 0.0
    policy_weight: float = 0.0
    epochs: int = 6
    lr: float = 1e-3
    batch_size: int = 2048
    repeat_batch: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        from melodyrnn.core.trainer import check_rate

        check_rate("lr", self.lr)
        check_rate("weight", self.weight, zero=True)
        check_rate("policy_weight", self.policy_weight, zero=True)


def _head_lw(head, t: dict, rows: torch.Tensor) -> torch.Tensor:
    """The head's log-weights (N, 2K + 1) at the bars ``rows``."""
    logits = form.head_logits(head.weights(), t["h"][rows].float(), t["bar"][rows], t["streak"][rows],
                              t["span"][rows])
    return torch.log_softmax(logits, dim=1).double()


def _eps(head) -> torch.Tensor:
    return head.eps().double()


def _inside(t: dict, rows: torch.Tensor) -> torch.Tensor:
    """Which of the P places are the bars' own tokens (N, P)."""
    return torch.arange(t["q"].shape[1])[None, :] < t["period"][rows, None]


def _varied_log_prob(hit: torch.Tensor, q: torch.Tensor, eps: torch.Tensor,
                     inside: torch.Tensor) -> torch.Tensor:
    """``ln`` of a varied copy's chance of a bar, summed over its tokens (the last axis):
    ``hit`` where the bar's token is the copy's, ``q`` the network's probability of it."""
    return (form.copy_likelihood(hit, q, eps).log() * inside).sum(-1)


def bar_log_probs(head, t: dict, rows: torch.Tensor) -> torch.Tensor:
    """``ln p`` (N,) of the bars ``rows`` of a bar table's tensors ``t`` under the mixture."""
    inside = _inside(t, rows)  # (N, P)
    hits, q = t["hits"][rows], t["q"][rows].double()
    exact = (hits | ~inside[:, None, :]).all(2)  # (N, K): the bar d back, token for token
    parts = torch.cat([torch.where(exact, 0.0, NEG).double(),
                       _varied_log_prob(hits.double(), q[:, None, :], _eps(head), inside[:, None, :]),
                       (q.log() * inside).sum(1, keepdim=True)], dim=1)  # (N, 2K + 1)
    return torch.logsumexp(_head_lw(head, t, rows) + parts, dim=1)


def repeat_log_prob(head, t: dict, crow: torch.Tensor) -> torch.Tensor:
    """``ln P(repeat)`` (M,): the mixture's chance that the counterfactual bars ``crow``
    reproduce one of the last K bars exactly (see the module docstring)."""
    rows = t["c_row"][crow]
    lw = _head_lw(head, t, rows)
    k = t["c_source"].shape[1]
    inside = _inside(t, rows).double()  # (M, P)
    tokens, cq = t["c_tokens"][crow], t["c_q"][crow].double()  # (M, C, P)
    real = tokens[:, :, 0] >= 0  # (M, C): candidate slots in use
    source = t["c_source"][crow]
    near = source >= 0  # (M, K): a bar lies d back
    copied = torch.gather(tokens, 1, source.clamp(min=0)[:, :, None].expand(-1, -1, tokens.shape[2]))
    hit = (tokens[:, None] == copied[:, :, None]).double()  # (M, K, C, P)
    varied = _varied_log_prob(hit, cq[:, None], _eps(head), inside[:, None, None])  # (M, K, C)
    varied = torch.logsumexp(varied.masked_fill(~real[:, None], NEG), dim=2)  # (M, K)
    new = torch.logsumexp((cq.log() * inside[:, None]).sum(2).masked_fill(~real, NEG), dim=1)  # (M,)
    parts = torch.cat([lw[:, :k].masked_fill(~near, NEG), (lw[:, k:2 * k] + varied).masked_fill(~near, NEG),
                       (lw[:, -1] + new)[:, None]], dim=1)
    return torch.logsumexp(parts, dim=1)


def _repeat_bce(head, t: dict, crow: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy of P(repeat) at the counterfactual rows ``crow`` against
    ``labels`` (M,) (default: whether the table's own bar repeats)."""
    lp = repeat_log_prob(head, t, crow).clamp(max=-1e-9)
    y = (t["c_repeat"] if labels is None else labels)[crow].double()
    return -(y * lp + (1 - y) * torch.log(-torch.expm1(lp))).mean()


def measure(head, t: dict, bars: torch.Tensor | None = None, repeats: torch.Tensor | None = None,
            labels: torch.Tensor | None = None) -> dict:
    """Nats per bar, mean P(repeat) and the real repeat rate over a bar table's tensors (or
    its rows ``bars`` and counterfactual rows ``repeats``); ``labels`` (M,) stand for the
    real repeats of a policy table (whose own bars are generated)."""
    bars = torch.arange(len(t["bar"])) if bars is None else bars
    repeats = torch.arange(len(t["c_row"])) if repeats is None else repeats
    n, m = len(bars), len(repeats)
    with torch.no_grad():
        nats = -sum(float(bar_log_probs(head, t, r).sum()) for r in bars.split(4096))
        p = torch.cat([repeat_log_prob(head, t, r).exp() for r in repeats.split(512)]) if m else None
    return {"bars": n, "nats_per_bar": nats / n if n else None, "repeat_bars": m,
            "p_repeat": float(p.mean()) if m else None,
            "real_repeat": float((t["c_repeat"] if labels is None else labels)[repeats].double().mean())
            if m else None}


def fit_form(head, train: dict, cfg: FormFitConfig, policy: tuple[dict, torch.Tensor] | None = None) -> None:
    """Fit ``head``'s parameters on a bar table's tensors ``train`` (in place), and with
    ``policy`` (a policy table's tensors and labels, :func:`.form_policy.policy_table`)
    its P(repeat) there."""
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    n, m = len(train["bar"]), len(train["c_row"])
    mp = len(policy[1]) if policy is not None and cfg.policy_weight > 0 else 0
    for _ in range(cfg.epochs * max(n // cfg.batch_size, 1)):
        loss = -bar_log_probs(head, train, torch.randint(n, (cfg.batch_size,), generator=gen)).mean()
        if cfg.weight > 0 and m:
            crow = torch.randint(m, (cfg.repeat_batch,), generator=gen)
            loss = loss + cfg.weight * _repeat_bce(head, train, crow)
        if mp:
            crow = torch.randint(mp, (cfg.repeat_batch,), generator=gen)
            loss = loss + cfg.policy_weight * _repeat_bce(head, policy[0], crow, policy[1])
        opt.zero_grad()
        loss.backward()
        opt.step()


def refit_form(model, train: SplitArrays, valid: SplitArrays, cfg: FormFitConfig = FormFitConfig(),
               own: tuple[dict, torch.Tensor] | None = None) -> dict:
    """Fit the form head of the torch ``model`` in place on the bars of ``train`` (the network
    stays as it is), with ``own`` (a policy table and its labels,
    :func:`.form_policy.policy_table`) also its P(repeat) in the model's own continuations;
    returns the ``valid`` split's figures (and the policy table's) before and after.

    Raises
    ------
    ValueError
        For a model without a form head, or splits without whole bars.
    """
    if model.bar_copy is None:
        raise ValueError("calibrate-form needs a model with a bar-copy head (--bar-copy)")
    tables = {name: collect_bars(model, split).tensors() for name, split in (("train", train),
                                                                             ("valid", valid))}
    for name, table in tables.items():
        if not len(table["bar"]):
            raise ValueError(f"no {name} sequence has two whole bars "
                             "(the fit is measured on the valid split)")
    head, valid_t = model.bar_copy, tables["valid"]
    report = {"valid_before": measure(head, valid_t)}
    if own is not None:
        report["policy_before"] = measure(head, own[0], torch.arange(0), labels=own[1])
    fit_form(head, tables["train"], cfg, own)
    report["valid_after"] = measure(head, valid_t)
    if own is not None:
        report["policy_after"] = measure(head, own[0], torch.arange(0), labels=own[1])
    if not all(bool(p.isfinite().all()) for p in head.parameters()):
        raise ValueError(f"the fit diverged (weights not finite at lr {cfg.lr}): try a lower --lr")
    return report
