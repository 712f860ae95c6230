"""Score a model on a split: every sequence, whole, state carried across windows."""

from __future__ import annotations

import numpy as np
import torch

from melodyrnn.core.batching import IGNORE, make_batch, plan_epoch, sequence_bars
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.metrics import MetricSums
from melodyrnn.core.models import SequenceModel
from melodyrnn.core.models.form import length_nats

__all__ = ["score_split"]


@torch.no_grad()
def score_split(model: SequenceModel, split: SplitArrays, *, batch_size: int = 64,
                seq_len: int = 256, filler_ids: tuple[int, ...] = (), device="cpu",
                sequences: np.ndarray | None = None, groups: tuple[int, ...] | None = None
                ) -> tuple[MetricSums, np.ndarray]:
    """Metric sums over ``sequences`` (default: all) and the nats of each sequence;
    ``groups`` (a group number per id) adds the split of the nats by group (see
    :mod:`melodyrnn.core.metrics`). A model whose form head reads the tune's length
    (``form.length``) is told each tune's length class, and pays for it: the class's code
    length under the model's prior is added to the tune's nats (a two-part code, in the
    part outside the groups), so the total stays an honest code length.

    Returns
    -------
    sums : MetricSums
    nats : ndarray of float64, (n_sequences,)
        Total ``-ln p`` of each sequence of the split (0 for those not scored).
    """
    was_training = model.training
    model.eval()
    order = np.arange(split.n_sequences) if sequences is None else np.asarray(sequences)
    plan = plan_epoch(split.lengths, order, batch_size, seq_len)
    sums = MetricSums(filler_ids, groups=groups)
    sums.units, sums.sequences = int(split.units[order].sum()), len(order)
    per_seq = torch.zeros(split.n_sequences, dtype=torch.float64)
    state = model.initial_state(batch_size, device=device)
    for step in range(plan.steps):
        b = make_batch(split, plan, step, seq_len)
        inputs = torch.from_numpy(b.inputs).to(device)
        targets = torch.from_numpy(b.targets).to(device)
        state = model.reset(state, torch.from_numpy(b.resets).to(device),
                            torch.from_numpy(b.periods).to(device), torch.from_numpy(b.bars).to(device))
        logits, state = model(inputs, state)
        nll = sums.add(logits, targets, IGNORE)  # (B, T)
        lanes = torch.from_numpy(np.maximum(b.seq, 0))
        active = torch.from_numpy(b.seq >= 0)
        per_seq.index_add_(0, lanes[active], nll.sum(dim=1).double().cpu()[active])
    model.train(was_training)
    length = length_nats(model.length_prior(), sequence_bars(split.lengths[order], split.bar_steps[order]))
    sums.nats += float(length.sum())
    per_seq[torch.from_numpy(order)] += torch.from_numpy(length)
    return sums, per_seq.numpy()
