import pytest
import torch
from torch import nn

from melodyrnn.core.models import ElmanRNN, ModelConfig, build_model
from melodyrnn.core.models.config import FormConfig

KINDS = ["rnn", "lstm", "gru", "attention"]


def test_elman_equations_match_torch_rnn_forward_and_gradients():
    torch.manual_seed(0)
    own = ElmanRNN(7, 11, num_layers=2, fused=False).double()
    ref = nn.RNN(7, 11, num_layers=2, nonlinearity="tanh", batch_first=True).double()
    ref.load_state_dict(own.rnn.state_dict())
    x = torch.randn(3, 13, 7, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(2, 3, 11, dtype=torch.double)
    out_own, h_own = own(x, h0)
    out_ref, h_ref = ref(x, h0)
    torch.testing.assert_close(out_own, out_ref, atol=1e-5, rtol=0)
    torch.testing.assert_close(h_own, h_ref, atol=1e-5, rtol=0)
    (out_own.square().sum() + h_own.sum()).backward()
    g_own = [p.grad.clone() for p in own.rnn.parameters()] + [x.grad.clone()]
    x.grad = None
    (out_ref.square().sum() + h_ref.sum()).backward()
    g_ref = [p.grad for p in ref.parameters()] + [x.grad]
    for a, b in zip(g_own, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_elman_one_weight_set_for_all_steps():
    own = ElmanRNN(4, 5, fused=False)
    assert {n for n, _ in own.named_parameters()} == {
        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"}
    # the output at step t depends on the input at step 0 only through the shared W_hh
    x = torch.zeros(1, 6, 4)
    x[0, 0, 0] = 1.0
    with torch.no_grad():
        own.rnn.weight_hh_l0.zero_()
        out, _ = own(x)
    torch.testing.assert_close(out[0, 1:], torch.tanh(own.rnn.bias_ih_l0 + own.rnn.bias_hh_l0)
                               .expand(5, 5).detach())


def model(kind, **kw):
    torch.manual_seed(1)
    cfg = dict(vocab_size=30, kind=kind, embedding=8, hidden=16, layers=2, attention_length=6)
    cfg.update(kw)
    return build_model(ModelConfig.from_dict(cfg)).eval()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lookback", [False, True, "bar_index"])
@pytest.mark.parametrize("window", [5, 1])  # 1: the single-step cell path of generation
def test_windows_with_carried_state_equal_one_pass(kind, lookback, window):
    m = model(kind, lookback=bool(lookback), fused=False, lookback_bars=(1, 2, 4),
              bar_index=lookback == "bar_index")
    ids = torch.randint(1, 30, (3, 24))
    periods = torch.tensor([4, 3, 0])
    whole, _ = m(ids, m.initial_state(3, periods))
    state, parts = m.initial_state(3, periods), []
    for a in range(0, 24, window):
        logits, state = m(ids[:, a:a + window], state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_causal_and_reset_lanes_start_afresh(kind):
    m = model(kind, lookback=True)
    ids = torch.randint(1, 30, (2, 12))
    changed = ids.clone()
    changed[:, 8:] = 1
    a, _ = m(ids, m.initial_state(2, torch.tensor([4, 4])))
    b, _ = m(changed, m.initial_state(2, torch.tensor([4, 4])))
    torch.testing.assert_close(a[:, :8], b[:, :8])  # the future does not leak
    _, state = m(ids, m.initial_state(2, torch.tensor([4, 4])))
    state = m.reset(state, torch.tensor([True, False]), torch.tensor([4, 4]))
    after, _ = m(ids[:, :5], state)
    fresh, _ = m(ids[:, :5], m.initial_state(2, torch.tensor([4, 4])))
    torch.testing.assert_close(after[0], fresh[0])
    assert not torch.allclose(after[1], fresh[1])


def test_lookback_inputs_by_hand():
    m = model("lstm", lookback=True)
    # period 2: sequence <s>=1, then 5 6 5 7; input at index s predicts s + 1
    ids = torch.tensor([[1, 5, 6, 5, 7]])
    state = m.initial_state(1, torch.tensor([2]))
    back, extra = m.lookback_inputs(ids, state)
    # target of input s is token s+1; one bar back is token s-1, two bars back token s-3
    assert back[0, :, 0].tolist() == [0, 1, 5, 6, 5]
    assert back[0, :, 1].tolist() == [0, 0, 0, 1, 5]
    # input 3 (5) repeats token 1 (5): flag set; input 4 (7) does not repeat token 2 (6)
    assert extra[0, :, 0].tolist() == [0, 0, 0, 1, 0]
    assert extra[0, :, 1].tolist() == [0, 0, 0, 0, 0]
    # position in bar of each target step: 0 1 0 1 0 (sine, cosine, then bit 0)
    assert extra[0, :, 3].tolist() == pytest.approx([1, -1, 1, -1, 1])
    assert extra[0, :, 4].tolist() == [0, 1, 0, 1, 0]


def test_bar_index_bits_by_hand():
    m = model("lstm", lookback=True, bar_index=True)
    # period 2: the target of input s is step s (0-based after <s>), in bar s // 2
    ids = torch.tensor([[1] + [5] * 13])
    _, extra = m.lookback_inputs(ids, m.initial_state(1, torch.tensor([2])))
    bits = extra[0, :, -5:].long()  # FORM_BITS, bit 0 first
    bars = (bits * (2 ** torch.arange(5))).sum(dim=-1)
    assert bars.tolist() == [s // 2 for s in range(14)]
    none, _ = m.lookback_inputs(ids, m.initial_state(1, torch.tensor([0])))
    assert none[0, :, -5:].abs().sum() == 0  # no bar length: no bar index
    with pytest.raises(ValueError, match="bar_index needs lookback"):
        ModelConfig(vocab_size=30, bar_index=True)


def test_lookback_reaches_phrases_bars_back():
    m = model("lstm", lookback=True, lookback_bars=(1, 4))
    # period 3: sequence <s>=1 then tokens 10, 11, ...; four bars back is 12 tokens back
    ids = torch.tensor([[1] + list(range(10, 26))])
    back, extra = m.lookback_inputs(ids, m.initial_state(1, torch.tensor([3])))
    # input s predicts token s+1: one bar back is token s-2, four bars back token s-11
    assert back[0, 11, 0] == ids[0, 9] and back[0, 11, 1] == ids[0, 0]
    assert back[0, 10, 1] == 0 and back[0, 16, 1] == ids[0, 5]
    # the same ids fed in two windows give the same lookback tokens
    state = m.initial_state(1, torch.tensor([3]))
    _, state = m(ids[:, :7], state)
    later, _ = m.lookback_inputs(ids[:, 7:], state)
    torch.testing.assert_close(later, back[:, 7:])


def test_tied_weights_share_the_embedding():
    m = model("lstm", tie_weights=True)
    names = {n for n, _ in m.named_parameters()}
    assert "out.weight" not in names and "embed.weight" in names
    logits, _ = m(torch.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, 30)


@pytest.mark.parametrize("kind", KINDS)
def test_classifier_reads_the_last_real_token(kind):
    m = model(kind, num_classes=4)
    ids = torch.tensor([[1, 4, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0, 0]])
    short = m.classify(ids[:, :5])
    padded = m.classify(ids)
    assert padded.shape == (2, 4)
    torch.testing.assert_close(short, padded)


def test_bad_config():
    with pytest.raises(ValueError):
        ModelConfig(vocab_size=10, kind="transformer")
    with pytest.raises(ValueError):
        ModelConfig(vocab_size=10, dropout=1.5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "attention"])
def test_selecting_lanes_of_a_state_equals_running_those_lanes(kind):
    """The state layout (h/c lanes on dim 1, every other entry on dim 0) has one home,
    SequenceModel.select_lanes: selected lanes continue exactly as the lanes they copy."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=30, kind=kind, hidden=16, layers=2, embedding=8,
                                    lookback=kind != "attention",
                                    form=FormConfig(2 if kind == "lstm" else 0)))
    model.eval()
    ids = torch.randint(3, 30, (3, 9))
    periods = torch.tensor([4, 4, 4])
    _, state = model(ids, model.initial_state(3, periods))
    index = torch.tensor([2, 0, 2])
    nxt = torch.randint(3, 30, (3, 1))
    after, _ = model(nxt[index], model.select_lanes(state, index))
    full, _ = model(nxt, state)
    assert torch.allclose(after, full[index], atol=1e-6)
