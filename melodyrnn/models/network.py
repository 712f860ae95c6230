"""The sequence model: token ids in, logits and state out.

    embedding (+ lookback inputs) -> recurrent core (rnn | lstm | gru | lstm+attention)
    -> dropout -> output layer o_t = W_hy h_t (optionally tied to the embedding)

It knows no files, no MIDI and no token names: only ids, with id 0 as padding. The state
is a plain dict of tensors so that it can be carried between truncated-BPTT windows,
reset per lane at sequence starts, and saved in a checkpoint.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import WindowAttention
from .config import ModelConfig
from .elman import ElmanRNN

__all__ = ["SequenceModel", "State"]

PAD = 0
POSITION_BITS = 7
State = dict[str, torch.Tensor]


class SequenceModel(nn.Module):
    """Many-to-many next-token model with an optional many-to-one classification head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.embedding, padding_idx=PAD)
        in_size = c.embedding * (3 if c.lookback else 1) + (2 + 2 + POSITION_BITS) * c.lookback
        drop = c.dropout if c.layers > 1 else 0.0
        if c.kind == "rnn":
            self.core = ElmanRNN(in_size, c.hidden, c.layers, drop, fused=c.fused)
        elif c.kind == "gru":
            self.core = nn.GRU(in_size, c.hidden, c.layers, batch_first=True, dropout=drop)
        else:
            self.core = nn.LSTM(in_size, c.hidden, c.layers, batch_first=True, dropout=drop)
        self.attention = (WindowAttention(c.hidden, c.attention_length, c.attention_dim)
                          if c.kind == "attention" else None)
        self.drop = nn.Dropout(c.dropout)
        if c.tie_weights:
            self.bridge = nn.Linear(c.hidden, c.embedding) if c.hidden != c.embedding else None
            self.out_bias = nn.Parameter(torch.zeros(c.vocab_size))
        else:
            self.out = nn.Linear(c.hidden, c.vocab_size)
        self.classifier = nn.Linear(c.hidden, c.num_classes) if c.num_classes else None
        if c.lookback:  # constant tables, not saved in checkpoints
            phases = torch.arange(max(c.max_period, 1))
            bits = ((phases[:, None] >> torch.arange(POSITION_BITS)) & 1).float()
            self.register_buffer("_bit_table", bits, persistent=False)  # (P, BITS)
            self.register_buffer("_bars", torch.tensor([[[1, 2]]]), persistent=False)

    # -- state ---------------------------------------------------------------------
    def initial_state(self, batch: int, periods: torch.Tensor | None = None,
                      device=None) -> State:
        """Fresh state for ``batch`` lanes; ``periods`` (batch,) are bar lengths in tokens."""
        c = self.config
        device = device or self.embed.weight.device
        zeros = torch.zeros(c.layers, batch, c.hidden, device=device)
        state: State = {"h": zeros}
        if isinstance(self.core, nn.LSTM):
            state["c"] = zeros.clone()
        if self.attention is not None:
            state["past"], state["past_valid"] = self.attention.initial(batch, c.hidden, device)
        if c.lookback:
            state["hist"] = torch.full((batch, 2 * c.max_period), PAD, dtype=torch.long,
                                       device=device)
            state["pos"] = torch.zeros(batch, dtype=torch.long, device=device)
            p = periods if periods is not None else torch.zeros(batch, dtype=torch.long)
            state["period"] = self._clamp_period(p.to(device))
        return state

    def _clamp_period(self, periods: torch.Tensor) -> torch.Tensor:
        p = periods.long()
        return torch.where(p <= self.config.max_period, p, torch.zeros_like(p))

    def reset(self, state: State, lanes: torch.Tensor, periods: torch.Tensor | None = None
              ) -> State:
        """State with the lanes in bool mask ``lanes`` (batch,) started afresh."""
        if not bool(lanes.any()):  # most steps: every lane goes on with its sequence
            return state
        fresh = self.initial_state(lanes.shape[0], periods, lanes.device)
        out = {}
        for key, value in state.items():
            dim = 1 if key in ("h", "c") else 0
            shape = [1] * value.dim()
            shape[dim] = -1
            out[key] = torch.where(lanes.view(shape), fresh[key], value)
        return out

    @staticmethod
    def detach(state: State) -> State:
        return {k: v.detach() for k, v in state.items()}

    # -- forward -------------------------------------------------------------------
    def _lookback_inputs(self, ids: torch.Tensor, state: State) -> list[torch.Tensor]:
        """Embeddings of the tokens one and two bars before each target, repeat flags, bar position."""
        batch, steps = ids.shape
        hist, pos, period = state["hist"], state["pos"], state["period"]
        ext = torch.cat([hist, ids], dim=1)  # (B, 2P + T)
        j = torch.arange(steps, device=ids.device)
        seq_index = (pos[:, None] + j)[..., None]  # (B, T, 1): index in its sequence (<s> is 0)
        per = period[:, None, None]  # (B, 1, 1)
        bars = self._bars.to(ids.device) * per  # (B, 1, 2): one and two bars, in tokens
        on = per > 0
        back_at = (hist.shape[1] + j)[None, :, None] + 1 - bars  # (B, T, 2) index in ext
        back_ok = on & (seq_index + 1 - bars >= 0)
        back = torch.gather(ext, 1, back_at.clamp(0, ext.shape[1] - 1).reshape(batch, -1))
        back = back.view(batch, steps, 2) * back_ok  # padding id 0 where there is none
        embedded = self.embed(back).reshape(batch, steps, -1)  # (B, T, 2E): back1 then back2
        prev = torch.gather(ext, 1, (back_at - 1).clamp(min=0).reshape(batch, -1))
        flags = ((prev.view(batch, steps, 2) == ids[..., None])
                 & on & (seq_index - bars >= 0)).float()  # (B, T, 2)
        phase = torch.where(on, seq_index % per.clamp(min=1), 0)[..., 0]  # (B, T)
        angle = (2 * math.pi) * phase / per[..., 0].clamp(min=1)
        onf = on[..., 0].float()
        position = torch.cat([torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1),
                              self._bit_table[phase]], dim=-1) * onf[..., None]
        return [embedded, torch.cat([flags, position], dim=-1)]  # (B,T,2E), (B,T,2+2+BITS)

    def features(self, ids: torch.Tensor, state: State | None = None,
                 valid: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Core outputs (B, T, hidden) for ids (B, T) and the state after them."""
        if state is None:
            state = self.initial_state(ids.shape[0], device=ids.device)
        if valid is None and (self.attention is not None or self.config.lookback):
            valid = ids != PAD
        x = [self.embed(ids)]
        new: State = {}
        if self.config.lookback:
            x += self._lookback_inputs(ids, state)
            new["hist"] = torch.cat([state["hist"], ids], dim=1)[:, -state["hist"].shape[1]:]
            new["pos"] = state["pos"] + valid.sum(dim=1)
            new["period"] = state["period"]
        x = torch.cat(x, dim=-1) if len(x) > 1 else x[0]
        if isinstance(self.core, nn.LSTM):
            h, (new["h"], new["c"]) = self.core(x, (state["h"], state["c"]))
        else:
            h, new["h"] = self.core(x, state["h"])
        if self.attention is not None:
            h, new["past"], new["past_valid"] = self.attention(
                h, state["past"], state["past_valid"], valid)
        return h, new

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Output layer: (B, T, hidden) -> (B, T, vocab)."""
        h = self.drop(h)
        if self.config.tie_weights:
            if self.bridge is not None:
                h = self.bridge(h)
            return h @ self.embed.weight.T + self.out_bias
        return self.out(h)

    def forward(self, ids: torch.Tensor, state: State | None = None,
                valid: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Next-token logits (B, T, vocab) for ids (B, T), and the state after them."""
        h, new = self.features(ids, state, valid)
        return self.logits(h), new

    def classify(self, ids: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits (B, classes) from the output at each sequence's last real token."""
        if self.classifier is None:
            raise ValueError("this model has no classification head (num_classes=0)")
        if valid is None:
            valid = ids != PAD
        h, _ = self.features(ids, None, valid)
        last = (valid.long().sum(dim=1) - 1).clamp(min=0)  # (B,)
        final = h[torch.arange(ids.shape[0], device=ids.device), last]  # (B, hidden)
        return self.classifier(self.drop(final))
