"""The form head that reads the tune's length (copy_length): length classes by hand, the
head's table, numpy against torch, scoring as a two-part code, and decoding that infers
the class from the primer."""

import math

import numpy as np
import pytest
import torch

from melodyrnn.core.batching import sequence_bars
from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint
from melodyrnn.core.continuation import continue_ids
from melodyrnn.core.models.form import length_classes, length_posterior
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.models import ModelConfig, SequenceModel, form
from melodyrnn.core.models.config import FormConfig
from melodyrnn.core.models.form import MAX_BAR, SPANS, span_of, spans_reaching
from melodyrnn.core.models.numpy_net import NumpyModel
from melodyrnn.core.scoring import score_split


def length_model(length: bool = True, seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)
    m = SequenceModel(ModelConfig(vocab_size=20, hidden=32, embedding=16, layers=1, lookback=True,
                                  lookback_bars=(1, 2), max_period=8,
                                  form=FormConfig(3, cont=True, length=length))).eval()
    with torch.no_grad():  # a head away from its initial (near "new", length-blind) weights
        for p in m.bar_copy.parameters():
            p.add_(torch.randn_like(p))
    return m


def test_length_classes_by_hand():
    assert span_of([1, 15, 16, 23, 24, 31, 32, 39, 40, 200]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert spans_reaching(24).tolist() == [False, False, True, True, True]
    assert spans_reaching(1).all() and spans_reaching(10_000).tolist() == [False] * 4 + [True]
    # <s>, 32 tokens, </s> in bars of 16: 2 bars; one token more starts a third; no grid: 0
    assert sequence_bars([34, 35, 34, 2], [16, 16, 0, 16]).tolist() == [2, 3, 0, 0]


def test_config_rule():
    with pytest.raises(ValueError, match="form.length needs form.bars"):
        ModelConfig(vocab_size=20, lookback=True, form=FormConfig(length=True))


def test_the_head_reads_its_class_and_bar_from_the_table():
    """The head's logits move by exactly span[class * 64 + bar] (against the length-blind head)."""
    m = length_model()
    h, bar, streak = torch.randn(3, 32), torch.tensor([2, 9, 70]), torch.zeros(3, 3, dtype=torch.long)
    cls = torch.tensor([0, 3, 4])
    with torch.no_grad():
        weights = m.bar_copy.weights()
        blind = torch.log_softmax(form.head_logits(weights, h, bar, streak), 1)
        seen = torch.log_softmax(form.head_logits(weights, h, bar, streak, cls), 1)
        row = m.bar_copy.span.weight[cls * (MAX_BAR + 1) + bar.clamp(max=MAX_BAR)]  # (3, 7)
    want = torch.log_softmax(torch.log_softmax(blind, 1) + row, 1)  # "near" masks stay masked
    assert torch.allclose(seen, want, atol=1e-5)
    assert m.bar_copy.spans(torch.tensor([12, 16, 33]), 3, "cpu").tolist() == [0, 1, 3]


def test_numpy_steps_give_the_torch_models_log_probabilities_in_every_class():
    m = length_model()
    numpy_model = NumpyModel(m.config, {k: v.numpy() for k, v in m.state_dict().items()})
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 20, (SPANS, 40), generator=g)
    ids[:, 16:32] = ids[:, 0:16]
    bars = torch.tensor([8, 20, 28, 36, 60])  # one lane per class
    with torch.no_grad():
        want, _ = m(ids, m.initial_state(SPANS, torch.full((SPANS,), 4), bars=bars))
    state = numpy_model.initial_state(SPANS, 4, np.arange(SPANS))
    got = []
    for t in range(ids.shape[1]):
        lp, state = numpy_model.step(ids[:, t].numpy(), state)
        got.append(lp)
    np.testing.assert_allclose(np.stack(got, axis=1), want.numpy(), atol=2e-4, rtol=0)
    assert np.abs(np.diff(want.numpy(), axis=0)).max() > 1e-3  # the classes differ
    for cls in range(SPANS):  # one lane at a time
        state = numpy_model.initial_state(1, 4, [cls])
        one = []
        for t in range(ids.shape[1]):
            lp, state = numpy_model.step(ids[cls:cls + 1, t].numpy(), state)
            one.append(lp[0])
        np.testing.assert_allclose(np.stack(one), want[cls].numpy(), atol=2e-4, rtol=0)


def test_one_token_at_a_time_matches_a_whole_window():
    m = length_model()
    ids = torch.randint(1, 20, (1, 30), generator=torch.Generator().manual_seed(2))
    bars = torch.tensor([33])
    with torch.no_grad():
        full, _ = m(ids, m.initial_state(1, torch.tensor([4]), bars=bars))
        state, parts = m.initial_state(1, torch.tensor([4]), bars=bars), []
        for t in range(ids.shape[1]):
            out, state = m(ids[:, t:t + 1], state)
            parts.append(out)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)


def test_scoring_is_a_two_part_code():
    """With the table at zero the head is the length-blind one: a tune's nats are the blind
    model's plus -ln prior(its class)."""
    m = length_model()
    with torch.no_grad():
        m.bar_copy.span.weight.zero_()
    m.bar_copy.set_length_prior(np.array([5, 5, 20, 33, 50]))  # classes 0, 0, 1, 3, 4
    blind = length_model(length=False)
    blind.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("bar_copy.span")})
    rng = np.random.default_rng(0)
    seqs = [np.r_[1, rng.integers(3, 20, n), 2] for n in (20, 80, 130)]  # 5, 20, 33 bars of 4
    split = SplitArrays.from_sequences(seqs, units=[1, 1, 1], source=[0, 1, 2], bar_steps=[4, 4, 4])
    _, with_length = score_split(m, split, batch_size=2, seq_len=16)
    _, without = score_split(blind, split, batch_size=2, seq_len=16)
    prior = np.log(np.array([3, 2, 1, 2, 2]) / 10)  # counts 2, 1, 0, 1, 1, each + 1
    np.testing.assert_allclose(m.bar_copy.span_prior.numpy(), prior, atol=1e-6)
    np.testing.assert_allclose(with_length - without, -prior[[0, 1, 3]], atol=1e-4)


def test_outputs_draw_their_class_from_the_posterior():
    prior, nats = np.log(np.array([0.5, 0.3, 0.1, 0.05, 0.05])), np.array([0, 0, 0, 0, math.log(2)])
    post = length_posterior(prior, nats, spans_reaching(24))  # 0.1 : 0.05 : 0.025 of what is left
    np.testing.assert_allclose(np.exp(post), [0, 0, 4 / 7, 2 / 7, 1 / 7], atol=1e-12)
    drawn = length_classes(post, 700, seed=3, best=False)
    assert set(drawn.tolist()) == {2, 3, 4} and abs(np.mean(drawn == 2) - 4 / 7) < 0.06
    assert np.array_equal(drawn, length_classes(post, 700, seed=3, best=False))
    assert length_classes(post, 3, seed=0, best=True).tolist() == [2, 2, 2]


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_decoding_infers_the_class_from_the_primer(backend):
    """A class whose table makes the primer likely wins the posterior: every output then
    decodes in it, and the two backends agree id for id."""
    m = length_model()
    primer = [1] + [5, 6, 7, 8] * 4  # 4 bars of 4, each a repeat of the one before
    with torch.no_grad():
        m.bar_copy.span.weight.zero_()
        m.bar_copy.span.weight[3 * (MAX_BAR + 1):4 * (MAX_BAR + 1), 0] = 30.0  # class 3: copy 1 bar back
    weights = {k: v.numpy() for k, v in m.state_dict().items()}
    model = m if backend == "torch" else NumpyModel(m.config, weights)
    out = continue_ids(model, primer, 4, 12, seed=0, period=4)
    assert (out.ids == np.array([5, 6, 7, 8] * 3)).all()  # class 3 copies bar after bar
    other = continue_ids(m, primer, 4, 12, seed=0, period=4)
    assert np.array_equal(out.ids, other.ids)
    assert math.isfinite(out.nats.sum())


def test_copy_length_added_to_a_form_head_checkpoint(tiny_dataset, tiny_run, tmp_path):
    """--copy-length on a bar-copy checkpoint adds only the span table (at zero) and the
    prior (from the training tunes); the network stays as it was."""
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig

    fast = TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=1, warmup_steps=2, weight_decay=0.0,
                       train_only="bar_copy")
    train(tiny_dataset, tmp_path / "a", {"bar_copy": 4}, fast, init_from=str(tiny_run), progress=False)
    base = load_checkpoint(tmp_path / "a" / "best.pt")
    train(tiny_dataset, tmp_path / "b", {"copy_length": True}, fast,
          init_from=str(tmp_path / "a" / "best.pt"), progress=False)
    tuned = load_checkpoint(tmp_path / "b" / "best.pt")
    assert tuned["model_config"]["form"]["length"] is True
    assert set(tuned["model_state"]) - set(base["model_state"]) == {"bar_copy.span.weight",
                                                                    "bar_copy.span_prior"}
    for key, value in base["model_state"].items():
        if not key.startswith("bar_copy."):
            assert torch.equal(tuned["model_state"][key], value), key
    prior = tuned["model_state"]["bar_copy.span_prior"].exp()
    assert abs(float(prior.sum()) - 1) < 1e-5 and float(prior.max()) < 1
    model_from_checkpoint(tuned)  # loads strictly
