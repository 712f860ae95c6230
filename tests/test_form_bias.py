"""The form head's new-bar bias set on held-out tunes: one number moved until the model's own
continuations repeat earlier bars as often as the real tunes, everything else untouched."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.checkpoint import load_checkpoint, payload, save_checkpoint
from melodyrnn.core.dataset import SplitArrays, write_dataset
from melodyrnn.core.form_bias import (NEW_BIAS, BiasConfig, balanced_gap, find_root,
                                      repeat_fractions, shifted, tune_new_bias)
from melodyrnn.core.form_fit import FormFitConfig
from melodyrnn.core.form_policy import PolicyConfig
from melodyrnn.music.form_calibration import CalibrateConfig, calibrate
from melodyrnn.core.models import SequenceModel

from form_models import model, tunes


def test_shifted_moves_only_the_new_bars_logit():
    for bias in (np.zeros(5, np.float32), torch.zeros(5)):
        state = {NEW_BIAS: bias, "other": bias}
        out = shifted(state, 0.25)
        assert out[NEW_BIAS].tolist() == [0, 0, 0, 0, 0.25]
        assert bias.tolist() == [0] * 5 and out["other"] is bias


def test_repeat_fractions_by_hand():
    # bars of 2 tokens; primer 1 bar, 3 continuation bars: A | A B A -> generated 2 of 3 repeat
    gen = SplitArrays.from_sequences([np.array([1, 5, 6, 5, 6, 7, 7, 5, 6, 2])], [0], [0], [2])
    real = [np.array([False, False, False, True])]  # the real tune repeats only at its 4th bar
    assert repeat_fractions(gen, real, 1, 3) == {"": {"generated_repeat": pytest.approx(2 / 3),
                                                      "real_repeat": pytest.approx(1 / 3), "tunes": 1}}
    by = repeat_fractions(gen, real, 1, 3, {0: "essen"})
    assert list(by) == ["essen"] and by["essen"]["tunes"] == 1


def test_balanced_gap_is_the_mid_range_of_the_big_groups():
    groups = {"a": {"generated_repeat": 0.5, "real_repeat": 0.55, "tunes": 80},  # -0.05
              "b": {"generated_repeat": 0.4, "real_repeat": 0.3, "tunes": 30},  # +0.10
              "c": {"generated_repeat": 0.9, "real_repeat": 0.1, "tunes": 1}}  # too few tunes
    assert balanced_gap(groups, 10) == pytest.approx(0.025)
    assert balanced_gap(groups, 100) == pytest.approx((0.8 - 0.05) / 2)  # none big enough: all


def test_find_root_brackets_then_narrows():
    cfg = BiasConfig(tolerance=1e-3, max_evals=10, step=0.4)
    best, tried = find_root(lambda x: 0.3 - 0.25 * x - 0.05 * x ** 3, cfg)  # decreasing, root near 1.06
    assert tried[0][0] == 0.0 and [x for x, _ in tried[:4]] == [0.0, 0.4, 0.8, 1.2]
    assert abs(0.3 - 0.25 * best - 0.05 * best ** 3) <= 1e-3 and len(tried) <= 10
    best, tried = find_root(lambda x: -0.2 - x, cfg)  # too few repeats: lower the bias
    assert best == pytest.approx(-0.2, abs=1e-3) and tried[1][0] == -0.4
    best, tried = find_root(lambda x: 0.001, cfg)  # already there: one try
    assert (best, len(tried)) == (0.0, 1)
    best, tried = find_root(lambda x: 1.0 - 0.1 * x, BiasConfig(step=0.5, reach=1.0))  # out of reach
    assert best == 1.0 and [x for x, _ in tried] == [0.0, 0.5, 1.0]  # the edge


def _sampler(m: SequenceModel, offset: float) -> SequenceModel:
    other = model()
    other.load_state_dict(shifted(m.state_dict(), offset))
    return other.eval()


def test_tuned_bias_brings_the_own_repeat_rate_to_the_real_one():
    m, split = model(2), tunes(16, 14, seed=3)
    m.load_state_dict(shifted(m.state_dict(), 1.5))  # a head that seldom repeats
    policy = PolicyConfig(primer_bars=4, bars=8, outputs=4)
    r = tune_new_bias(lambda x: _sampler(m, x), split, policy, BiasConfig(tolerance=0.01))
    start, best = r["tried"][0], min(r["tried"], key=lambda t: abs(t["gap"]))
    assert best["new_bias"] == r["new_bias"] and len(r["tried"]) >= 2
    for t in r["tried"]:
        assert t["gap"] == t["groups"][""]["generated_repeat"] - t["groups"][""]["real_repeat"]
    assert start["gap"] < -0.05  # the head as it is repeats far too seldom here ...
    assert abs(best["gap"]) < abs(start["gap"]) / 3  # ... and the bias mends it


def _token_dataset(tmp_path, split: SplitArrays):
    import melodyrnn as mr
    from melodyrnn.core.registry import encoding_from_dict

    meta = mr.dataset_from_sequences([[str(i) for i in range(8)]] * 3, tmp_path / "names")
    enc = encoding_from_dict(meta["encoding"])
    assert len(enc.vocab) == 12
    write_dataset(tmp_path / "ds", enc, {"train": split, "valid": split, "test": split})
    return tmp_path / "ds"


def test_calibrate_bias_writes_the_model_with_only_that_bias_moved(tmp_path):
    m = model(2)
    m.load_state_dict(shifted(m.state_dict(), 1.5))
    save_checkpoint(tmp_path / "m.pt", payload(m, None, train_config={"epochs": 1}))
    ds = _token_dataset(tmp_path, tunes(16, 14, seed=3))
    r = calibrate(tmp_path / "m.pt", ds, tmp_path / "out.pt", CalibrateConfig(
        fit=FormFitConfig(epochs=0), bias=(PolicyConfig(4, 8, 4), BiasConfig(max_evals=3))))["held_out_bias"]
    before, after = load_checkpoint(tmp_path / "m.pt"), load_checkpoint(tmp_path / "out.pt")
    moved = after["model_state"][NEW_BIAS] - before["model_state"][NEW_BIAS]
    assert float(moved[-1]) == pytest.approx(r["new_bias"], abs=1e-6) and not moved[:-1].any()
    assert r["new_bias"] != 0 and len(r["tried"]) <= 3 and r["split"] == "valid"
    assert all(torch.equal(v, after["model_state"][k])
               for k, v in before["model_state"].items() if k != NEW_BIAS)
    assert after["train_config"]["epochs"] == 1 and after["train_config"]["held_out_bias"] == r


def test_cli_errors_are_one_line(tiny_dataset, tiny_run, tmp_path):
    run = CliRunner()
    r = run.invoke(main, ["calibrate-form", str(tiny_run), str(tiny_dataset), "-o", str(tmp_path / "a.pt"),
                          "--epochs", "0", "--no-held-out-bias"])
    assert r.exit_code == 1 and "nothing to do" in r.output and r.output.count("\n") == 1
    r = run.invoke(main, ["calibrate-form", str(tiny_run), str(tiny_dataset), "-o", str(tmp_path / "a.pt"),
                          "--epochs", "0"])
    assert r.exit_code == 1 and "bar-copy head" in r.output and r.output.count("\n") == 1
    assert not (tmp_path / "a.pt").exists()
