"""The section plan (``form.plan``): the network reads the bar's place in a tune of its length
class. Its input by hand, a zero plan is the plan-less model, the plan reaches only its own
class and bars, windows agree with single steps, fine-tuning adds only the plan, and the
form head's bar table runs each tune in its own class."""

import numpy as np
import pytest
import torch

from melodyrnn.core.batching import sequence_bars
from melodyrnn.core.checkpoint import load_checkpoint
from melodyrnn.core.form_bars import collect_bars
from melodyrnn.core.models import ModelConfig, SequenceModel, form
from melodyrnn.core.models.config import FormConfig
from melodyrnn.core.models.form import MAX_BAR, SPANS, span_of
from tests.form_models import tunes


def plan_model(plan: bool = True, seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)
    m = SequenceModel(ModelConfig(vocab_size=12, hidden=24, embedding=8, layers=1, lookback=True,
                                  lookback_bars=(1, 2), max_period=8,
                                  form=FormConfig(3, length=True, plan=plan))).eval()
    with torch.no_grad():
        for p in m.bar_copy.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return m


def test_config_rules():
    with pytest.raises(ValueError, match="form.plan needs form.length"):
        FormConfig(3, plan=True)
    added = FormConfig(3, length=True, plan=True).new_weights(FormConfig(3, length=True))
    assert added == ("bar_copy.plan.",)


def test_plan_input_by_hand():
    """Row class * 64 + bar of the table, bar = pos // period capped at MAX_BAR; zeros without a grid."""
    table = np.arange(SPANS * (MAX_BAR + 1) * 2, dtype=np.float32).reshape(-1, 2)
    span, pos, period = np.array([2, 0, 4, 1]), np.array([9, 3, 1000, 5]), np.array([4, 4, 4, 0])
    got = form.plan_input(table, span, pos, period)
    rows = [2 * 64 + 2, 0 * 64 + 0, 4 * 64 + 63]  # bar 9 // 4 = 2; bar 0; bar 250 -> 63
    np.testing.assert_array_equal(got[:3], table[rows])
    np.testing.assert_array_equal(got[3], [0, 0])
    torch_got = form.plan_input(torch.from_numpy(table), *(torch.from_numpy(a) for a in (span, pos, period)))
    np.testing.assert_array_equal(torch_got.numpy(), got)


def test_a_zero_plan_is_the_model_without_one():
    m = plan_model()
    blind = plan_model(plan=False)
    blind.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("bar_copy.plan")})
    with torch.no_grad():
        m.bar_copy.plan.weight.zero_()
        ids = torch.randint(1, 12, (2, 30), generator=torch.Generator().manual_seed(1))
        state = dict(periods=torch.tensor([4, 4]), bars=torch.tensor([10, 40]))
        a, _ = m(ids, m.initial_state(2, **state))
        b, _ = blind(ids, blind.initial_state(2, **state))
    assert torch.equal(a, b)


def test_the_plan_reaches_its_own_class_and_bars_only():
    """A row set for class 3, bar 2 moves the outputs of a class-3 lane from the first input
    of bar 2 (index 8 with bars of 4) on, and nothing of a class-0 lane."""
    m = plan_model()
    ids = torch.randint(1, 12, (1, 24), generator=torch.Generator().manual_seed(2)).repeat(2, 1)
    state = m.initial_state(2, torch.tensor([4, 4]), classes=torch.tensor([3, 0]))
    with torch.no_grad():
        before, _ = m(ids, state)
        m.bar_copy.plan.weight[3 * (MAX_BAR + 1) + 2] += 5.0
        after, _ = m(ids, state)
    moved = (before - after).abs().amax(dim=-1)  # (2, T)
    assert moved[0, :8].max() == 0 and moved[0, 8:].min() > 0
    assert moved[1].max() == 0


def test_one_token_at_a_time_matches_a_whole_window():
    m = plan_model()
    ids = torch.randint(1, 12, (1, 30), generator=torch.Generator().manual_seed(3))
    start = dict(periods=torch.tensor([4]), bars=torch.tensor([33]))
    with torch.no_grad():
        full, _ = m(ids, m.initial_state(1, **start))
        state, parts = m.initial_state(1, **start), []
        for t in range(ids.shape[1]):
            out, state = m(ids[:, t:t + 1], state)
            parts.append(out)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_the_bar_table_runs_each_tune_in_its_own_class():
    """collect_bars' network outputs are those of the tune read in its own length class."""
    m = plan_model()
    split = tunes(n=3, bars=20)
    table = collect_bars(m, split, counterfactual=(8, 12))  # counterfactual rows from the carried state
    assert len(table.c_row) == 3 * 4
    ids = split.sequence(0).astype(np.int64)
    per = int(split.bar_steps[0])
    bars = torch.from_numpy(sequence_bars([len(ids)], [per]))
    assert int(span_of(bars)[0]) == 1  # 20 bars: class 16-23, not the default 0
    with torch.no_grad():
        start = m.initial_state(1, torch.tensor([per]), bars=bars)
        h, _ = m.features(torch.from_numpy(ids[None, :-1]), start)
    rows = np.flatnonzero(table.sequence == 0)
    np.testing.assert_allclose(table.h[rows], h[0, table.bar[rows] * per].numpy(), atol=1e-5)


def test_section_plan_added_to_a_length_checkpoint(tiny_dataset, tiny_run, tmp_path):
    """--section-plan on a form-head checkpoint adds only the plan table; the network stays."""
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig

    fast = TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=1, warmup_steps=2, weight_decay=0.0,
                       train_only="bar_copy")
    train(tiny_dataset, tmp_path / "a", {"bar_copy": 4, "copy_length": True}, fast, init_from=str(tiny_run),
          progress=False)
    base = load_checkpoint(tmp_path / "a" / "best.pt")
    train(tiny_dataset, tmp_path / "b", {"form": {"plan": True}}, fast,
          init_from=str(tmp_path / "a" / "best.pt"), progress=False)
    tuned = load_checkpoint(tmp_path / "b" / "best.pt")
    assert tuned["model_config"]["form"] == {"bars": 4, "cont": False, "length": True, "plan": True}
    assert set(tuned["model_state"]) - set(base["model_state"]) == {"bar_copy.plan.weight"}
    assert float(tuned["model_state"]["bar_copy.plan.weight"].abs().max()) > 0  # it learnt
    for key, value in base["model_state"].items():
        if not key.startswith("bar_copy."):
            assert torch.equal(tuned["model_state"][key], value), key
