"""What the torch model and its numpy decoder share, in plain numpy: the input layout
(sizes, the position-in-bar table), the history the state keeps, and which state entries
are laid out by layer. :mod:`.network` builds on it; :mod:`.numpy_net` too, without torch.
"""

from __future__ import annotations

import math

import numpy as np

from melodyrnn.core.models.config import ModelConfig

__all__ = ["PAD", "POSITION_BITS", "FORM_BITS", "LAYER_MAJOR", "lane_dim", "input_size",
           "history_length", "position_table"]

PAD = 0
POSITION_BITS = 7
FORM_BITS = 5  # bar index in the tune, bits 0-4: its place in 2-, 4-, 8-, 16- and 32-bar blocks

#: state entries laid out (layers, batch, hidden) like the recurrent cores' own; every other
#: entry (lookback history, attention memory, bar-copy head...) has its lanes on dim 0
LAYER_MAJOR = ("h", "c")


def lane_dim(key: str) -> int:
    """The dimension that indexes lanes (batch rows) in state entry ``key``."""
    return 1 if key in LAYER_MAJOR else 0


def input_size(config: ModelConfig) -> int:
    """Width of the recurrent core's input: the token's embedding, with lookback the
    embeddings of the tokens ``lookback_bars`` back, their repeat flags and the position in
    the bar, and with ``bar_index`` the bar's index bits."""
    k = len(config.lookback_bars) * config.lookback
    return (config.embedding * (1 + k) + (k + 2 + POSITION_BITS) * config.lookback
            + FORM_BITS * config.bar_index)


def history_length(config: ModelConfig) -> int:
    """Tokens of history a lookback model's state keeps: as far back as lookback or bar copy
    reach in the longest bar."""
    return max(*config.lookback_bars, config.form.bars) * config.max_period


def position_table(max_period: int) -> np.ndarray:
    """Position-in-bar features (P + 1, P, 2 + BITS) by [bar length, phase]: sine and cosine
    of the bar's angle, then the phase's bits; bar length 0 (unknown) gives zeros."""
    per = np.arange(max_period + 1)[:, None]  # (P + 1, 1)
    phase = np.arange(max(max_period, 1))[None, :]  # (1, P)
    angle = (2 * math.pi) * phase / np.maximum(per, 1)
    bits = (phase[..., None] >> np.arange(POSITION_BITS)) & 1  # (1, P, BITS)
    table = np.concatenate([np.sin(angle)[..., None], np.cos(angle)[..., None],
                            np.broadcast_to(bits, (max_period + 1, *bits.shape[1:]))], axis=-1)
    return (table * ((per > 0) & (phase < per))[..., None]).astype(np.float32)
