"""Decoding rules: constraints with state of their own, applied at every step.

A rule has ``start(primer) -> entries`` (numpy arrays with the lane first, one lane) and
``apply(entries, ids, logits) -> (entries, logits)``: it takes the ids just chosen (N,) and
the next logits (N, V) and returns its new entries and the logits with ruled-out ids at
``-inf``. :func:`melodyrnn.core.continuation.continue_ids` runs a grammar of the id language
(:class:`GrammarRule`), any rule of the caller's, and a limit on how often one run of ids
may be played (:class:`PhraseLimit`, which keeps decoders from looping: a phrase may come
back, but not again and again). Ids only, in numpy: the same rules serve the torch and the
numpy model.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GrammarRule", "PhraseLimit", "plays_of_next", "suffix_matches", "extend_matches",
           "next_counts"]


def plays_of_next(tokens: np.ndarray, n: int, vocab: int) -> np.ndarray:
    """How often each id (N, V) has followed the last ``n - 1`` ids of ``tokens`` (N, T)
    before: the number of times the run of ``n`` ids it would complete was played."""
    return next_counts(tokens, suffix_matches(tokens), n, vocab)


def suffix_matches(tokens: np.ndarray) -> np.ndarray:
    """(N, T): at each position ``i``, how many ids ending at ``i`` equal the ids ending at
    the last position (0 at the last position itself), built id by id."""
    tokens = np.asarray(tokens, np.int64)
    grown, match = tokens[:, :0], np.zeros((tokens.shape[0], 0), np.int64)
    for t in range(tokens.shape[1]):
        grown, match = extend_matches(grown, match, tokens[:, t])
    return match


def extend_matches(tokens: np.ndarray, match: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``tokens`` (N, T) with ``ids`` (N,) appended, and its :func:`suffix_matches` from the
    old ones in O(T): a position extends the match of the one before it when its id is the
    new id, else it matches nothing."""
    ids = np.asarray(ids, np.int64)[:, None]
    before = np.concatenate([np.zeros_like(match[:, :1]), match[:, :-1]], axis=1)  # match[i - 1]
    grown = np.where(tokens == ids, before + 1, 0)
    return (np.concatenate([tokens, ids], axis=1),
            np.concatenate([grown, np.zeros_like(ids)], axis=1))


def next_counts(tokens: np.ndarray, match: np.ndarray, n: int, vocab: int) -> np.ndarray:
    """:func:`plays_of_next` from the suffix matches: every earlier place where the last
    ``n - 1`` ids were played counts the id that followed them there."""
    rows = tokens.shape[0]
    if tokens.shape[1] < n:
        return np.zeros((rows, vocab), np.int64)
    hit = match[:, :-1] >= n - 1  # (N, T - 1): the last n - 1 ids end here too
    at = np.arange(rows)[:, None] * vocab + np.maximum(tokens[:, 1:], 0)  # the id that followed
    return np.bincount(at[hit], minlength=rows * vocab).reshape(rows, vocab)


class GrammarRule:
    """A finite-state grammar of the id language as a decoding rule: from state 0 each id
    moves to ``next_state[state, id]`` (S, V); only ids ``allowed[state]`` (S, V) may come
    next."""

    def __init__(self, next_state, allowed) -> None:
        self.next_state = np.asarray(next_state, np.int64)
        self.allowed = np.asarray(allowed, bool)

    def start(self, primer: list[int]) -> dict[str, np.ndarray]:
        fsm = 0
        for i in primer[:-1]:  # the last id moves the state in the first step
            fsm = int(self.next_state[fsm, i])
        return {"fsm": np.array([fsm])}

    def apply(self, e: dict, ids: np.ndarray, logits: np.ndarray) -> tuple[dict, np.ndarray]:
        fsm = self.next_state[e["fsm"], ids]  # (N,)
        return {"fsm": fsm}, np.where(self.allowed[fsm], logits, -np.inf)


class PhraseLimit:
    """No run of ``run`` ids played more than ``plays`` times, primer (after <s>) included:
    the id that would play one once more is ruled out, unless that would rule out every id.
    The ids so far and their suffix matches are its state."""

    def __init__(self, run: int, plays: int) -> None:
        self.run, self.plays = run, plays

    def start(self, primer: list[int]) -> dict[str, np.ndarray]:
        played = np.asarray(primer[1:-1], np.int64).reshape(1, -1)
        return {"played": played, "match": suffix_matches(played)}

    def apply(self, e: dict, ids: np.ndarray, logits: np.ndarray) -> tuple[dict, np.ndarray]:
        played, match = extend_matches(e["played"], e["match"], ids)  # (N, T + 1) each
        over = next_counts(played, match, self.run, logits.shape[-1]) >= self.plays
        limited = np.where(over, -np.inf, logits)
        stuck = np.isneginf(limited).all(axis=-1, keepdims=True)  # nothing left: no limit
        return {"played": played, "match": match}, np.where(stuck, logits, limited)
