"""Voice-leading rules for decoding voice frames: no parallel fifths or octaves between the
outer voices.

:class:`NoOuterParallels` is a ``rule`` for :func:`melodyrnn.core.continuation.continue_ids`:
when the bass token of a frame is chosen, every ``ON_p`` that would move the bass in the
same direction as the top voice from a perfect fifth (or octave, or unison) to the same
interval is ruled out -- the classic fault that ``music.voice_leading`` counts as
``parallels``. Holding, resting and every other pitch stay open, so a frame is never stuck.
"""

from __future__ import annotations

import numpy as np

from melodyrnn.core.vocab import BOS
from melodyrnn.music.encodings.chorale import HOLD, ON0, ChoraleEncoding

__all__ = ["NoOuterParallels", "PERFECT"]

PERFECT = (0, 7)  # pitch-class intervals of unisons/octaves and fifths


def _sounding(ids: np.ndarray, before: np.ndarray, low: int) -> np.ndarray:
    """The pitch a voice sounds after token ``ids``: ON_p -> p, HOLD -> as before, else
    (REST) -1."""
    pitch = np.where(ids >= ON0, ids - ON0 + low, -1)
    return np.where(ids == HOLD, before, pitch)


class NoOuterParallels:
    """Rule out parallel perfect fifths and octaves between the top voice and the bass.

    State entries (one value per lane): the token's ``slot`` in its frame, and the pitch the
    top voice and the bass sound now and sounded a frame ago (-1: resting).
    """

    def __init__(self, enc: ChoraleEncoding) -> None:
        c = enc.config
        self.frame, self.bass, self.low = enc.frame, c.voices - 1, c.min_pitch
        self.pitches = np.arange(c.min_pitch, c.max_pitch + 1)  # (P,): ON0 + i is ON_{low + i}
        self.active = c.voices >= 2  # one voice has no outer voices

    def start(self, primer: list[int]) -> dict[str, np.ndarray]:
        """The state after ``primer`` (<s>, then whole frames and the last id)."""
        entries = {k: np.full(1, -1, np.int64) for k in ("top", "top_before", "bass")}
        entries["slot"] = np.zeros(1, np.int64)  # the slot of the next id
        for i in primer[1:-1]:
            entries = self._update(entries, np.array([i]))
        return entries

    def _update(self, e: dict, ids: np.ndarray) -> dict:
        """The state after ``ids`` (N,) took their slot (``<s>`` takes none). Every lane
        takes one id a step, so all lanes are at the same slot: lane 0 tells it."""
        if bool((ids == BOS).all()):
            return e
        slot = int(e["slot"][0])
        e = {**e, "slot": (e["slot"] + 1) % self.frame}
        if slot == 0:
            e["top_before"], e["top"] = e["top"], _sounding(ids, e["top"], self.low)
        elif slot == self.bass:
            e["bass"] = _sounding(ids, e["bass"], self.low)
        return e

    def apply(self, e: dict, ids: np.ndarray, logits: np.ndarray) -> tuple[dict, np.ndarray]:
        """Take the ids just chosen; mask the bass pitches that would make a parallel."""
        e = self._update(e, ids)
        if not self.active or int(e["slot"][0]) != self.bass:  # only the bass token is ruled
            return e, logits
        t0, t1, b0 = e["top_before"][:, None], e["top"][:, None], e["bass"][:, None]  # (N, 1)
        p = self.pitches[None, :]  # (1, P) candidate bass pitches
        before = (t0 - b0) % 12
        parallel = ((t0 >= 0) & (t1 >= 0) & (b0 >= 0)
                    & (t1 != t0) & (p != b0) & (np.sign(t1 - t0) == np.sign(p - b0))
                    & ((before == PERFECT[0]) | (before == PERFECT[1])) & ((t1 - p) % 12 == before))
        on = slice(ON0, ON0 + p.shape[1])  # the ON ids, contiguous, by pitch
        masked = logits.copy()
        masked[:, on] = np.where(parallel, -np.inf, logits[:, on])  # (N, P)
        return e, masked

