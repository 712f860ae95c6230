"""Additive attention over a window of past outputs (Magenta's attention_rnn remedy).

Each output ``h_t`` of the recurrent core attends over the previous ``length`` outputs
``h_{t-length} .. h_{t-1}`` with Bahdanau scoring ``v . tanh(W_k h_i + W_q h_t)``; the
context is mixed back in as ``tanh(W_o [h_t; context])``. The window reaches across
truncated-BPTT windows: the last ``length`` outputs travel in the state.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["WindowAttention"]


class WindowAttention(nn.Module):
    def __init__(self, hidden: int, length: int, dim: int) -> None:
        super().__init__()
        self.length = length
        self.key = nn.Linear(hidden, dim, bias=False)
        self.query = nn.Linear(hidden, dim)
        self.score = nn.Linear(dim, 1, bias=False)
        self.mix = nn.Linear(2 * hidden, hidden)

    def initial(self, batch: int, hidden: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Empty window: past outputs (batch, length, hidden) and their validity."""
        return (torch.zeros(batch, self.length, hidden, device=device),
                torch.zeros(batch, self.length, dtype=torch.bool, device=device))

    def forward(self, h: torch.Tensor, past: torch.Tensor, past_valid: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h: (B, T, H); past: (B, N, H); past_valid: (B, N); valid: (B, T) real steps.

        Returns the attended outputs (B, T, H) and the new window (past, past_valid).
        """
        n, steps = self.length, h.shape[1]
        all_h = torch.cat([past, h], dim=1)  # (B, N+T, H)
        all_valid = torch.cat([past_valid, valid], dim=1)  # (B, N+T)
        keys = self.key(all_h).unfold(1, n, 1)[:, :steps]  # (B, T, A, N): the N steps before t
        query = self.query(h).unsqueeze(-1)  # (B, T, A, 1)
        scores = self.score(torch.tanh(keys + query).transpose(2, 3)).squeeze(-1)  # (B, T, N)
        window_valid = all_valid.unfold(1, n, 1)[:, :steps]  # (B, T, N)
        scores = scores.masked_fill(~window_valid, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # no valid past -> no context
        values = all_h.unfold(1, n, 1)[:, :steps]  # (B, T, H, N)
        context = torch.einsum("btn,bthn->bth", weights, values)  # (B, T, H)
        out = torch.tanh(self.mix(torch.cat([h, context], dim=-1)))
        return out, all_h[:, -n:], all_valid[:, -n:]
