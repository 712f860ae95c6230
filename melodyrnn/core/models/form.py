"""The form head's arithmetic, written once for torch (training) and numpy (decoding).

At the first token of every bar (sequences with a bar length, ``period`` tokens) the head
reads the network's output and says how likely the coming bar is an exact repeat of the bar
``d`` bars back (``d = 1..K``), a varied repeat of it, or a new bar. The next-token
distribution is the mixture

    p(y) = w_new * p_net(y) + sum_c w_c * ((1 - eps_c) * [y == copy_c] + eps_c * p_net(y))

over copy components ``c`` (exact: ``eps_c = 0``; varied: a learned ``eps``), where
``copy_c`` is the token at the same place ``d`` bars back and the weights ``w`` start at the
head's probabilities and follow Bayes' rule token by token through the bar (an exact copy
that misses a token is out; a varied one keeps ``eps``). Over a bar this is exactly the
mixture of "the bar d bars back, as it was or varied" and "a new bar from the network", so
its likelihood is an honest code length and sampling it token by token samples the mixture.

The head's logits add, per component: the projection of the network's output, the bar's
place in the tune (and, with ``length``, in a tune of its length class), the streak table's
entry for how many bars in a row the tune has already repeated the bars ``d`` back, and
(with ``cont``) the network's word on each repeat under way. The length class is not known
when decoding: :func:`length_posterior` infers it from the primer.

Every function takes arrays of one library, numpy or torch (``xp``: the functions used are
those the two name and define alike, numpy >= 2.1's array-API spellings): the torch
module :class:`~melodyrnn.core.models.barcopy.BarCopy` and
:class:`~melodyrnn.core.models.numpy_net.NumpyModel` both run :func:`step`, so the two
decode the same mixture by construction. Components, in order: exact copies of 1..K bars
back, varied copies of 1..K bars back, new. Ids only: no notes, no files.
"""

from __future__ import annotations

from collections.abc import Mapping

import sys

import numpy as np

__all__ = ["MAX_BAR", "MAX_STREAK", "NEG", "SPAN_EDGES", "SPANS", "span_of", "spans_reaching",
           "length_log_prior", "length_posterior", "length_nats", "length_classes", "initial", "plan_input",
           "span_row", "head_logits",
           "bar_start_streaks",
           "observe", "mixture", "step", "copy_likelihood"]

MAX_BAR = 63  # bar indices beyond this share one entry
MAX_STREAK = 4  # bars in a row already repeated at one distance, capped
NEG = -1e9  # logit of an unavailable copy (no bar that far back yet)
SPAN_EDGES = (16, 24, 32, 40)  # tune lengths in bars that part the length classes
SPANS = len(SPAN_EDGES) + 1  # length classes: under 16 bars, 16-23, 24-31, 32-39, 40 or more
TINY = 1e-30  # floor of a probability before its log (float32 probabilities underflow)


# -- the tune's length class: prior, two-part code, posterior (numpy) ----------------------
def span_of(bars) -> np.ndarray:
    """The length class (0..SPANS - 1) of tunes ``bars`` bars long."""
    return np.searchsorted(SPAN_EDGES, np.asarray(bars), side="right")


def spans_reaching(bars: int) -> np.ndarray:
    """Which length classes (SPANS,) hold tunes of at least ``bars`` bars."""
    top = np.r_[np.asarray(SPAN_EDGES) - 1, np.iinfo(np.int64).max]  # longest tune of each class
    return top >= bars


def length_log_prior(bars) -> np.ndarray:
    """The length classes' log-prior (SPANS,) from the lengths (bars) of the training tunes,
    add-one smoothed. A tune scored in its class pays ``-prior[class]`` nats for it (the
    first part of a two-part code)."""
    counts = np.bincount(span_of(bars), minlength=SPANS) + 1.0
    return np.log(counts / counts.sum())


def length_posterior(log_prior: np.ndarray, primer_nats: np.ndarray, possible: np.ndarray) -> np.ndarray:
    """Log-posterior (SPANS,) of the length classes: prior times the primer's likelihood
    (``primer_nats``: its ``-ln p`` in each class), over the ``possible`` classes only."""
    x = np.where(possible, log_prior - primer_nats, -np.inf)
    top = x.max()
    return x - top - np.log(np.exp(x - top).sum())


def length_nats(log_prior: np.ndarray | None, bars) -> np.ndarray:
    """``-ln p`` (float64) of the length classes of tunes ``bars`` bars long under a head's
    ``log_prior`` (None, a head that does not read the length: 0 nats)."""
    bars = np.asarray(bars)
    return np.zeros(bars.shape) if log_prior is None else -np.asarray(log_prior, np.float64)[span_of(bars)]


def length_classes(log_post: np.ndarray, n: int, seed: int, best: bool) -> np.ndarray:
    """Length classes (n,) for ``n`` outputs from the log-posterior (SPANS,): drawn, output
    ``k`` with its own generator, or (``best``) the most probable for all."""
    if best:
        return np.full(n, int(np.argmax(log_post)))
    cdf = np.exp(log_post).cumsum()
    draws = [np.random.default_rng(np.random.SeedSequence([seed, k, SPANS])).random() for k in range(n)]
    return np.minimum(np.searchsorted(cdf, np.asarray(draws) * cdf[-1], side="right"), len(cdf) - 1)


# -- the head and the mixture (numpy or torch) -------------------------------------------
def array_namespace(x):
    """numpy for a numpy array, else torch (already imported by whoever made the tensor)."""
    return np if isinstance(x, np.ndarray) else sys.modules["torch"]


def initial(xp, batch: int, k: int, vocab: int, span=None, device=None) -> dict:
    """The head's state entries for ``batch`` lanes (all lanes first): component weights
    (probabilities, all on "new"), whether the bar so far equals the one d bars back, repeat
    streaks, the previous step's network distribution and copied tokens (its target comes
    with the next step), whether it applies, and the tune's length class (``span``, (batch,);
    default 0)."""
    w = xp.zeros((batch, 2 * k + 1), device=device)
    w[:, -1] = 1.0
    long = xp.int64
    span = xp.zeros(batch, dtype=long, device=device) if span is None else xp.asarray(span, dtype=long,
                                                                                        device=device)
    return {"copy_w": w, "copy_span": span,
            "copy_match": xp.zeros((batch, k), dtype=xp.bool, device=device),
            "copy_streak": xp.zeros((batch, k), dtype=long, device=device),
            "copy_pend_p": xp.zeros((batch, vocab), dtype=xp.float32, device=device),
            "copy_pend_tok": xp.zeros((batch, k), dtype=long, device=device),
            "copy_pend_on": xp.zeros(batch, dtype=xp.bool, device=device)}


def plan_input(table, span, pos, period):
    """The section plan's input to the network (..., E): the row of ``table``
    (SPANS * (MAX_BAR + 1), E) for the bar's place in a tune of length class ``span``, for the
    tokens at sequence indices ``pos`` (the indices :func:`step` reads, any shape that ``span``
    and ``period`` broadcast to) in bars ``period`` tokens long; zeros where there is no bar grid.

    The plan is the tune's length class with the bar's index, so that the network knows
    where its sections begin and end: bar 17 of a 32-bar reel starts the B part, bar 24 of a
    24-bar tune closes it on the tonic. Decoding draws the class from the primer
    (:func:`length_posterior`), so the plan of a continuation is sampled given its primer."""
    return table[span_row(span, pos // _at_least(period, 1))] * (period > 0)[..., None]


def span_row(span, bar):
    """The row of a [length class, bar] table (``span.weight``, the plan's) for tunes of
    length class ``span`` at bars ``bar`` (bars from MAX_BAR on share one row)."""
    return span * (MAX_BAR + 1) + array_namespace(bar).clip(bar, max=MAX_BAR)


def _at_least(x, floor: float):
    """``x`` floored at ``floor``: numpy's ufunc (np.clip costs several times more per
    call) or torch's clamp, the one spelling the two libraries do not share."""
    return np.maximum(x, floor) if isinstance(x, np.ndarray) else x.clamp(min=floor)


def _add_at(p, tok, mass):
    """``p`` (N, V) plus ``mass`` (N, K) added at the columns ``tok`` (N, K) of each row
    (repeated columns add up): numpy's bincount or torch's scatter_add, the other spelling
    the two libraries do not share."""
    if not isinstance(p, np.ndarray):
        return p.scatter_add(1, tok, mass.to(p.dtype))
    n, vocab = p.shape
    at = (np.arange(n)[:, None] * vocab + tok).ravel()
    return p + np.bincount(at, weights=mass.ravel(), minlength=n * vocab).reshape(n, vocab)


def _twice(xp, x):
    """(N, K) -> (N, 2K): one entry per exact and per varied component."""
    return xp.concat([x, x], axis=1)


def _softmax(xp, x):
    e = xp.exp(x - xp.amax(x, axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def head_logits(weights: Mapping, h, bar, streak, span=None):
    """The component logits (N, 2K + 1) at a bar's start (copies of bars before the
    tune's start at :data:`NEG`); their softmax is the component weights.

    Parameters
    ----------
    weights : mapping
        The head's weights by their names in a checkpoint, less the ``bar_copy.`` prefix:
        ``proj.weight`` (2K + 1, H), ``proj.bias``, ``place.weight`` (MAX_BAR + 1, 2K + 1),
        ``streak`` (MAX_STREAK + 1, 2K), and optionally ``cont.weight`` (2K, H) and
        ``span.weight`` (SPANS * (MAX_BAR + 1), 2K + 1).
    h : (N, H)
        The network's output before the bar's first token.
    bar : (N,) int
        The bar's index in the tune (0-based).
    streak : (N, K) int
        Bars in a row already repeated at each distance (:func:`bar_start_streaks`).
    span : (N,) int, optional
        The tune's length class (read by a head with ``span.weight``).
    """
    xp = array_namespace(h)
    k = streak.shape[1]
    place = xp.clip(bar, max=MAX_BAR)
    logits = h @ weights["proj.weight"].mT + weights["proj.bias"] + weights["place.weight"][place]
    if "span.weight" in weights and span is not None:  # the bar's place in a tune of this length class
        logits = logits + weights["span.weight"][span_row(span, bar)]
    s2 = _twice(xp, streak)  # (N, 2K)
    per_c = weights["streak"][s2, xp.arange(2 * k, device=s2.device)[None, :]]  # table[streak_d, c]
    if "cont.weight" in weights:  # the network's word on each repeat under way
        per_c = per_c + (h @ weights["cont.weight"].mT) * (s2 > 0)
    d = xp.arange(1, k + 1, device=bar.device)
    near = _twice(xp, d[None, :] <= bar[:, None])  # a bar lies d bars back
    copies = xp.where(near, logits[:, :-1] + per_c, NEG)
    return xp.concat([copies, logits[:, -1:]], axis=1)


def bar_start_streaks(match, streak, bar):
    """Repeat streaks (N, K) at the start of bars ``bar`` (N,): one more where the bar just
    ended equals the one d bars before it (``match``), else 0."""
    xp = array_namespace(streak)
    d = xp.arange(1, streak.shape[1] + 1, device=streak.device)
    held = match & (d[None, :] < bar[:, None])  # bar - 1 equals bar - 1 - d
    return xp.where(held, xp.clip(streak + 1, max=MAX_STREAK), xp.zeros_like(streak))


def copy_likelihood(hit, q, eps):
    """A varied copy's chance of a token, ``(1 - eps) [y == copy] + eps q``: ``hit`` where
    the token is the copy's, ``q`` the network's probability of it (an exact copy: eps 0)."""
    return (1 - eps) * hit + eps * q


def observe(w, match, py, tok, y, eps_varied):
    """Bayes' rule on the component weights ``w`` (N, 2K + 1) once the targets ``y`` (N,)
    are known: ``py`` (N,) is the network's probability of each, ``tok`` (N, K) the tokens
    the copies predicted. An exact copy that misses is out; a varied one keeps ``eps``.
    Returns the new weights and ``match`` (N, K): which bars so far equal the one d back."""
    xp = array_namespace(w)
    py = _at_least(py, TINY)[:, None]  # (N, 1)
    hit = tok == y[:, None]  # (N, K)
    post = w * xp.concat([hit * 1.0, copy_likelihood(hit, py, eps_varied), py], axis=1)
    return post / _at_least(post.sum(axis=1, keepdims=True), TINY), match & hit


def mixture(net, w, tok, eps_varied):
    """The mixture's probabilities (N, V): the network's ``net`` (N, V) weighted by the new
    and varied components, plus each copy's mass on its token ``tok`` (N, K)."""
    k = tok.shape[1]
    coef = w[:, -1] + eps_varied * w[:, k:2 * k].sum(axis=1)  # (N,): the network's share
    mass = w[:, :k] + (1 - eps_varied) * w[:, k:2 * k]  # (N, K): onto the tokens d bars back
    return _add_at(coef[:, None] * net, tok, mass)


def step(weights: Mapping, eps_varied, state: dict, y, h, net, ext, pos, period) -> tuple:
    """One token of every lane: the mixture's log-probabilities (N, V) of the token after
    ``y`` (N,) and the head's new state entries.

    ``state`` holds :func:`initial`'s entries; ``h`` (N, H) and ``net`` (N, V) are the
    network's output and distribution after ``y``; ``ext`` (N, R + 1) the token history
    ending with ``y``; ``pos`` (N,) the index of the token predicted in its sequence and
    ``period`` (N,) the bar length in tokens (0: no bar grid, the plain network). In order:
    Bayes' rule with the previous step's target ``y``; at a bar's first token the streaks and
    fresh weights from the head; the mixture.
    """
    xp = array_namespace(net)
    n, reach, k = ext.shape[0], ext.shape[1] - 1, state["copy_match"].shape[1]
    on = period > 0
    new = dict(state, copy_pend_p=net, copy_pend_on=on)
    if not bool(on.any()):  # no bar grid: the plain network
        return xp.log(_at_least(net, TINY)), new
    per = _at_least(period, 1)
    d = xp.arange(1, k + 1, device=ext.device)
    lanes = xp.arange(n, device=ext.device)[:, None]
    tok = ext[lanes, _at_least(reach + 1 - d[None, :] * per[:, None], 0)]  # (N, K): d bars back
    w, match, streak = state["copy_w"], state["copy_match"], state["copy_streak"]
    pend = state["copy_pend_on"] & on
    if bool(pend.any()):  # the previous step's target is y
        py = state["copy_pend_p"][lanes[:, 0], y]
        seen, seen_match = observe(w, match, py, state["copy_pend_tok"], y, eps_varied)
        w = xp.where(pend[:, None], seen, w)
        match = xp.where(pend[:, None], seen_match, match)
    bar = pos // per
    start = on & (pos % per == 0)
    if bool(start.any()):
        streak = xp.where(start[:, None], bar_start_streaks(match, streak, bar), streak)
        fresh = _softmax(xp, head_logits(weights, h, bar, streak, state["copy_span"]))
        w = xp.where(start[:, None], fresh, w)
        match = match | start[:, None]
    p = mixture(net, w, tok, eps_varied)
    out = xp.log(_at_least(xp.where(on[:, None], p, net), TINY))
    new.update(copy_w=w, copy_match=match, copy_streak=streak, copy_pend_tok=tok)
    return out, new
