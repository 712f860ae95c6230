"""The sequence model's forward pass in numpy, for decoding without torch.

:class:`NumpyModel` runs a trained :class:`~melodyrnn.core.models.network.SequenceModel`
(LSTM, GRU or Elman core; embeddings, lookback inputs, bar index and the bar-copy head;
tied or untied output) one token a step over a batch of lanes, from the checkpoint's
weights as numpy arrays. Its state dict has the torch model's keys and layout, so the two
are interchangeable under :func:`melodyrnn.core.continuation.continue_ids`; the tests hold
their log-probabilities equal. Attention cores and model plugins are not covered
(:func:`supported` says which configs are): those decode with torch.

Why: importing torch takes one to two seconds, several times what a 16-bar continuation
costs; a command that only samples a shipped model need not pay it.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.core.models.config import ModelConfig
from melodyrnn.core.models import form
from melodyrnn.core.models.form import MAX_BAR, MAX_STREAK, SPANS
from melodyrnn.core.models.layout import (FORM_BITS, PAD, POSITION_BITS, history_length, input_size,
                                          lane_dim, position_table)

__all__ = ["NumpyModel", "supported", "expected_shapes"]


def supported(config: ModelConfig) -> bool:
    """Whether :class:`NumpyModel` runs this config (lstm, gru, rnn cores; no classifier)."""
    return config.kind in ("lstm", "gru", "rnn")


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The weight names and shapes of ``SequenceModel(config).state_dict()`` (supported kinds),
    worked out without building it."""
    c = config
    size = input_size(c)
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[c.kind] * c.hidden
    core = "core.rnn." if c.kind == "rnn" else "core."
    shapes = {"embed.weight": (c.vocab_size, c.embedding)}
    for layer in range(c.layers):
        shapes.update({f"{core}weight_ih_l{layer}": (gates, size if layer == 0 else c.hidden),
                       f"{core}weight_hh_l{layer}": (gates, c.hidden),
                       f"{core}bias_ih_l{layer}": (gates,), f"{core}bias_hh_l{layer}": (gates,)})
    if c.tie_weights:
        shapes["out_bias"] = (c.vocab_size,)
        if c.hidden != c.embedding:
            shapes.update({"bridge.weight": (c.embedding, c.hidden), "bridge.bias": (c.embedding,)})
    else:
        shapes.update({"out.weight": (c.vocab_size, c.hidden), "out.bias": (c.vocab_size,)})
    if c.num_classes:
        shapes.update({"classifier.weight": (c.num_classes, c.hidden), "classifier.bias": (c.num_classes,)})
    if c.form.bars:
        n = 2 * c.form.bars + 1
        shapes.update({"bar_copy.streak": (MAX_STREAK + 1, n - 1), "bar_copy.eps_logit": (),
                       "bar_copy.proj.weight": (n, c.hidden), "bar_copy.proj.bias": (n,),
                       "bar_copy.place.weight": (MAX_BAR + 1, n)})
        if c.form.cont:
            shapes["bar_copy.cont.weight"] = (n - 1, c.hidden)
        if c.form.length:
            shapes.update({"bar_copy.span.weight": (SPANS * (MAX_BAR + 1), n),
                           "bar_copy.span_prior": (SPANS,)})
        if c.form.plan:
            shapes["bar_copy.plan.weight"] = (SPANS * (MAX_BAR + 1), c.embedding)
    return shapes


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warnings for large |x|


def _log_softmax(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


class NumpyModel:
    """A trained model's decoding step in numpy (see the module docstring).

    Parameters
    ----------
    config : ModelConfig
    weights : dict of str -> ndarray
        The checkpoint's ``model_state`` (torch's parameter names).
    """

    def __init__(self, config: ModelConfig, weights: dict[str, np.ndarray]) -> None:
        if not supported(config):
            raise ValueError(f"numpy decoding covers lstm, gru and rnn models, not {config.kind!r}")
        self.config = c = config
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.embed = w["embed.weight"]
        core = "core.rnn." if c.kind == "rnn" else "core."
        # per layer: W_ih^T (in, G * H), W_hh^T (H, G * H), and the two biases
        self.layers = [(w[f"{core}weight_ih_l{k}"].T.copy(), w[f"{core}weight_hh_l{k}"].T.copy(),
                        w[f"{core}bias_ih_l{k}"], w[f"{core}bias_hh_l{k}"]) for k in range(c.layers)]
        if c.tie_weights:
            bridge = w.get("bridge.weight")
            self.out_w = (self.embed @ bridge).T if bridge is not None else self.embed.T  # (H, V)
            self.out_b = w["out_bias"] + (w["bridge.bias"] @ self.embed.T if bridge is not None else 0)
        else:
            self.out_w, self.out_b = w["out.weight"].T.copy(), w["out.bias"]
        if c.lookback:
            self.table = position_table(c.max_period).reshape(-1, 2 + POSITION_BITS)  # ((P+1) * P, F)
            self.phases = max(c.max_period, 1)
            self.bars = np.asarray(c.lookback_bars)
        self.span_prior = None
        if c.form.bars:  # the form head's weights in float64, as the decoding of one lane always had them
            self.form_weights = {name[len("bar_copy."):]: v.astype(np.float64) for name, v in weights.items()
                                 if name.startswith("bar_copy.") and name not in ("bar_copy.eps_logit",
                                                                                   "bar_copy.span_prior",
                                                                                   "bar_copy.plan.weight")}
            self.eps_varied = float(_sigmoid(w["bar_copy.eps_logit"]))  # a varied copy's eps
            self.span_prior = w["bar_copy.span_prior"].astype(np.float64) if c.form.length else None
            self.plan = w["bar_copy.plan.weight"] if c.form.plan else None  # float32, as the input

    def length_prior(self) -> np.ndarray | None:
        """The form head's log-prior of the tune's length classes (None: not read)."""
        return self.span_prior

    # -- state -----------------------------------------------------------------------
    def initial_state(self, batch: int, period: int = 0, classes=None) -> dict[str, np.ndarray]:
        """Fresh state for ``batch`` lanes with bar length ``period`` tokens (0: none); the
        form head's length ``classes`` (batch,) where decoding infers them (default 0)."""
        c = self.config
        zeros = np.zeros((c.layers, batch, c.hidden), np.float32)
        state = {"h": zeros}
        if c.kind == "lstm":
            state["c"] = zeros.copy()
        if c.lookback:
            state["hist"] = np.full((batch, history_length(c)), PAD, np.int64)
            state["pos"] = np.zeros(batch, np.int64)
            state["period"] = np.full(batch, period if period <= c.max_period else 0, np.int64)
        if c.form.bars:
            state.update(form.initial(np, batch, c.form.bars, c.vocab_size, classes))
        return state

    @staticmethod
    def select_lanes(state: dict, index: np.ndarray) -> dict:
        """The state of lanes ``index`` (n,), in that order."""
        return {k: v.take(index, axis=lane_dim(k)) for k, v in state.items()}

    # -- one step ------------------------------------------------------------------------
    def step(self, ids: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        """Log-probabilities (N, V) of the next id after ``ids`` (N,), and the new state."""
        ids = np.asarray(ids, np.int64)
        new = dict(state)
        x = self.embed[ids]  # (N, E)
        if self.config.form.plan:  # the section plan joins the input token's embedding
            x = x + form.plan_input(self.plan, state["copy_span"], state["pos"], state["period"])
        if self.config.lookback:
            ext = np.concatenate([state["hist"], ids[:, None]], axis=1)  # (N, reach + 1): history, then ids
            x = self._with_lookback(ids, ext, state, x, new)
        h = self._core(x, state, new)  # (N, H)
        logits = h @ self.out_w + self.out_b  # (N, V)
        if not self.config.form.bars:
            return _log_softmax(logits), new
        net = np.exp(logits - logits.max(axis=1, keepdims=True))
        net /= net.sum(axis=1, keepdims=True)  # (N, V): the network's distribution
        copy = {key: v for key, v in state.items() if key.startswith("copy_")}
        lp, copy = form.step(self.form_weights, self.eps_varied, copy, ids, h, net, ext, state["pos"],
                             state["period"])
        new.update(copy)
        return lp.astype(np.float32, copy=False), new

    def _with_lookback(self, ids, ext, state, x, new) -> np.ndarray:
        """x with the lookback inputs appended, as ``SequenceModel.lookback_inputs`` at T = 1;
        ``ext`` (N, reach + 1) is the history followed by ``ids``."""
        pos, period = state["pos"], state["period"]
        n, reach = ext.shape[0], ext.shape[1] - 1
        lanes = np.arange(n)[:, None]
        on = (period > 0)[:, None]  # (N, 1)
        bars = self.bars[None, :] * period[:, None]  # (N, K): lookback distances in tokens
        back_at = np.minimum(reach + 1 - bars, reach)  # index in ext of the token K bars back
        back = ext[lanes, back_at] * (on & (pos[:, None] + 1 >= bars))  # padding where none
        flags = (ext[lanes, back_at - 1] == ids[:, None]) & on & (pos[:, None] >= bars)  # (N, K)
        per = np.maximum(period, 1)
        position = self.table[period * self.phases + pos % per]  # (N, 2 + BITS)
        parts = [x, self.embed[back].reshape(n, -1), flags.astype(np.float32), position]
        if self.config.bar_index:
            bits = ((pos // per)[:, None] >> np.arange(FORM_BITS)) & 1
            parts.append((bits * on).astype(np.float32))
        new["hist"] = ext[:, 1:]
        new["pos"] = pos + (ids != PAD)
        return np.concatenate(parts, axis=1)

    def _core(self, x, state, new) -> np.ndarray:
        """The recurrent layers, one step (torch's gate order and equations)."""
        kind, hs, cs = self.config.kind, [], []
        for k, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.layers):
            h = state["h"][k]
            if kind == "lstm":
                gates = x @ w_ih + b_ih + h @ w_hh + b_hh  # (N, 4H): i, f, g, o
                n = gates.shape[1] // 4
                in_forget = _sigmoid(gates[:, :2 * n])  # one call for i and f (views below)
                c = in_forget[:, n:] * state["c"][k] + in_forget[:, :n] * np.tanh(gates[:, 2 * n:3 * n])
                x = _sigmoid(gates[:, 3 * n:]) * np.tanh(c)
                cs.append(c)
            elif kind == "gru":
                gx, gh = x @ w_ih + b_ih, h @ w_hh + b_hh  # (N, 3H) each: r, z, n
                rx, zx, nx = np.split(gx, 3, axis=1)
                rh, zh, nh = np.split(gh, 3, axis=1)
                r, z = _sigmoid(rx + rh), _sigmoid(zx + zh)
                x = (1 - z) * np.tanh(nx + r * nh) + z * h
            else:  # Elman: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)
                x = np.tanh(x @ w_ih + b_ih + h @ w_hh + b_hh)
            hs.append(x)
        new["h"] = np.stack(hs)
        if cs:
            new["c"] = np.stack(cs)
        return x
