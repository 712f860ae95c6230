"""The Elman network written out as its equations.

    h_t = tanh(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh)

with one weight set shared by every time step (``b_xh + b_hh`` is the bias ``b``; two
biases keep the parameters interchangeable with ``torch.nn.RNN``). The output layer
``o_t = W_hy h_t`` lives in the network around it. ``fused=True`` runs the same
parameters on torch's fused kernel.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ElmanRNN"]


class ElmanRNN(nn.Module):
    """Multi-layer Elman RNN, batch first, with ``torch.nn.RNN``'s parameter names."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, fused: bool = False) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, num_layers, nonlinearity="tanh",
                          batch_first=True, dropout=dropout)
        self.fused = fused
        self.dropout = dropout
        self.num_layers = num_layers

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (batch, time, input); h0: (layers, batch, hidden). Returns outputs, h_T."""
        if self.fused:
            return self.rnn(x, h0)
        batch, steps, _ = x.shape
        hidden = self.rnn.hidden_size
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, batch, hidden)
        finals = []
        layer_in = x
        for k in range(self.num_layers):
            w_xh = getattr(self.rnn, f"weight_ih_l{k}")
            w_hh = getattr(self.rnn, f"weight_hh_l{k}")
            b = getattr(self.rnn, f"bias_ih_l{k}") + getattr(self.rnn, f"bias_hh_l{k}")
            xw = layer_in @ w_xh.T + b  # (batch, time, hidden): the input part of every step at once
            h = h0[k]
            outs = []
            for t in range(steps):
                h = torch.tanh(xw[:, t] + h @ w_hh.T)
                outs.append(h)
            finals.append(h)
            layer_in = torch.stack(outs, dim=1)  # (batch, time, hidden)
            if self.dropout and self.training and k < self.num_layers - 1:
                layer_in = nn.functional.dropout(layer_in, self.dropout, training=True)
        return layer_in, torch.stack(finals)
