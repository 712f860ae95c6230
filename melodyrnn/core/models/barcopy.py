"""Bar copy: a form head that lets a periodic sequence repeat a whole earlier bar.

At the first token of every bar (sequences with a bar length, ``period`` tokens) a small
head reads the network's output and says how likely the coming bar is an exact repeat of
the bar ``d`` bars back (``d = 1..K``), a varied repeat of it, or a new bar. The
next-token distribution is the mixture

    p(y) = w_new * p_net(y) + sum_c w_c * ((1 - eps_c) * [y == copy_c] + eps_c * p_net(y))

over copy components ``c`` (exact: ``eps_c = 0``; varied: a learned ``eps``), where
``copy_c`` is the token at the same place ``d`` bars back and the weights ``w`` start at the
head's probabilities and follow Bayes' rule token by token through the bar (an exact copy
that misses a token is out; a varied one keeps ``eps``). Over a bar this is exactly the
mixture of "the bar d bars back, as it was or varied" and "a new bar from the network", so
its likelihood is an honest code length and sampling from it token by token samples the
mixture. The head reads, per distance, for how many bars in a row the tune has already repeated the bars
``d`` back (after A comes A again, bar by bar) and the bar's index in the sequence: it knows
where it is in the form. With ``cont`` it also reads the network's output once more for each
repeat under way, so that whether a repeat goes on can depend on the tune (a German song
repeats its phrase to the end more often than a reel does), not on the streak alone. With
``span`` it reads how long the tune is (a length class) together with the bar's index: a
32-bar reel repeats its A part at bar 9, a 16-bar one starts B there.
Ids only: no notes, no files.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from melodyrnn.core.models.layout import PAD
from melodyrnn.core.models.copy_lane import MAX_BAR, MAX_STREAK, NEG, SPAN_EDGES, SPANS, lane_step, span_of

__all__ = ["BarCopy", "MAX_BAR", "MAX_STREAK"]


class BarCopy(nn.Module):
    """The form head and the copy mixture (see the module docstring). Components, in this
    order: exact copies of 1..K bars back, varied copies of 1..K bars back, new."""

    def __init__(self, hidden: int, bars: int, cont: bool = False, span: bool = False) -> None:
        super().__init__()
        self.k, n = bars, 2 * bars + 1
        self.proj = nn.Linear(hidden, n)
        self.cont = nn.Linear(hidden, 2 * bars, bias=False) if cont else None  # repeats under way
        if cont:
            nn.init.zeros_(self.cont.weight)
        self.place = nn.Embedding(MAX_BAR + 1, n)
        self.span = nn.Embedding(SPANS * (MAX_BAR + 1), n) if span else None  # [length class, bar]
        if span:
            nn.init.zeros_(self.span.weight)
            # log-prior of the length classes, set from the training tunes (set_span_prior)
            self.register_buffer("span_prior", torch.full((SPANS,), -math.log(SPANS)))
        self.streak = nn.Parameter(torch.zeros(MAX_STREAK + 1, 2 * bars))
        self.eps_logit = nn.Parameter(torch.tensor(-3.0))
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.place.weight)
        with torch.no_grad():
            self.proj.bias.zero_()
            self.proj.bias[-1] = 3.0  # start close to the plain network (new bars)
        self.scores_form = False  # training forwards sum exact_repeat_nats (SequenceModel.score_form)
        self.form_nats: torch.Tensor | None = None  # ... into this, the last such forward's
        self.register_buffer("_d", torch.arange(1, bars + 1), persistent=False)
        self.register_buffer("_exact", torch.arange(2 * bars) < bars, persistent=False)

    def set_span_prior(self, bars: np.ndarray) -> None:
        """The length classes' log-prior from the lengths (bars) of the training tunes
        (add-one smoothed)."""
        counts = np.bincount(span_of(bars), minlength=SPANS) + 1.0
        self.span_prior.copy_(torch.from_numpy(np.log(counts / counts.sum())).float())

    def spans(self, bars: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        """Length classes (batch,) of tunes ``bars`` (batch,) bars long (None: class 0)."""
        if bars is None or self.span is None:
            return torch.zeros(batch, dtype=torch.long, device=device)
        bars = bars.to(device)  # as copy_lane.span_of, on the tensors' device
        return torch.bucketize(bars, torch.tensor(SPAN_EDGES, device=device), right=True)

    def initial(self, batch: int, vocab: int, device, bars: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """State entries (all batch-first): component log-weights, whether the bar so far
        equals the one d bars back, repeat streaks, the last position's pending update
        (its target comes with the next call), and the tune's length class."""
        lw = torch.full((batch, 2 * self.k + 1), NEG, device=device)
        lw[:, -1] = 0.0
        return {"copy_lw": lw, "copy_span": self.spans(bars, batch, device),
                "copy_match": torch.zeros(batch, self.k, dtype=torch.bool, device=device),
                "copy_streak": torch.zeros(batch, self.k, dtype=torch.long, device=device),
                "copy_pend_lp": torch.zeros(batch, vocab, device=device),
                "copy_pend_tok": torch.zeros(batch, self.k, dtype=torch.long, device=device),
                "copy_pend_on": torch.zeros(batch, dtype=torch.bool, device=device)}

    def _eps(self) -> torch.Tensor:
        """Per copy component (2K,): 0 for exact copies, the learned eps for varied ones."""
        return torch.where(self._exact, 0.0, torch.sigmoid(self.eps_logit))

    def forward(self, ids: torch.Tensor, h: torch.Tensor, logits: torch.Tensor, ext: torch.Tensor,
                pos: torch.Tensor, period: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Mixture log-probs (B, T, V) from the network's ``logits`` (B, T, V) and outputs
        ``h`` (B, T, H) for ``ids`` (B, T); ``ext`` (B, R + T) is the token history before
        ``ids`` followed by them, ``pos`` (B,) the sequence index of ``ids[:, 0]``."""
        batch, steps, _ = logits.shape
        if batch == steps == 1 and not torch.is_grad_enabled():
            return self._one_step(ids, h, logits, ext, int(pos[0]), int(period[0]), state)
        eps = self._eps()  # (2K,)
        scoring = self.scores_form and torch.is_grad_enabled()  # see exact_repeat_nats
        if scoring:
            self.form_nats = logits.new_zeros((), dtype=torch.float32)
        lp_net = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
        on = period > 0
        per = period.clamp(min=1)
        lw, match, streak = state["copy_lw"], state["copy_match"], state["copy_streak"]
        pend = state["copy_pend_on"] & on
        if bool(pend.any()):  # the previous call's last target is ids[:, 0]
            lw, match = self._observe(lw, match, state["copy_pend_lp"], state["copy_pend_tok"],
                                      ids[:, 0], eps, pend)
        outs, hist = [], ext.shape[1] - steps
        for t in range(steps):
            s = pos + t  # (B,) step of the target (the token after ids[:, t])
            bar = s // per
            start = on & (s % per == 0)
            if bool(start.any()):
                held = match & (self._d[None, :] < bar[:, None])  # bar - 1 equals bar - 1 - d
                streak = torch.where(start[:, None],
                                     torch.where(held, (streak + 1).clamp(max=MAX_STREAK), 0), streak)
                fresh = self._head(h[:, t], bar, streak, state["copy_span"])
                if scoring:
                    self.form_nats = self.form_nats + self.exact_repeat_nats(fresh, ext, hist + t + 1, bar,
                                                                             per, start)
                lw = torch.where(start[:, None], fresh, lw)
                match = match | start[:, None]
            at = (hist + t + 1 - self._d[None, :] * per[:, None]).clamp(min=0)  # (B, K) in ext
            tok = torch.gather(ext, 1, at)  # (B, K): the token d bars back
            w = lw.exp()  # (B, 2K + 1)
            coef = w[:, -1] + (w[:, :-1] * eps).sum(dim=1)  # (B,): weight of the network
            p = coef[:, None] * lp_net[:, t].exp()
            p = p.scatter_add(1, tok.repeat(1, 2), w[:, :-1] * (1 - eps))
            outs.append(torch.where(on[:, None], p.clamp_min(1e-30).log(), lp_net[:, t]))
            if t + 1 < steps:
                lw, match = self._observe(lw, match, lp_net[:, t], tok, ids[:, t + 1], eps, on)
        new = {"copy_lw": lw, "copy_match": match, "copy_streak": streak, "copy_span": state["copy_span"],
               "copy_pend_lp": lp_net[:, -1], "copy_pend_tok": tok, "copy_pend_on": on}
        return torch.stack(outs, dim=1).to(logits.dtype), new

    def exact_repeat_nats(self, lw: torch.Tensor, ext: torch.Tensor, at: int, bar: torch.Tensor,
                          per: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """The head's ``-ln p`` (summed over lanes) of whether the bar starting at ``ext[:, at]``
        repeats one of the last K bars exactly: of the exact copies that match it, or of
        the varied and new components when none does; ``lw`` (B, 2K + 1) are the head's
        log-weights. Only lanes at a bar's start whose bar lies wholly in ``ext`` and holds no
        padding count. Under the likelihood alone the head leaves exact repeats to varied
        copies, whose exactness then rests on the network's confidence (see
        ``TrainConfig.form_weight``)."""
        span = int(per.max())
        j = torch.arange(span, device=ext.device)
        inside = j[None, :] < per[:, None]  # (B, P): the bar's steps
        pos = (at + j)[None, :].expand(len(per), span)  # (B, P) in ext
        ok = start & (at + per <= ext.shape[1])
        pos = pos.clamp(max=ext.shape[1] - 1)
        cur = torch.gather(ext, 1, pos)
        ok = ok & ((cur != PAD) | ~inside).all(dim=1)
        back = (pos[:, None, :] - self._d[None, :, None] * per[:, None, None]).clamp(min=0)  # (B, K, P)
        old = torch.gather(ext[:, None, :].expand(-1, self.k, -1), 2, back)
        equal = ((old == cur[:, None, :]) | ~inside[:, None, :]).all(dim=2)
        equal = equal & (self._d[None, :] <= bar[:, None])  # (B, K): the bar d back, exactly
        hit = torch.logsumexp(lw[:, :self.k].masked_fill(~equal, NEG), dim=1)
        nats = -torch.where(equal.any(dim=1), hit, torch.logsumexp(lw[:, self.k:], dim=1))
        return torch.where(ok, nats, 0.0).sum()

    def _one_step(self, ids, h, logits, ext, pos: int, period: int, state: dict):
        """:meth:`forward` for one lane and one token (decoding at batch 1), on 1-d numpy
        arrays (:mod:`.copy_lane`) where torch would pay per-call overhead on 33-element tensors."""
        dev = ids.device
        lp = torch.log_softmax(logits[0, 0].float(), dim=-1)  # (V,)
        new = {key: v for key, v in state.items() if key.startswith("copy_")}
        new.update(copy_pend_lp=lp[None], copy_pend_on=torch.tensor([period > 0], device=dev))
        if period <= 0:
            return lp[None, None].to(logits.dtype), new
        lw, match, streak = (state[key][0].cpu().numpy() for key in ("copy_lw", "copy_match", "copy_streak"))
        pending = None
        if bool(state["copy_pend_on"][0]):  # the previous call's target is ids[0, 0]
            y = int(ids[0, 0])
            py = math.exp(float(state["copy_pend_lp"][0, y]))
            pending = state["copy_pend_tok"][0].cpu().numpy(), y, py
        hist = ext.shape[1] - 1
        tok = ext[0, [max(hist + 1 - d * period, 0) for d in range(1, self.k + 1)]]  # (K,)

        def head(bar: int, streaks: list[int]) -> list[float]:
            return self._head(h[:, 0], torch.tensor([bar], device=dev), torch.tensor([streaks], device=dev),
                              state["copy_span"])[0].exp().double().cpu().tolist()

        out, w, match, streak = lane_step(np.exp(lw.astype(np.float64)), match, streak, pending,
                                          tok.cpu().numpy(), lp.exp().cpu().numpy(), 1.0, pos, period,
                                          float(torch.sigmoid(self.eps_logit)), head)
        lw = np.log(np.maximum(w, 1e-30))  # the state keeps log-weights, as forward does
        new.update({"copy_lw": torch.tensor(lw[None], dtype=torch.float32, device=dev),
                    "copy_match": torch.from_numpy(match[None]).to(dev),
                    "copy_streak": torch.from_numpy(streak[None]).to(dev), "copy_pend_tok": tok[None]})
        return torch.from_numpy(out)[None, None].to(device=dev, dtype=logits.dtype), new

    def _head(self, h: torch.Tensor, bar: torch.Tensor, streak: torch.Tensor,
              span: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities (B, 2K + 1) of the components at a bar's start."""
        logits = self.proj(h) + self.place(bar.clamp(max=MAX_BAR))  # (B, 2K + 1)
        if self.span is not None and span is not None:  # the bar's place in a tune of this length class
            logits = logits + self.span(span * (MAX_BAR + 1) + bar.clamp(max=MAX_BAR))
        per_c = self.streak.gather(0, streak.repeat(1, 2))  # (B, 2K): table[streak_d, c]
        if self.cont is not None:  # the network's word on each repeat under way
            per_c = per_c + self.cont(h) * (streak > 0).repeat(1, 2)
        near = (self._d[None, :] <= bar[:, None]).repeat(1, 2)  # a bar lies d bars back
        copies = torch.where(near, logits[:, :-1] + per_c, torch.full_like(per_c, NEG))
        return torch.log_softmax(torch.cat([copies, logits[:, -1:]], dim=1), dim=1)

    def _observe(self, lw, match, lp_net, tok, y, eps, lanes):
        """Bayes' rule on the component weights once target ``y`` (B,) is known."""
        lp_y = lp_net.gather(1, y[:, None])  # (B, 1)
        hit = tok == y[:, None]  # (B, K)
        lp_copy = ((1 - eps) * hit.repeat(1, 2) + eps * lp_y.exp()).clamp_min(1e-30).log()
        post = torch.log_softmax(lw + torch.cat([lp_copy, lp_y], dim=1), dim=1)
        return (torch.where(lanes[:, None], post, lw), torch.where(lanes[:, None], match & hit, match))
