"""Fitting the bar-copy head on a frozen network: the bar table's likelihood is the model's,
P(repeat) is the sum over the earlier bars played in the bar's place, and the fit moves the
mixture's repeat chance towards the real rate without touching the network."""

import json
import math

import numpy as np
import torch
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.checkpoint import load_checkpoint
from melodyrnn.core.form_bars import collect_bars
from melodyrnn.core.form_fit import FormFitConfig, bar_log_probs, fit_form, measure, repeat_log_prob

from form_models import PER, model, tunes


def test_bar_likelihood_from_the_table_is_the_models():
    m, split = model(), tunes()
    t = collect_bars(m, split, counterfactual=(2, 6)).tensors()
    with torch.no_grad():
        for i in range(split.n_sequences):
            ids = split.sequence(i).astype(np.int64)
            state = m.initial_state(1, torch.tensor([PER]), bars=torch.tensor([10]))
            lp, _ = m(torch.tensor(ids[None, :-1]), state)
            per_token = lp[0, torch.arange(len(ids) - 1), torch.tensor(ids[1:])].double()
            rows = torch.nonzero(t["sequence"] == i)[:, 0]
            mine = bar_log_probs(m.bar_copy, t, rows)
            assert torch.allclose(mine, per_token[PER:10 * PER].view(9, PER).sum(1), atol=1e-4)


def test_repeat_chance_is_the_sum_over_earlier_bars_played_in_place():
    m, split = model(1), tunes(3)
    t = collect_bars(m, split, counterfactual=(2, 6)).tensors()
    assert len(t["c_row"]) == 3 * 4
    with torch.no_grad():
        for j in range(len(t["c_row"])):
            row = int(t["c_row"][j])
            i, b = int(t["sequence"][row]), int(t["bar"][row])
            ids = split.sequence(i).astype(np.int64).tolist()
            earlier = {tuple(ids[1 + a * PER:1 + (a + 1) * PER]) for a in range(max(0, b - 4), b)}
            total = 0.0
            for bar in earlier:  # the whole model, token by token, with this bar played as bar b
                seq = ids[:1 + b * PER] + list(bar)
                state = m.initial_state(1, torch.tensor([PER]), bars=torch.tensor([10]))
                lp, _ = m(torch.tensor([seq[:-1]]), state)
                total += math.exp(float(lp[0, torch.arange(b * PER, (b + 1) * PER),
                                           torch.tensor(seq[1 + b * PER:])].sum()))
            assert math.isclose(float(repeat_log_prob(m.bar_copy, t, torch.tensor([j])).exp()), total,
                                rel_tol=1e-4)
            real = tuple(ids[1 + b * PER:1 + (b + 1) * PER])
            assert bool(t["c_repeat"][j]) == (real in earlier)


def test_fit_moves_the_repeat_chance_towards_the_real_rate():
    m, split = model(2), tunes(12, 26, seed=3)
    t = collect_bars(m, split).tensors()
    net = {k: v.clone() for k, v in m.state_dict().items() if not k.startswith("bar_copy.")}
    start = measure(m.bar_copy, t)
    fit_form(m.bar_copy, t, FormFitConfig(weight=5.0, epochs=30, batch_size=64, repeat_batch=64, lr=1e-2))
    end = measure(m.bar_copy, t)
    gap = abs(start["p_repeat"] - start["real_repeat"])
    assert gap > 0.05
    assert abs(end["p_repeat"] - end["real_repeat"]) < gap / 2
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in net.items())


def test_calibrate_form_command(tiny_dataset, tiny_run, tmp_path):
    """A model without a form head is a one-line error; with one, the head is refitted, the
    network kept, and the checkpoint records the fit."""
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig

    runner = CliRunner()
    r = runner.invoke(main, ["calibrate-form", str(tiny_run), str(tiny_dataset), "-o",
                              str(tmp_path / "x.pt")])
    assert r.exit_code == 1 and "bar-copy head" in r.output and r.output.count("\n") == 1
    train(tiny_dataset, tmp_path / "head", {"bar_copy": 4},
          TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=1, warmup_steps=2, train_only="bar_copy"),
          init_from=str(tiny_run), progress=False)
    base, out = tmp_path / "head" / "best.pt", tmp_path / "cal.pt"
    r = runner.invoke(main, ["calibrate-form", str(base), str(tiny_dataset), "-o", str(out), "--epochs", "2",
                             "--policy-weight", "0", "--no-held-out-bias"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)) == {"output", "valid_before", "valid_after"}
    before, after = load_checkpoint(base), load_checkpoint(out)
    assert after["train_config"]["form_fit"]["epochs"] == 2
    for key, value in before["model_state"].items():
        assert key.startswith("bar_copy.") or torch.equal(after["model_state"][key], value), key
