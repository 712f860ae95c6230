"""From logits to next ids: temperature, top-k, top-p (nucleus) and greedy decoding.

Works on any vocabulary, in numpy (a decoding step's rows are small; the model that made
the logits may be torch's or numpy's); ``allowed`` masks ids out (constraints such as a key
or a pitch range are built by the music layer and passed in as a boolean mask).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SamplingConfig", "sample_next", "filter_logits", "log_softmax", "MIN_TEMPERATURE"]

#: the lowest temperature: below it sampling is greedy decoding in all but name (use
#: ``greedy``), and near 1e-308 dividing the logits by it overflows them to NaN
MIN_TEMPERATURE = 1e-4


@dataclass(frozen=True)
class SamplingConfig:
    """``temperature`` divides logits; ``top_k`` keeps the k best ids (0: all); ``top_p``
    keeps the smallest set whose probability reaches p (1.0: all); ``greedy`` takes the
    argmax."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False

    def __post_init__(self) -> None:
        t = self.temperature
        if not (_number(t) and math.isfinite(t) and t >= MIN_TEMPERATURE):
            raise ValueError(f"temperature must be a finite number >= {MIN_TEMPERATURE:g} "
                             f"(greedy decoding for the likeliest ids), not {t!r}")
        if not (_number(self.top_p) and 0 < self.top_p <= 1):  # NaN fails the comparison
            raise ValueError(f"top_p must be a number in (0, 1], not {self.top_p!r}")
        if not (isinstance(self.top_k, int) and not isinstance(self.top_k, bool) and self.top_k >= 0):
            raise ValueError(f"top_k must be an integer >= 0, not {self.top_k!r}")


def _number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis; a row with every entry ``-inf`` (all masked)
    stays ``-inf``, not NaN."""
    top = np.max(logits, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(logits - top).sum(axis=-1, keepdims=True)
    return logits - top - np.log(np.where(total > 0, total, 1.0))  # all -inf rows: -inf - 0


def filter_logits(logits: np.ndarray, cfg: SamplingConfig, allowed: np.ndarray | None = None) -> np.ndarray:
    """Logits (B, V) after temperature, masking, top-k and top-p (removed ids at -inf)."""
    logits = np.array(logits, dtype=np.float64)  # a copy, in double precision
    if cfg.temperature != 1.0:
        logits /= cfg.temperature
    if allowed is not None:
        logits[~np.broadcast_to(np.asarray(allowed, bool), logits.shape)] = -np.inf
    if cfg.top_k and cfg.top_k < logits.shape[-1]:
        kth = np.sort(logits, axis=-1)[:, -cfg.top_k][:, None]  # (B, 1)
        logits[logits < kth] = -np.inf
    if cfg.top_p < 1.0:
        order = np.argsort(-logits, axis=-1, kind="stable")
        probs = np.exp(log_softmax(np.take_along_axis(logits, order, axis=-1)))
        drop = probs.cumsum(axis=-1) - probs >= cfg.top_p  # mass before >= p
        drop[:, 0] = False
        mask = np.empty_like(drop)
        np.put_along_axis(mask, order, drop, axis=-1)
        logits[mask] = -np.inf
    return logits


def sample_next(logits: np.ndarray, cfg: SamplingConfig, rng: np.random.Generator | None = None,
                allowed: np.ndarray | None = None, uniforms: np.ndarray | None = None) -> np.ndarray:
    """Next ids (B,) from logits (B, V); the draw uses ``uniforms`` (B,) in [0, 1) when
    given (one per row, so each row can have its own generator), else ``rng``."""
    filtered = filter_logits(logits, cfg, allowed)
    if cfg.greedy:
        return filtered.argmax(axis=-1)
    cdf = np.exp(log_softmax(filtered)).cumsum(axis=-1)  # (B, V): inverse-CDF sampling
    if uniforms is None:
        uniforms = (rng or np.random.default_rng()).random(cdf.shape[0])
    u = np.asarray(uniforms, np.float64)[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), cdf.shape[-1] - 1)
