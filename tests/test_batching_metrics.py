import math

import numpy as np
import pytest
import torch

from melodyrnn.core.batching import IGNORE, make_batch, plan_epoch
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.metrics import MetricSums


def split_of(seqs, bars=None):
    lengths = [len(s) for s in seqs]
    return SplitArrays(np.concatenate(seqs).astype(np.uint16),
                       np.concatenate(([0], np.cumsum(lengths))),
                       np.array([3] * len(seqs)), np.array(bars or [0] * len(seqs)),
                       np.arange(len(seqs)))


def test_plan_by_hand():
    # lengths 9, 4, 6 -> predictions 8, 3, 5 -> windows of 4: 2, 1, 2
    plan = plan_epoch(np.array([9, 4, 6]), np.array([0, 1, 2]), batch=2, seq_len=4)
    assert plan.seq.tolist() == [[0, 1], [0, 2], [-1, 2]]
    assert plan.window.tolist() == [[0, 0], [1, 0], [0, 1]]


def test_every_prediction_is_made_once_with_resets_at_starts():
    rng = np.random.default_rng(0)
    seqs = [np.concatenate(([1], rng.integers(3, 9, n), [2])) for n in rng.integers(1, 30, 17)]
    split = split_of(seqs, bars=[4] * 17)
    order = rng.permutation(17)
    plan = plan_epoch(split.lengths, order, batch=3, seq_len=5)
    seen = {i: [] for i in range(17)}
    current = [None] * 3
    for step in range(plan.steps):
        b = make_batch(split, plan, step, 5)
        for lane in range(3):
            s = b.seq[lane]
            if s < 0:
                assert (b.targets[lane] == IGNORE).all()
                continue
            assert b.resets[lane] == (current[lane] != s)
            current[lane] = s
            real = b.targets[lane] != IGNORE
            seen[s] += list(zip(b.inputs[lane][real], b.targets[lane][real]))
            assert b.periods[lane] == 4
    for i, seq in enumerate(seqs):
        assert seen[i] == list(zip(seq[:-1], seq[1:]))


def test_metrics_by_hand():
    # vocabulary of 4, uniform predictions: ln 4 nats per token
    logits = torch.zeros(1, 5, 4)
    targets = torch.tensor([[3, 3, 1, 2, IGNORE]])
    sums = MetricSums(filler_ids=(3,))
    sums.add(logits, targets)
    sums.units, sums.sequences = 2, 1
    r = sums.result()
    assert r["tokens"] == 4
    assert math.isclose(r["nats_per_event"], math.log(4), rel_tol=1e-6)
    assert math.isclose(r["bits_per_note"], 4 * 2 / 2, rel_tol=1e-6)  # 4 tokens x 2 bits over 2 notes
    assert math.isclose(r["perplexity"], 4.0, rel_tol=1e-6)
    # argmax of uniform logits is id 0: never right
    assert r["accuracy"] == 0 and r["event_accuracy"] == 0
    confident = torch.full((1, 5, 4), -10.0)
    confident[0, torch.arange(5), torch.tensor([3, 3, 1, 0, 0])] = 10.0
    s2 = MetricSums(filler_ids=(3,))
    s2.add(confident, targets)
    r2 = s2.result()
    assert r2["accuracy"] == 3 / 4  # three of four right
    assert r2["event_accuracy"] == 1 / 2  # of the non-filler targets (1, 2) one is right


def test_group_split_adds_up_and_by_hand():
    import math

    from melodyrnn.core.metrics import MetricSums

    # vocabulary of 4: ids 2 and 3 share a group ("pitch"), 0 and 1 are alone
    probs = torch.tensor([[[0.1, 0.3, 0.2, 0.4], [0.1, 0.3, 0.2, 0.4]]])
    logits = probs.log()
    targets = torch.tensor([[3, 1]])
    sums = MetricSums(groups=(0, 1, 2, 2))
    sums.units = 1
    sums.add(logits, targets)
    r = sums.result()
    # target 3: p(group) = 0.6, p(3 | group) = 0.4 / 0.6; target 1: p = 0.3, alone
    assert r["bits_per_note_within"] == pytest.approx(-math.log2(0.4 / 0.6), rel=1e-5)
    assert r["bits_per_note_groups"] == pytest.approx(-math.log2(0.6) - math.log2(0.3), rel=1e-5)
    assert r["bits_per_note_groups"] + r["bits_per_note_within"] == pytest.approx(r["bits_per_note"])


def test_evaluate_splits_rhythm_and_pitch(tiny_run, tiny_dataset):
    from melodyrnn.core.tasks import evaluate

    r = evaluate(str(tiny_run), [str(tiny_dataset)], split="test")
    assert r["rhythm_bits_per_note"] > 0 and r["pitch_bits_per_note"] > 0
    assert r["rhythm_bits_per_note"] + r["pitch_bits_per_note"] == pytest.approx(r["bits_per_note"])
