"""The sequence model: token ids in, log-probabilities and state out.

    embedding (+ lookback inputs) -> recurrent core (rnn | lstm | gru | lstm+attention)
    -> dropout -> output layer o_t = W_hy h_t (optionally tied to the embedding)
    -> log-softmax [or the form head: a mixture with whole earlier bars (:mod:`.form`)]

It knows no files, no MIDI and no token names: only ids, with id 0 as padding. The state
is a plain dict of tensors so that it can be carried between truncated-BPTT windows,
reset per lane at sequence starts, and saved in a checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from melodyrnn.core.models.attention import WindowAttention
from melodyrnn.core.models.barcopy import BarCopy
from melodyrnn.core.models.config import ModelConfig
from melodyrnn.core.models.elman import ElmanRNN
from melodyrnn.core.models.layout import (FORM_BITS, PAD, history_length, input_size, lane_dim,
                                          position_table)
from melodyrnn.core.models.plugins import load_core_factory

__all__ = ["SequenceModel", "State"]

State = dict[str, torch.Tensor]


class SequenceModel(nn.Module):
    """Many-to-many next-token model with an optional many-to-one classification head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.embedding, padding_idx=PAD)
        in_size = input_size(c)
        drop = c.dropout if c.layers > 1 else 0.0
        if c.kind == "rnn":
            self.core = ElmanRNN(in_size, c.hidden, c.layers, drop, fused=c.fused)
        elif c.kind == "gru":
            self.core = nn.GRU(in_size, c.hidden, c.layers, batch_first=True, dropout=drop)
        elif c.kind not in ("lstm", "attention"):  # a model plugin
            self.core = load_core_factory(c.kind)(in_size, c.hidden, c.layers, drop)
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
        self.bar_copy = (BarCopy(c.hidden, c.form.bars, c.form.cont, c.form.length, c.embedding * c.form.plan)
                         if c.form.bars else None)
        if c.lookback:  # constant tables, not saved in checkpoints
            self.register_buffer("_position_table", torch.from_numpy(position_table(c.max_period)),
                                 persistent=False)
            self.register_buffer("_bars", torch.tensor([[list(c.lookback_bars)]]), persistent=False)

    # -- state ---------------------------------------------------------------------
    def initial_state(self, batch: int, periods: torch.Tensor | None = None,
                      device=None, bars: torch.Tensor | None = None, classes=None) -> State:
        """Fresh state for ``batch`` lanes; ``periods`` (batch,) are bar lengths in tokens,
        ``bars`` (batch,) the tunes' lengths in bars (read by a form head that reads the length),
        or ``classes`` (batch,) their length classes where decoding infers them."""
        c = self.config
        device = device or self.embed.weight.device
        zeros = torch.zeros(c.layers, batch, c.hidden, device=device)
        state: State = {"h": zeros}
        if isinstance(self.core, nn.LSTM):
            state["c"] = zeros.clone()
        if self.attention is not None:
            state["past"], state["past_valid"] = self.attention.initial(batch, c.hidden, device)
        if c.lookback:
            state["hist"] = torch.full((batch, history_length(c)), PAD, dtype=torch.long,
                                       device=device)
            state["pos"] = torch.zeros(batch, dtype=torch.long, device=device)
            p = periods if periods is not None else torch.zeros(batch, dtype=torch.long)
            state["period"] = self._clamp_period(p.to(device))
        if self.bar_copy is not None:
            state.update(self.bar_copy.initial(batch, c.vocab_size, device, bars, classes))
        return state

    def _clamp_period(self, periods: torch.Tensor) -> torch.Tensor:
        p = periods.long()
        return torch.where(p <= self.config.max_period, p, torch.zeros_like(p))

    def reset(self, state: State, lanes: torch.Tensor, periods: torch.Tensor | None = None,
              bars: torch.Tensor | None = None) -> State:
        """State with the lanes in bool mask ``lanes`` (batch,) started afresh."""
        if not bool(lanes.any()):  # most steps: every lane goes on with its sequence
            return state
        fresh = self.initial_state(lanes.shape[0], periods, lanes.device, bars)
        out = {}
        for key, value in state.items():
            shape = [1] * value.dim()
            shape[lane_dim(key)] = -1
            out[key] = torch.where(lanes.view(shape), fresh[key], value)
        return out

    @staticmethod
    def select_lanes(state: State, index: torch.Tensor) -> State:
        """The state of lanes ``index`` (n,), in that order (lanes may repeat): beam search
        keeps and copies hypotheses with it."""
        return {k: v.index_select(lane_dim(k), index.to(v.device)) for k, v in state.items()}

    @staticmethod
    def detach(state: State) -> State:
        return {k: v.detach() for k, v in state.items()}

    # -- forward -------------------------------------------------------------------
    def lookback_inputs(self, ids: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens K bars before each target (B, T, K; 0 where there is none), and the
        repeat flags, position in the bar and (``bar_index``) the bar's index bits
        (B, T, K + 2 + BITS [+ FORM_BITS])."""
        batch, steps = ids.shape
        hist, pos, period = state["hist"], state["pos"], state["period"]
        k = self._bars.shape[-1]
        ext = torch.cat([hist, ids], dim=1)  # (B, reach + T)
        j = torch.arange(steps, device=ids.device)
        seq_index = (pos[:, None] + j)[..., None]  # (B, T, 1): index in its sequence (<s> is 0)
        per = period[:, None, None]  # (B, 1, 1)
        bars = self._bars * per  # (B, 1, K): lookback distances, in tokens (<= reach)
        on = per > 0
        back_at = (hist.shape[1] + 1 + j)[None, :, None] - bars  # (B, T, K) index in ext, >= 1
        back = torch.gather(ext, 1, back_at.clamp(max=ext.shape[1] - 1).view(batch, -1))
        back = back.view(batch, steps, k) * (on & (seq_index + 1 >= bars))  # padding where none
        prev = torch.gather(ext, 1, (back_at - 1).view(batch, -1)).view(batch, steps, k)
        flags = (prev == ids[..., None]) & on & (seq_index >= bars)  # (B, T, K)
        phase = seq_index[..., 0] % per[..., 0].clamp(min=1)  # (B, T)
        table = self._position_table.flatten(0, 1)  # (P + 1, P, F) -> ((P + 1) * P, F)
        position = nn.functional.embedding(period[:, None] * self._position_table.shape[1] + phase,
                                           table)  # (B, T, 2 + BITS)
        extra = [flags.to(position.dtype), position]
        if self.config.bar_index:  # where the target lies in the tune's form
            bar = seq_index[..., 0] // per[..., 0].clamp(min=1)  # (B, T)
            bits = (bar[..., None] >> torch.arange(FORM_BITS, device=ids.device)) & 1
            extra.append((bits * on).to(position.dtype))  # (B, T, FORM_BITS)
        return back, torch.cat(extra, dim=-1)

    def features(self, ids: torch.Tensor, state: State | None = None,
                 valid: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """Core outputs (B, T, hidden) for ids (B, T) and the state after them."""
        if state is None:
            state = self.initial_state(ids.shape[0], device=ids.device)
        if valid is None and (self.attention is not None or self.config.lookback):
            valid = ids != PAD
        new: State = {}
        if self.config.lookback:
            back, extra = self.lookback_inputs(ids, state)
            both = torch.cat([ids[..., None], back], dim=-1)  # (B, T, 1 + K)
            emb = self.embed(both)  # (B, T, 1 + K, E)
            plan = None if self.bar_copy is None else self.bar_copy.plan_input(state, ids.shape[1])
            if plan is not None:  # the section plan joins the input token's own embedding
                emb = torch.cat([emb[:, :, :1] + plan[:, :, None].to(emb.dtype), emb[:, :, 1:]], dim=2)
                new["copy_span"] = state["copy_span"]  # what the plan reads goes on with the state
            x = [emb.flatten(2), extra]  # (B, T, (1 + K) * E), (B, T, K + 2 + BITS)
            new["hist"] = torch.cat([state["hist"], ids], dim=1)[:, -state["hist"].shape[1]:]
            new["pos"] = state["pos"] + valid.sum(dim=1)
            new["period"] = state["period"]
            x = torch.cat(x, dim=-1)
        else:
            x = self.embed(ids)
        if x.shape[1] == 1 and not self.training and isinstance(self.core, (nn.LSTM, nn.GRU)):
            h, new["h"], c = self._one_step(x, state["h"], state.get("c"))
            if c is not None:
                new["c"] = c
        elif isinstance(self.core, nn.LSTM):
            h, (new["h"], new["c"]) = self.core(x, (state["h"], state["c"]))
        else:
            h, new["h"] = self.core(x, state["h"])
        if self.attention is not None:
            h, new["past"], new["past_valid"] = self.attention(
                h, state["past"], state["past_valid"], valid)
        return h, new

    def _one_step(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None):
        """One step (B, 1, in) through the layers with torch's cell kernels, the same
        weights as the fused core: at T=1 on CPU these skip the weight re-packing that
        ``nn.LSTM`` pays on every call (about 3x faster for a 2x256 LSTM)."""
        core, out, hs, cs = self.core, x[:, 0], [], []
        for layer in range(core.num_layers):
            w = [getattr(core, f"{name}_l{layer}")
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            if c is None:
                out = torch.gru_cell(out, h[layer], *w)
            else:
                out, c_layer = torch.lstm_cell(out, (h[layer], c[layer]), *w)
                cs.append(c_layer)
            hs.append(out)
        return out[:, None], torch.stack(hs), (torch.stack(cs) if cs else None)

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
        """Next-token log-probabilities (B, T, vocab) for ids (B, T), and the state after
        them: the network's, or with a form head, its mixture (:mod:`.form`)."""
        if state is None:
            state = self.initial_state(ids.shape[0], device=ids.device)
        h, new = self.features(ids, state, valid)
        if self.bar_copy is None:
            return torch.log_softmax(self.logits(h), dim=-1), new
        ext = torch.cat([state["hist"], ids], dim=1)  # (B, reach + T): history, then ids
        out, extra = self.bar_copy(ids, self.drop(h), self.logits(h), ext, state["pos"],
                                   state["period"], state)
        return out, {**new, **extra}

    def length_prior(self):
        """The form head's log-prior (SPANS,) of the tune's length classes, as numpy; None
        where no head reads the length (:mod:`.form`)."""
        return None if self.bar_copy is None else self.bar_copy.length_prior()

    def set_length_prior(self, bars) -> None:
        """Set that prior from the lengths (bars) of the training tunes, where there is one."""
        if self.length_prior() is not None:
            self.bar_copy.set_length_prior(bars)

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
