"""A small model with the form head and tunes of repeating bars, shared by the tests of the
form head's fit (``test_form_fit``), its fit in its own contexts (``test_form_policy``) and its
new-bar bias (``test_form_bias``)."""

import numpy as np
import torch

from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.models import ModelConfig, SequenceModel
from melodyrnn.core.models.config import FormConfig

PER = 4


def model(seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)
    m = SequenceModel(ModelConfig(vocab_size=12, hidden=24, embedding=8, layers=1, lookback=True,
                                  lookback_bars=(1, 2), max_period=8, form=FormConfig(4, length=True))).eval()
    with torch.no_grad():
        for p in m.bar_copy.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return m


def tunes(n: int = 6, bars: int = 10, seed: int = 0) -> SplitArrays:
    """Tunes of ``bars`` bars of PER tokens from few motifs, so some bars repeat exactly."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n):
        motifs = rng.integers(3, 12, (3, PER))
        body = np.concatenate([motifs[rng.integers(3)] if rng.random() < 0.6 else rng.integers(3, 12, PER)
                               for _ in range(bars)])
        seqs.append(np.r_[1, body, 2])
    return SplitArrays.from_sequences(seqs, [bars * 2] * n, np.arange(n), [PER] * n)
