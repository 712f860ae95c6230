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
from melodyrnn.core.models.copy_lane import MAX_BAR, MAX_STREAK, NEG, SPANS, head_weights, lane_step
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
    if c.bar_copy:
        n = 2 * c.bar_copy + 1
        shapes.update({"bar_copy.streak": (MAX_STREAK + 1, n - 1), "bar_copy.eps_logit": (),
                       "bar_copy.proj.weight": (n, c.hidden), "bar_copy.proj.bias": (n,),
                       "bar_copy.place.weight": (MAX_BAR + 1, n)})
        if c.copy_continue:
            shapes["bar_copy.cont.weight"] = (n - 1, c.hidden)
        if c.copy_length:
            shapes.update({"bar_copy.span.weight": (SPANS * (MAX_BAR + 1), n),
                           "bar_copy.span_prior": (SPANS,)})
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
        if c.bar_copy:
            self.copy_w, self.copy_b = w["bar_copy.proj.weight"].T.copy(), w["bar_copy.proj.bias"]
            self.place, self.streak_table = w["bar_copy.place.weight"], w["bar_copy.streak"]
            self.cont_w = w["bar_copy.cont.weight"].T.copy() if c.copy_continue else None  # (H, 2K)
            self.span = w["bar_copy.span.weight"] if c.copy_length else None  # (SPANS * 64, 2K + 1)
            self.span_prior = w["bar_copy.span_prior"].astype(np.float64) if c.copy_length else None
            self.eps_varied = float(_sigmoid(w["bar_copy.eps_logit"]))  # a varied copy's eps
            self.eps = np.r_[np.zeros(c.bar_copy), np.full(c.bar_copy, self.eps_varied)].astype(np.float32)
            self.d = np.arange(1, c.bar_copy + 1)
            # one lane's head (copy_lane.head_weights): the projection and the cont term in one
            # product, and the bias, place and length-class terms summed per [class, bar] row
            self.head_w = np.concatenate([self.copy_w] + ([self.cont_w] if c.copy_continue else []), axis=1)
            base = self.copy_b + self.place  # (64, 2K + 1)
            if c.copy_length:
                base = (base[None] + self.span.reshape(SPANS, MAX_BAR + 1, -1)).reshape(-1, base.shape[1])
            self.head_rows, self.streak_rows = base.tolist(), self.streak_table.tolist()
            self._backs: dict[tuple[int, int], np.ndarray] = {}  # see _back
            self._true = np.array([True])

    # -- state -----------------------------------------------------------------------
    def initial_state(self, batch: int, period: int = 0) -> dict[str, np.ndarray]:
        """Fresh state for ``batch`` lanes with bar length ``period`` tokens (0: none)."""
        c = self.config
        zeros = np.zeros((c.layers, batch, c.hidden), np.float32)
        state = {"h": zeros}
        if c.kind == "lstm":
            state["c"] = zeros.copy()
        if c.lookback:
            state["hist"] = np.full((batch, history_length(c)), PAD, np.int64)
            state["pos"] = np.zeros(batch, np.int64)
            state["period"] = np.full(batch, period if period <= c.max_period else 0, np.int64)
        if c.bar_copy:
            k = c.bar_copy
            w = np.zeros((batch, 2 * k + 1))  # component weights (probabilities): all new
            w[:, -1] = 1.0
            # the previous step's network distribution, pend_e * pend_scale (unnormalised and
            # 1 / its sum: the one-lane path never normalises the whole vector)
            state.update(copy_w=w, copy_span=np.zeros(batch, np.int64),
                         copy_match=np.zeros((batch, k), bool),
                         copy_streak=np.zeros((batch, k), np.int64),
                         copy_pend_e=np.zeros((batch, c.vocab_size), np.float32),
                         copy_pend_scale=np.ones(batch), copy_pend_tok=np.zeros((batch, k), np.int64),
                         copy_pend_on=np.zeros(batch, bool))
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
        if self.config.lookback:
            ext = np.concatenate([state["hist"], ids[:, None]], axis=1)  # (N, reach + 1): history, then ids
            x = self._with_lookback(ids, ext, state, x, new)
        h = self._core(x, state, new)  # (N, H)
        logits = h @ self.out_w + self.out_b  # (N, V)
        if self.config.bar_copy:
            return self._bar_copy(ids, ext, h, logits, state, new), new
        return _log_softmax(logits), new

    def _with_lookback(self, ids, ext, state, x, new) -> np.ndarray:
        """x with the lookback inputs appended, as ``SequenceModel._lookback_inputs`` at T = 1;
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

    def _bar_copy(self, ids, ext, h, logits, state, new) -> np.ndarray:
        """The bar-copy mixture at T = 1 for every lane (``BarCopy.forward``)."""
        if len(ids) == 1 and state["period"][0] > 0:
            return self._bar_copy_one(int(ids[0]), ext, h, logits[0], state, new)
        lp = _log_softmax(logits)
        eps, d, period, pos = self.eps, self.d, state["period"], state["pos"]
        on, per = period > 0, np.maximum(period, 1)
        net = np.exp(lp)
        new.update(copy_pend_e=net, copy_pend_scale=np.ones(len(ids)), copy_pend_on=on)
        if not on.any():  # no bar grid: the plain network (as BarCopy does)
            return lp
        reach = ext.shape[1] - 1
        at = np.maximum(reach + 1 - d[None, :] * per[:, None], 0)  # (N, K): d bars back
        tok = ext[np.arange(len(ids))[:, None], at]
        w, match, streak = state["copy_w"], state["copy_match"], state["copy_streak"]
        pend = state["copy_pend_on"] & on
        if pend.any():  # the previous step's target is ids
            py = state["copy_pend_e"][np.arange(len(ids)), ids] * state["copy_pend_scale"]  # (N,)
            w, match = self._observe(w, match, py, state["copy_pend_tok"], ids, pend)
        bar = pos // per
        start = on & (pos % per == 0)
        if start.any():
            held = match & (d[None, :] < bar[:, None])  # bar - 1 equals bar - 1 - d
            grown = np.where(held, np.minimum(streak + 1, MAX_STREAK), 0)
            streak = np.where(start[:, None], grown, streak)
            w = np.where(start[:, None], np.exp(self._head(h, bar, streak, state["copy_span"])), w)
            match = match | start[:, None]
        coef = w[:, -1] + (w[:, :-1] * eps).sum(axis=1)  # weight of the network
        p = coef[:, None] * net
        copied = w[:, :-1] * (1 - eps)  # (N, 2K), onto the tokens d bars back
        n, vocab = p.shape
        at = (np.arange(n)[:, None] * vocab + np.concatenate([tok, tok], axis=1)).ravel()
        p += np.bincount(at, weights=copied.ravel(), minlength=n * vocab).reshape(n, vocab)
        out = np.where(on[:, None], np.log(np.maximum(p, 1e-30)), lp)
        new.update(copy_w=w, copy_match=match, copy_streak=streak, copy_pend_tok=tok)
        return out.astype(np.float32)

    def _bar_copy_one(self, y: int, ext, h, logits, state, new) -> np.ndarray:
        """:meth:`_bar_copy` for one lane on 1-d arrays (:mod:`.copy_lane`, as
        ``BarCopy._one_step``) with a bar grid: ``logits`` (V,); ``ext`` (1, reach + 1) is the
        history, then ``y``. The network's distribution stays unnormalised (``net * scale``)."""
        period = int(state["period"][0])
        tok = ext[0, self._back(period, ext.shape[1])]  # (K,): the tokens d bars back
        net = np.exp(logits - logits.max())  # (V,)
        scale = 1.0 / float(net.sum())
        new.update(copy_pend_e=net[None], copy_pend_scale=np.array([scale]),
                   copy_pend_tok=tok[None], copy_pend_on=self._true)
        pending = None
        if state["copy_pend_on"][0]:  # the previous step's target is y
            py = float(state["copy_pend_e"][0, y]) * float(state["copy_pend_scale"][0])
            pending = state["copy_pend_tok"][0], y, py
        out, w, match, streak = lane_step(
            state["copy_w"][0], state["copy_match"][0], state["copy_streak"][0], pending, tok, net, scale,
            int(state["pos"][0]), period, self.eps_varied,
            lambda bar, streaks: self._head_one(h, bar, streaks, int(state["copy_span"][0])))
        new.update(copy_w=w[None], copy_match=match[None], copy_streak=streak[None])
        return out[None]

    def _back(self, period: int, width: int) -> np.ndarray:
        """Indices (K,) into a lane's history row of ``width`` tokens (ending with the
        newest) of the tokens 1..K bars back (0 where there is none), kept per bar length."""
        key = period, width
        if key not in self._backs:
            self._backs[key] = np.maximum(width - self.d * period, 0)
        return self._backs[key]

    def _head_one(self, h, bar: int, streak: list[int], span: int) -> list[float]:
        """:meth:`_head` for one lane, as probabilities (a list of 2K + 1)."""
        n = 2 * len(self.d) + 1
        out = (h[0] @ self.head_w).tolist()  # (2K + 1 [+ 2K],)
        row = self.head_rows[span * (MAX_BAR + 1) * (self.span is not None) + min(bar, MAX_BAR)]
        logits = [a + b for a, b in zip(out, row)]
        cont = out[n:] if self.cont_w is not None else None
        return head_weights(logits, cont, self.streak_rows, streak, bar)

    def _head(self, h, bar, streak, span) -> np.ndarray:
        """Log-probabilities (N, 2K + 1) of the copy components at a bar's start; ``span``
        (N,) are the tunes' length classes."""
        k = len(self.d)
        logits = h @ self.copy_w + self.copy_b + self.place[np.minimum(bar, MAX_BAR)]
        if self.span is not None:  # the bar's place in a tune of this length class
            logits = logits + self.span[span * (MAX_BAR + 1) + np.minimum(bar, MAX_BAR)]
        per_c = self.streak_table[np.tile(streak, 2), np.arange(2 * k)[None, :]]  # (N, 2K)
        if self.cont_w is not None:  # the network's word on each repeat under way
            per_c = per_c + (h @ self.cont_w) * np.tile(np.asarray(streak) > 0, 2)
        near = np.tile(self.d[None, :] <= bar[:, None], 2)
        copies = np.where(near, logits[:, :-1] + per_c, NEG)
        return _log_softmax(np.concatenate([copies, logits[:, -1:]], axis=1)).astype(np.float32)

    def _observe(self, w, match, py, tok, y, lanes):
        """Bayes' rule on the component weights ``w`` (N, 2K + 1) once target ``y`` (N,) is
        known; ``py`` (N,) is the network's probability of it."""
        py = np.maximum(py, 1e-30)[:, None]  # (N, 1)
        hit = tok == y[:, None]
        post = w * np.concatenate([(1 - self.eps) * np.tile(hit, 2) + self.eps * py, py], axis=1)
        post /= post.sum(axis=1, keepdims=True)
        return np.where(lanes[:, None], post, w), np.where(lanes[:, None], match & hit, match)
