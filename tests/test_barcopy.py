"""Bar copy: the form head's mixture is a distribution, carries over windows and steps, copies
whole bars by hand, and is trained on a frozen network by fine-tuning."""

from dataclasses import asdict

import pytest
import torch

from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint
from melodyrnn.core.models import ModelConfig, SequenceModel, form
from melodyrnn.core.models.config import FormConfig


def copy_model(bars: int = 4, seed: int = 0, cont: bool = False) -> SequenceModel:
    torch.manual_seed(seed)
    m = SequenceModel(ModelConfig(vocab_size=20, hidden=32, embedding=16, layers=1, lookback=True,
                                  lookback_bars=(1, 2), max_period=8,
                                  form=FormConfig(bars, cont=cont))).eval()
    with torch.no_grad():  # a head that is not at its initial (near "new") weights
        for p in m.bar_copy.parameters():
            p.add_(torch.randn_like(p))
    return m


def some_ids(batch: int = 3, steps: int = 40) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 20, (batch, steps), generator=g)
    ids[:, 0] = 1
    ids[0, 5:9] = ids[0, 1:5]  # lane 0 (bars of 4): bar 1 repeats bar 0
    return ids


PERIODS = torch.tensor([4, 0, 3])  # lane 1 has no bars


def test_mixture_is_a_distribution_and_carries_over_windows_and_steps():
    m, ids = copy_model(), some_ids()
    with torch.no_grad():
        full, _ = m(ids, m.initial_state(3, PERIODS))
        sums = full.exp().sum(-1)
        assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)
        for cuts in ([0, 7, 8, 25, 40], list(range(41))):  # TBPTT windows; one step at a time
            state, parts = m.initial_state(3, PERIODS), []
            for a, b in zip(cuts[:-1], cuts[1:]):
                out, state = m(ids[:, a:b], state)
                parts.append(out)
            assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_lanes_without_bars_get_the_plain_network():
    m, ids = copy_model(), some_ids()
    with torch.no_grad():
        out, _ = m(ids, m.initial_state(3, PERIODS))
        h, _ = m.features(ids, m.initial_state(3, PERIODS))
        plain = torch.log_softmax(m.logits(h), dim=-1)
    assert torch.allclose(out[1], plain[1], atol=1e-5)
    assert not torch.allclose(out[0], plain[0], atol=1e-3)


def test_copy_of_the_last_bar_by_hand():
    """A head sure of "copy 1 bar back" with eps ~ 0 predicts bar 1 = bar 0 token for token
    (and nothing in bar 0, where no bar lies behind: there it is the plain network)."""
    m = copy_model(bars=2)
    with torch.no_grad():
        m.bar_copy.proj.weight.zero_()
        m.bar_copy.place.weight.zero_()
        m.bar_copy.streak.zero_()
        m.bar_copy.proj.bias.copy_(torch.tensor([30.0, 0.0, 0.0, 0.0, 0.0]))  # exact 1 and 2, varied, new
        m.bar_copy.eps_logit.fill_(-30.0)
        ids = torch.tensor([[1, 7, 8, 9, 10, 7, 8, 9, 10, 5]])
        out, _ = m(ids, m.initial_state(1, torch.tensor([4])))
        h, _ = m.features(ids, m.initial_state(1, torch.tensor([4])))
        plain = torch.log_softmax(m.logits(h), dim=-1)
    p = out[0].exp()
    # out[0, t] predicts ids[t + 1]; bar 0 is ids 1-4, bar 1 is ids 5-8
    assert torch.allclose(out[0, :4], plain[0, :4], atol=1e-5)
    for t in range(4, 8):
        assert p[t, ids[0, t - 3]] > 0.999  # the token one bar back
    # bar 2 (ids 9 on) is expected to copy bar 1 too: its 5 is nearly impossible, not impossible
    assert p[8, 7] > 0.999 and p[8, 5] < 1e-3


@pytest.mark.parametrize("bars", [0, 4])
def test_state_reorders_like_other_state(bars):
    """Every state entry is batch-first (or h/c on dim 1): beams reorder it generically."""
    m = copy_model(bars=max(bars, 1)) if bars else SequenceModel(ModelConfig(
        vocab_size=20, hidden=32, embedding=16, layers=1, lookback=True, max_period=8)).eval()
    state = m.initial_state(3, PERIODS)
    for key, value in state.items():
        assert value.shape[1 if key in ("h", "c") else 0] == 3, key


def test_config_rules():
    with pytest.raises(ValueError, match="form head needs lookback"):
        ModelConfig(vocab_size=20, form=FormConfig(4))
    with pytest.raises(ValueError, match="form.bars must be"):
        ModelConfig(vocab_size=20, lookback=True, form={"bars": 64})
    with pytest.raises(ValueError, match="form.cont needs form.bars"):
        ModelConfig(vocab_size=20, lookback=True, form={"cont": True})
    # checkpoints of 0.1 wrote the head's fields flat; they load as the nested config
    old = ModelConfig.from_dict({"vocab_size": 20, "lookback": True, "bar_copy": 4, "copy_continue": True})
    assert old.form == FormConfig(4, cont=True) and "bar_copy" not in asdict(old)
    with pytest.raises(ValueError, match="unknown model setting 'bars'"):
        ModelConfig.from_dict({"vocab_size": 20, "bars": 4})


def test_repeats_under_way_read_the_network_only_where_a_streak_runs():
    """copy_continue adds h @ cont to a copy's logit exactly where its streak is > 0."""
    m = copy_model(cont=True)
    h, bar = torch.randn(2, 32), torch.tensor([5, 5])
    streak = torch.tensor([[0, 2, 0, 1], [0, 0, 0, 0]])
    noise = torch.randn_like(m.bar_copy.cont.weight)
    with torch.no_grad():
        before = form.head_logits(m.bar_copy.weights(), h, bar, streak)
        m.bar_copy.cont.weight.add_(noise)
        after = form.head_logits(m.bar_copy.weights(), h, bar, streak)
    moved = (after - before)[:, :-1] - (after - before)[:, -1:]  # each copy's logit against "new"
    want = (h @ noise.T) * (streak > 0).repeat(1, 2)
    assert torch.allclose(moved, want, atol=1e-4)
    assert want[0].abs().sum() > 0.1 and not want[1].any()


def test_form_head_fine_tuned_on_a_frozen_network(tiny_dataset, tiny_run, tmp_path):
    """--init-from a lookback checkpoint + --bar-copy adds the head; --train-only bar_copy
    leaves every network weight as it was, and the result loads and beats or ties the base."""
    from melodyrnn.core.tasks import evaluate, train
    from melodyrnn.core.trainer import TrainConfig

    base = load_checkpoint(tiny_run)
    train(tiny_dataset, tmp_path, {"bar_copy": 4},
          TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=2, warmup_steps=2, weight_decay=0.0,
                      train_only="bar_copy"), init_from=str(tiny_run), progress=False)
    tuned = load_checkpoint(tmp_path / "best.pt")
    assert tuned["model_config"]["form"]["bars"] == 4
    for key, value in base["model_state"].items():
        assert torch.equal(tuned["model_state"][key], value), key
    assert any(k.startswith("bar_copy.") for k in tuned["model_state"])
    model_from_checkpoint(tuned)  # loads strictly
    before = evaluate(str(tiny_run), [str(tiny_dataset)], split="valid")["bits_per_note"]
    after = evaluate(str(tmp_path / "best.pt"), [str(tiny_dataset)], split="valid")["bits_per_note"]
    assert after < before + 0.05


def test_repeats_under_way_added_to_a_form_head_checkpoint(tiny_dataset, tiny_run, tmp_path):
    """--init-from a bar-copy checkpoint + --copy-continue adds only bar_copy.cont (at zero,
    so the model starts as the checkpoint's); training the head keeps the network."""
    from melodyrnn.core.tasks import evaluate, train
    from melodyrnn.core.trainer import TrainConfig

    fast = TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=1, warmup_steps=2, weight_decay=0.0,
                       train_only="bar_copy")
    train(tiny_dataset, tmp_path / "a", {"bar_copy": 4}, fast, init_from=str(tiny_run), progress=False)
    base = load_checkpoint(tmp_path / "a" / "best.pt")
    start = model_from_checkpoint(base, {"bars": 4, "cont": True})
    assert not start.bar_copy.cont.weight.any()
    train(tiny_dataset, tmp_path / "b", {"copy_continue": True}, fast,
          init_from=str(tmp_path / "a" / "best.pt"), progress=False)
    tuned = load_checkpoint(tmp_path / "b" / "best.pt")
    assert tuned["model_config"]["form"] == {"bars": 4, "cont": True, "length": False, "plan": False}
    assert set(tuned["model_state"]) - set(base["model_state"]) == {"bar_copy.cont.weight"}
    for key, value in base["model_state"].items():
        if not key.startswith("bar_copy."):
            assert torch.equal(tuned["model_state"][key], value), key
    assert tuned["model_state"]["bar_copy.cont.weight"].any()
    model_from_checkpoint(tuned)  # loads strictly
    assert evaluate(str(tmp_path / "b" / "best.pt"), [str(tiny_dataset)], split="valid")["bits_per_note"] > 0


def test_train_only_must_name_parameters(tiny_dataset, tiny_run, tmp_path):
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig

    with pytest.raises(ValueError, match="no parameter is named"):
        train(tiny_dataset, tmp_path, {}, TrainConfig(epochs=1, train_only="nothing_like_this"),
              init_from=str(tiny_run), progress=False)


@pytest.mark.parametrize("cont", [False, True])
def test_one_token_at_a_time_matches_a_whole_window(cont):
    """Decoding steps one token a call, training runs windows: the same numbers."""
    m = copy_model(cont=cont)
    ids = some_ids(batch=1, steps=30)
    for period in (4, 3, 0):
        with torch.no_grad():
            full, _ = m(ids, m.initial_state(1, torch.tensor([period])))
            state, parts = m.initial_state(1, torch.tensor([period])), []
            for t in range(ids.shape[1]):
                out, state = m(ids[:, t:t + 1], state)
                parts.append(out)
        assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5), period
