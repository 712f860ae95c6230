"""From logits to next ids: temperature, top-k, top-p (nucleus) and greedy decoding.

Works on any vocabulary; ``allowed`` masks ids out (constraints such as a key or a pitch
range are built by the music layer and passed in as a boolean mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SamplingConfig", "sample_next", "filter_logits"]


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
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        if self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ValueError("need top_k >= 0 and 0 < top_p <= 1")


def filter_logits(logits: torch.Tensor, cfg: SamplingConfig,
                  allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Logits (B, V) after temperature, masking, top-k and top-p (removed ids at -inf)."""
    logits = logits.float()
    if cfg.temperature != 1.0:
        logits = logits / cfg.temperature
    if allowed is not None:
        logits = logits.masked_fill(~allowed, float("-inf"))
    if cfg.top_k and cfg.top_k < logits.shape[-1]:
        kth = torch.topk(logits, cfg.top_k, dim=-1).values[..., -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop = probs.cumsum(dim=-1) - probs >= cfg.top_p  # mass before >= p
        drop[..., 0] = False
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None = None,
                allowed: torch.Tensor | None = None, uniforms: torch.Tensor | None = None
                ) -> torch.Tensor:
    """Next ids (B,) from logits (B, V); the draw uses ``uniforms`` (B,) in [0, 1) when
    given (one per row, so each row can have its own generator), else ``generator``."""
    filtered = filter_logits(logits, cfg, allowed)
    if cfg.greedy:
        return filtered.argmax(dim=-1)
    # inverse-CDF sampling: one uniform draw per row; torch.multinomial validates its input
    # on every call, which costs more than the draw itself for one row
    cdf = torch.softmax(filtered, dim=-1).cumsum(dim=-1)  # (B, V)
    if uniforms is None:
        uniforms = torch.rand(cdf.shape[0], generator=generator, dtype=cdf.dtype)
    u = uniforms.to(cdf.dtype)[:, None] * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp(max=cdf.shape[-1] - 1)
