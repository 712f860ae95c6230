"""Bar copy: the form head's parameters as a torch module (the arithmetic: :mod:`.form`).

A periodic sequence may repeat a whole earlier bar: at each bar's first token the head
weighs exact and varied copies of the last K bars against a new bar from the network, and
the next token comes from their mixture (:mod:`.form` says how). This module holds the
head's weights, its state and the length classes' prior; training and torch decoding step
through :func:`.form.step`, the function numpy decoding runs too. Ids only: no notes, no
files.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from melodyrnn.core.models import form
from melodyrnn.core.models.form import MAX_BAR, MAX_STREAK, SPANS

__all__ = ["BarCopy", "MAX_BAR", "MAX_STREAK"]


class BarCopy(nn.Module):
    """The form head (see :mod:`.form`): ``bars`` (K) distances, ``cont`` the network's word
    on repeats under way, ``span`` the tune's length class, ``plan`` (an embedding size) the
    section plan's input to the network (:func:`.form.plan_input`). Components, in this
    order: exact copies of 1..K bars back, varied copies of 1..K bars back, new."""

    def __init__(self, hidden: int, bars: int, cont: bool = False, span: bool = False, plan: int = 0) -> None:
        super().__init__()
        # [length class, bar] -> a vector added to the input token's embedding (zero: the network as it was)
        self.plan = nn.Embedding(SPANS * (MAX_BAR + 1), plan) if plan else None
        if plan:
            nn.init.zeros_(self.plan.weight)
        self.k, n = bars, 2 * bars + 1
        self.proj = nn.Linear(hidden, n)
        self.cont = nn.Linear(hidden, 2 * bars, bias=False) if cont else None  # repeats under way
        if cont:
            nn.init.zeros_(self.cont.weight)
        self.place = nn.Embedding(MAX_BAR + 1, n)
        self.span = nn.Embedding(SPANS * (MAX_BAR + 1), n) if span else None  # [length class, bar]
        if span:
            nn.init.zeros_(self.span.weight)
            # log-prior of the length classes, set from the training tunes (set_length_prior)
            self.register_buffer("span_prior", torch.full((SPANS,), -math.log(SPANS)))
        self.streak = nn.Parameter(torch.zeros(MAX_STREAK + 1, 2 * bars))
        self.eps_logit = nn.Parameter(torch.tensor(-3.0))
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.place.weight)
        with torch.no_grad():
            self.proj.bias.zero_()
            self.proj.bias[-1] = 3.0  # start close to the plain network (new bars)

    def weights(self) -> dict[str, torch.Tensor]:
        """The head's weights by their checkpoint names (less ``bar_copy.``), as
        :func:`.form.head_logits` reads them."""
        return {name: p for name, p in self.named_parameters() if name != "eps_logit"}

    def plan_input(self, state: dict, steps: int) -> torch.Tensor | None:
        """The section plan's input (B, T, E) for the next ``steps`` tokens of lanes in
        ``state`` (the network's and the head's entries), or None without a plan."""
        if self.plan is None:
            return None
        pos = state["pos"][:, None] + torch.arange(steps, device=state["pos"].device)  # (B, T)
        return form.plan_input(self.plan.weight, state["copy_span"][:, None], pos, state["period"][:, None])

    def eps(self) -> torch.Tensor:
        """A varied copy's chance of leaving its copy for the network, per token."""
        return torch.sigmoid(self.eps_logit)

    def set_length_prior(self, bars: np.ndarray) -> None:
        """The length classes' log-prior from the lengths (bars) of the training tunes."""
        self.span_prior.copy_(torch.from_numpy(form.length_log_prior(bars)).float())

    def length_prior(self) -> np.ndarray | None:
        """The length classes' log-prior (SPANS,), or None for a head that does not read it."""
        return None if self.span is None else self.span_prior.detach().double().cpu().numpy()

    def spans(self, bars: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        """Length classes (batch,) of tunes ``bars`` (batch,) bars long (None: class 0)."""
        if bars is None or self.span is None:
            return torch.zeros(batch, dtype=torch.long, device=device)
        return torch.from_numpy(form.span_of(bars.cpu().numpy())).to(device)

    def initial(self, batch: int, vocab: int, device, bars: torch.Tensor | None = None,
                classes=None) -> dict[str, torch.Tensor]:
        """State entries (all batch-first, :func:`.form.initial`) with the tunes' length
        classes: those of tunes ``bars`` long, or ``classes`` as given (decoding, which does
        not know the length, runs a lane per class)."""
        return form.initial(torch, batch, self.k, vocab, self.spans(bars, batch, device) if classes is None
                            else classes, device=device)

    def forward(self, ids: torch.Tensor, h: torch.Tensor, logits: torch.Tensor, ext: torch.Tensor,
                pos: torch.Tensor, period: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Mixture log-probs (B, T, V) from the network's ``logits`` (B, T, V) and outputs
        ``h`` (B, T, H) for ``ids`` (B, T); ``ext`` (B, R + T) is the token history before
        ``ids`` followed by them, ``pos`` (B,) the sequence index of ``ids[:, 0]``."""
        steps = ids.shape[1]
        net = torch.softmax(logits.float(), dim=-1)  # (B, T, V)
        weights, eps, hist = self.weights(), self.eps(), ext.shape[1] - steps
        st = {key: v for key, v in state.items() if key.startswith("copy_")}
        outs = []
        for t in range(steps):  # the target of step t is the token after ids[:, t]
            out, st = form.step(weights, eps, st, ids[:, t], h[:, t], net[:, t], ext[:, :hist + t + 1],
                                pos + t, period)
            outs.append(out)
        return torch.stack(outs, dim=1).to(logits.dtype), st
