"""The form head fitted in its own contexts: the model continues training tunes, the bars
of those continuations are labelled with the real tunes' repeats, and the fit moves
P(repeat) there towards the real rate without touching the network."""

import numpy as np
import torch
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.dataset import SplitArrays
from melodyrnn.core.form_bars import collect_bars
from melodyrnn.core.form_fit import FormFitConfig, fit_form, measure
from melodyrnn.core.form_policy import PolicyConfig, continue_split, long_enough, policy_table, repeat_labels

from form_models import PER, model, tunes


def test_repeat_labels_by_hand():
    # bars (PER = 2 tokens): A B A C B -> repeats at bars 2 and 4
    ids = [1, 5, 6, 7, 8, 5, 6, 9, 9, 7, 8, 2]
    assert repeat_labels(ids, 2, 5).tolist() == [False, False, True, False, True]


def test_long_enough_counts_a_last_bar_cut_short():
    seqs = [np.r_[1, np.arange(3, 3 + n), 2] for n in (8, 7, 6)]  # 2, 2 (cut short), 1.5 bars of 4
    split = SplitArrays.from_sequences(seqs, [0, 0, 0], [0, 1, 2], [4, 4, 0])
    assert long_enough(split, 2) == [0, 1]
    assert long_enough(split, 1) == [0, 1]  # no bar grid: never


def test_continuations_keep_the_primer_and_follow_the_constraints():
    m, split = model(4), tunes(5, 10, seed=5)
    cfg = PolicyConfig(primer_bars=3, bars=4, outputs=3, seed=2)
    allowed = np.ones(12, bool)
    allowed[[0, 1, 2, 11]] = False  # padding, start, end and one more id never played
    gen, labels = continue_split(m, split, cfg, allowed)
    assert gen.n_sequences == 5 * 3 == len(labels)
    for j in range(gen.n_sequences):
        ids, src = gen.sequence(j).tolist(), split.sequence(j // 3).tolist()
        assert len(ids) == 1 + 7 * PER + 1 and ids[-1] == 2
        assert ids[:1 + 3 * PER] == src[:1 + 3 * PER]
        assert not set(ids[1 + 3 * PER:-1]) & {0, 1, 2, 11}
        assert labels[j].tolist() == repeat_labels(src, PER, 7).tolist()
    again, _ = continue_split(m, split, cfg, allowed)
    assert np.array_equal(gen.tokens, again.tokens)  # --seed decides


def test_policy_fit_moves_the_own_repeat_chance_towards_the_real_rate():
    m, split = model(2), tunes(12, 26, seed=3)
    cfg = PolicyConfig(primer_bars=4, bars=8, outputs=4)
    table, labels = policy_table(m, m, split, cfg)
    assert len(labels) == 12 * 4 * 8 and table["c_row"].shape == labels.shape
    net = {k: v.clone() for k, v in m.state_dict().items() if not k.startswith("bar_copy.")}
    start = measure(m.bar_copy, table, torch.arange(0), labels=labels)
    real = collect_bars(m, split).tensors()
    fit_form(m.bar_copy, real, FormFitConfig(weight=0.0, policy_weight=5.0, epochs=30, batch_size=64,
                                             repeat_batch=64, lr=1e-2), (table, labels))
    end = measure(m.bar_copy, table, torch.arange(0), labels=labels)
    gap = abs(start["p_repeat"] - start["real_repeat"])
    assert gap > 0.05
    assert abs(end["p_repeat"] - end["real_repeat"]) < gap / 2
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in net.items())


def test_calibrate_form_on_own_continuations_needs_long_tunes(tiny_dataset, tiny_run, tmp_path):
    """The tiny tunes have 8 bars: a one-line error, not a traceback."""
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig

    train(tiny_dataset, tmp_path / "head", {"bar_copy": 4},
          TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=1, warmup_steps=2, train_only="bar_copy"),
          init_from=str(tiny_run), progress=False)
    r = CliRunner().invoke(main, ["calibrate-form", str(tmp_path / "head" / "best.pt"), str(tiny_dataset),
                                  "-o", str(tmp_path / "cal.pt"), "--policy-weight", "5", "--epochs", "1"])
    assert r.exit_code == 1 and "24 bars to continue" in r.output and r.output.count("\n") == 1
    assert not (tmp_path / "cal.pt").exists()
