"""Decoding without torch: the numpy model, the torch-free checkpoint reader, and a cold
``melodyrnn generate`` that never imports torch -- each held against its torch original."""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from melodyrnn.core.checkpoint import load_checkpoint, save_checkpoint
from melodyrnn.core.continuation import DecodeConfig, continue_ids
from melodyrnn.core.loading import load_for_sampling, load_model
from melodyrnn.core.models.config import ModelConfig
from melodyrnn.core.models.network import SequenceModel
from melodyrnn.core.models.numpy_net import NumpyModel, expected_shapes
from melodyrnn.core.ptfile import read_pt
from melodyrnn.core.sampling import SamplingConfig

CONFIGS = [dict(kind=k, tie_weights=t, lookback=lb, bar_index=bi, bar_copy=bc, embedding=e,
                copy_continue=cc, copy_length=cl, form={"plan": sp})
           for k, t, lb, bi, bc, e, cc, cl, sp in itertools.product(("lstm", "gru", "rnn"), (False, True),
                                                                    (False, True), (False, True), (0, 3),
                                                                    (8, 16), (False, True), (False, True),
                                                                    (False, True))
           if (lb or not (bi or bc)) and (bc or not (cc or cl)) and (cl or not sp)]


def _config(**kw) -> ModelConfig:
    return ModelConfig.from_dict(dict(vocab_size=11, hidden=16, layers=2, lookback_bars=(1, 2), max_period=8,
                                      **kw))


def _random_model(cfg: ModelConfig, seed: int = 0) -> SequenceModel:
    torch.manual_seed(seed)
    model = SequenceModel(cfg).eval()
    with torch.no_grad():  # weights far from their initial zeros (the bar-copy head starts at 0)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    return model


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_weight_shapes_are_the_torch_models(kw):
    cfg = _config(**kw, num_classes=2)
    assert expected_shapes(cfg) == {k: tuple(v.shape) for k, v in SequenceModel(cfg).state_dict().items()}


@pytest.mark.parametrize("kw", CONFIGS[::3], ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_numpy_steps_give_the_torch_models_log_probabilities(kw):
    """Token by token, over lanes with bar lengths 0 (none), 4 and 6 and tunes that repeat
    whole bars (so lookback flags and bar copies are live), the numpy model's log-probs are
    the torch model's over the whole sequence at once."""
    cfg = _config(**kw)
    model = _random_model(cfg)
    numpy_model = NumpyModel(cfg, {k: v.numpy() for k, v in model.state_dict().items()})
    g = torch.Generator().manual_seed(1)
    classes = np.array([0, 2, 4]) if cfg.form.length else None  # the plan and the head read them
    for period in (0, 4, 6):
        ids = torch.randint(1, 11, (3, 36), generator=g)
        ids[:, 12:24] = ids[:, 0:12]
        with torch.no_grad():
            logits, _ = model(ids, model.initial_state(
                3, torch.full((3,), period), classes=None if classes is None else torch.from_numpy(classes)))
        want = torch.log_softmax(logits.float(), dim=-1).numpy()
        state, got = numpy_model.initial_state(3, period, classes), []
        for t in range(ids.shape[1]):
            lp, state = numpy_model.step(ids[:, t].numpy(), state)
            got.append(lp)
        np.testing.assert_allclose(np.stack(got, axis=1), want, atol=2e-4, rtol=0)


def test_the_reader_gives_what_torch_load_gives_and_runs_no_code(tmp_path):
    state = {"w": torch.randn(3, 4), "t": torch.randn(4, 3).T, "i": torch.arange(5),
             "b": torch.tensor([True, False]),
             "s": torch.tensor(2.5), "h": torch.ones(2, dtype=torch.float16), "v": torch.arange(10.0)[2:7]}
    ckpt = {"format": 1, "model_config": {"vocab_size": 3, "lookback_bars": (1, 2)}, "model_state": state,
            "vocab": {"tokens": ["a", "b", "c"]}, "metrics": {"x": 1.5}, "none": None}
    save_checkpoint(tmp_path / "c.pt", ckpt)
    back = read_pt(tmp_path / "c.pt")
    assert {k: v for k, v in back.items() if k != "model_state"} == {k: v for k, v in ckpt.items()
                                                                      if k != "model_state"}
    for key, tensor in state.items():  # strided views and 0-d tensors included
        assert back["model_state"][key].dtype == tensor.numpy().dtype
        np.testing.assert_array_equal(back["model_state"][key], tensor.numpy())

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"format": 1, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="refused to load.*posix.system|refused to load.*os.system"):
        read_pt(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        read_pt(tmp_path / "junk.pt")


def test_sampling_a_file_uses_the_numpy_model_and_matches_torch(tiny_run):
    """The same checkpoint through both models: the same ids and likelihoods, seed for seed,
    under a grammar, a mask and the phrase limit (all rules run in numpy for both)."""
    from melodyrnn.music.compose import melody_grammar

    numpy_model, enc, ckpt = load_for_sampling(str(tiny_run))
    assert isinstance(numpy_model, NumpyModel) and ckpt["train_id_counts"]
    torch_model, _ = load_model(str(tiny_run))
    allowed = np.ones(len(enc.vocab), bool)
    allowed[[0, 1, 2]] = False
    args = ([1, 65, 3, 3, 3, 67, 3], 4, 48, DecodeConfig(SamplingConfig(temperature=1.2)), 5, allowed, 16,
            (16, 1), melody_grammar(len(enc.vocab)))
    a, b = continue_ids(numpy_model, *args), continue_ids(torch_model, *args)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.nats, b.nats, rtol=1e-4)
    # beam search decodes a numpy model too (through torch's beam), and agrees with torch's
    beam = DecodeConfig(beam_size=3)
    np.testing.assert_array_equal(continue_ids(numpy_model, [1, 65], 2, 12, beam).ids,
                                  continue_ids(torch_model, [1, 65], 2, 12, beam).ids)


def test_loading_for_sampling_keeps_the_checks(tiny_run, tmp_path):
    ckpt = load_checkpoint(tiny_run)
    ckpt["model_state"]["out.weight"] = torch.zeros(3, 3)
    save_checkpoint(tmp_path / "bad.pt", ckpt)
    with pytest.raises(ValueError, match="out.weight has shape"):
        load_for_sampling(str(tmp_path / "bad.pt"))
    ckpt = load_checkpoint(tiny_run)
    ckpt["model_config"] = {**ckpt["model_config"], "kind": "attention"}
    ckpt["model_state"] = SequenceModel(ModelConfig.from_dict(ckpt["model_config"])).state_dict()
    save_checkpoint(tmp_path / "att.pt", ckpt)
    model, _, _ = load_for_sampling(str(tmp_path / "att.pt"))  # numpy covers no attention: torch's
    assert isinstance(model, SequenceModel)


@pytest.mark.parametrize("name", ["default", "chorale"])
def test_shipped_models_match_their_torch_selves(name):
    """The shipped weights on a real primer: numpy log-probs equal torch's step by step."""
    numpy_model, enc, _ = load_for_sampling(name)
    torch_model, _ = load_model(name)
    period = 48 if name == "default" else 80
    ids = torch.randint(3, len(enc.vocab), (1, 3 * period), generator=torch.Generator().manual_seed(0))
    ids[0, 0] = 1
    with torch.no_grad():
        logits, _ = torch_model(ids, torch_model.initial_state(1, torch.tensor([period])))
    want = torch.log_softmax(logits.float(), -1)[0].numpy()
    state, got = numpy_model.initial_state(1, period), []
    for i in ids[0].tolist():
        lp, state = numpy_model.step(np.array([i]), state)
        got.append(lp[0])
    np.testing.assert_allclose(np.stack(got), want, atol=2e-4, rtol=0)


def test_a_cold_generate_never_imports_torch(tmp_path):
    """`melodyrnn generate` with a shipped model, in a fresh interpreter: outputs written,
    and torch never loaded (a second or two of the cold start)."""
    import mido

    from melodyrnn.music.midi_io import write_midi

    from tunes import motif_tune

    write_midi(motif_tune(3), tmp_path / "seed.mid")
    code = ("import sys\nfrom melodyrnn.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    for extra in ([], ["--model", "chorale"]):
        out = tmp_path / f"out{len(extra)}"
        run = subprocess.run([sys.executable, "-c", code, "generate", str(tmp_path / "seed.mid"),
                              "--bars", "2", "--num-outputs", "2", "--output-dir", str(out), *extra],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        written = sorted(out.glob("*.mid"))
        notes = [sum(m.type == "note_on" and m.velocity > 0 for m in mido.MidiFile(p)) for p in written]
        assert len(written) == 2 and min(notes) > 0
