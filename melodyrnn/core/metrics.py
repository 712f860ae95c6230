"""Held-out metrics of next-token models, defined once for the whole library.

- ``nats_per_event``: mean of ``-ln p(target)`` over every predicted token;
- ``bits_per_note``: for each sequence, the sum over every predicted token (the end token
  included, the first token predicted from the start token) of ``-log2 p``, summed over
  sequences and divided by the number of notes they encode. It compares models and
  encodings of the same melodies;
- ``perplexity``: ``exp(nats_per_event)``;
- ``accuracy``: argmax equals target, over every predicted token;
- ``event_accuracy``: the same over targets that are not filler tokens (for melodies the
  NO_EVENT hold/rest token, as Magenta's event accuracy: plain accuracy is inflated by it);
- with ``groups`` (a group number per id), ``-ln p(target)`` splits exactly into
  ``-ln p(target's group)`` and ``-ln p(target | its group)``: ``bits_per_note_groups`` and
  ``bits_per_note_within`` add up to ``bits_per_note`` (for melodies: the rhythm part --
  whether a note starts, stops or holds -- and the pitch part, which pitch given that one
  starts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

__all__ = ["MetricSums", "LN2"]

LN2 = math.log(2.0)


@dataclass
class MetricSums:
    """Running sums over predicted tokens; :meth:`result` turns them into metrics."""

    filler_ids: tuple[int, ...] = ()
    nats: float = 0.0
    tokens: int = 0
    correct: int = 0
    events: int = 0
    events_correct: int = 0
    units: int = 0
    sequences: int = 0
    groups: tuple[int, ...] | None = None
    within_nats: float = 0.0
    _filler: torch.Tensor | None = field(default=None, repr=False)
    _groups: torch.Tensor | None = field(default=None, repr=False)
    _shared: list[int] = field(default_factory=list, repr=False)

    def add(self, logits: torch.Tensor, targets: torch.Tensor, ignore: int = -100) -> torch.Tensor:
        """Add a batch: logits (B, T, V), targets (B, T). Returns per-token nats (B, T)."""
        mask = targets != ignore
        safe = targets.clamp(min=0)
        nll = torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), safe.reshape(-1),
            reduction="none").view_as(targets) * mask  # (B, T)
        hit = (logits.argmax(dim=-1) == targets) & mask
        if self._filler is None:
            self._filler = torch.tensor(self.filler_ids, dtype=targets.dtype)
        event = mask & ~torch.isin(targets, self._filler.to(targets.device))
        self.nats += float(nll.sum())
        self.tokens += int(mask.sum())
        self.correct += int(hit.sum())
        self.events += int(event.sum())
        self.events_correct += int((hit & event).sum())
        if self.groups is not None:
            self.within_nats += float(self._within(logits, safe, mask))
        return nll

    def _within(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sum of ``-ln p(target | target's group)`` (0 for ids alone in their group)."""
        if self._groups is None:  # the group of each id, and the groups of two ids or more
            self._groups = torch.tensor(self.groups)
            ids, counts = torch.unique(self._groups, return_counts=True)
            self._shared = ids[counts > 1].tolist()
        groups = self._groups.to(logits.device)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
        own = logp.gather(-1, targets[..., None])[..., 0]  # (B, T)
        total = torch.zeros_like(own)
        for g in self._shared:
            members = groups == g
            in_group = (groups[targets] == g) & mask
            lse = torch.logsumexp(logp[..., members], dim=-1)
            total += torch.where(in_group, lse - own, torch.zeros_like(own))
        return total.sum()

    def as_list(self) -> list[float]:
        return [self.nats, self.tokens, self.correct, self.events, self.events_correct,
                self.units, self.sequences, self.within_nats]

    @classmethod
    def from_list(cls, values, filler_ids=(), groups=None) -> "MetricSums":
        s = cls(filler_ids, groups=groups)
        (s.nats, s.tokens, s.correct, s.events, s.events_correct, s.units,
         s.sequences) = values[0], *(int(v) for v in values[1:7])
        s.within_nats = float(values[7]) if len(values) > 7 else 0.0
        return s

    def result(self, unit: str = "note", step: str = "event") -> dict[str, float]:
        """The metrics named by the encoding's unit and step: ``bits_per_note`` and
        ``nats_per_event`` for music, ``bits_per_char`` and ``nats_per_token`` for text."""
        nats = self.nats / max(self.tokens, 1)
        split = {}
        if self.groups is not None and self.units:
            split = {f"bits_per_{unit}_groups": (self.nats - self.within_nats) / LN2 / self.units,
                     f"bits_per_{unit}_within": self.within_nats / LN2 / self.units}
        return {
            f"nats_per_{step}": nats,
            f"bits_per_{unit}": self.nats / LN2 / self.units if self.units else float("nan"),
            "perplexity": math.exp(min(nats, 700.0)),
            "accuracy": self.correct / max(self.tokens, 1),
            "event_accuracy": self.events_correct / max(self.events, 1),
            "tokens": self.tokens,
            f"{unit}s": self.units,
            "sequences": self.sequences,
            **split,
        }
