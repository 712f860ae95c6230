"""Hostile generation options (issue 31, items 5, 7 and 8): wide beams, work over the budget,
temperatures that are not numbers, text models and datasets where tunes are wanted. Each
refusal is one line on stderr and a non-zero exit; what is accepted gives real music."""

import math
import re
import warnings

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from cli_errors import one_line_error

from melodyrnn.cli.main import main
from melodyrnn.core.beam import beam_search
from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.core.sampling import MIN_TEMPERATURE, SamplingConfig, log_softmax
from melodyrnn.music.generated import MAX_WORK, GenerateConfig


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory):
    from tunes import motif_tune

    from melodyrnn.music.midi_io import write_midi

    path = tmp_path_factory.mktemp("seed") / "seed.mid"
    write_midi(motif_tune(0), path)
    return path


# -- item 5: a beam wider than the ids allowed ------------------------------------------------
def test_a_beam_wider_than_the_allowed_ids_keeps_only_possible_continuations():
    allowed = torch.tensor([True, True, False, False, False])  # 2 of 5 ids possible
    table = torch.log(torch.tensor([0.7, 0.3, 0.0, 0.0, 0.0]))

    def step(last, state):
        return torch.where(allowed, table, -torch.inf).expand(last.shape[0], -1), state

    ids, scores = beam_search(step, lambda s, i: s, torch.tensor(0), None, 3, 64)
    assert ids.shape == (8, 3) and torch.isfinite(scores).all()  # 2 ** 3 paths, no impossible one
    assert set(ids.flatten().tolist()) == {0, 1} and ids[0].tolist() == [0, 0, 0]
    assert math.isclose(float(scores[0]), 3 * math.log(0.7), rel_tol=1e-6)


def test_nan_hypotheses_never_win_the_beam():
    """A row the rules left empty gives NaN log-probs; topk ranks NaN first."""
    def step(last, state):
        rows = torch.log(torch.tensor([[0.6, 0.4, 0.0]])).expand(last.shape[0], -1).clone()
        rows[last == 2] = torch.nan  # id 2 is a dead end
        return rows, state

    ids, scores = beam_search(step, lambda s, i: s, torch.tensor(0), None, 2, 9)
    assert torch.isfinite(scores).all() and 2 not in ids.flatten().tolist()
    with pytest.raises(ValueError, match="no continuation is possible"):
        beam_search(lambda last, s: (torch.full((last.shape[0], 3), -torch.inf), s),
                    lambda s, i: s, torch.tensor(0), None, 1, 4)


def test_log_softmax_of_a_row_with_nothing_allowed_is_minus_infinity_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = log_softmax(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    assert np.isneginf(out[0]).all() and out[1].tolist() == [0.0, -np.inf]


def test_generate_with_beam_128_gives_notes_and_finite_bits(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the numpy warning of the report
        r = CliRunner().invoke(main, ["generate", "--beam-size", "128", "--bars", "2", "--num-outputs", "2",
                                      "--output-dir", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    found = re.findall(r"(\d+) new notes, (\S+) bits/note", r.stderr)
    assert len(found) == 2, r.stderr
    assert all(int(n) > 0 and math.isfinite(float(b)) for n, b in found), r.stderr


# -- item 5: the work budget -------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["--beam-size", "256", "--bars", "64", "--num-outputs", "1"],  # ran past 60 s
    ["--beam-size", "64", "--bars", "1024", "--num-outputs", "4"],  # the studio's stuck request
    ["--num-outputs", "1000", "--bars", "9"],
    ["--steps", "98304", "--num-outputs", "2"],  # 6144 bars of 16 steps, twice
])
def test_work_over_the_budget_is_refused_in_one_line(args, tmp_path):
    line = one_line_error(["generate", *args, "--output-dir", str(tmp_path / "g")])
    assert f"budget of {MAX_WORK}" in line and "bars x num_outputs x beam_size" in line, line
    assert not (tmp_path / "g").exists()


def test_the_budget_is_the_config_s_so_every_caller_gets_it():
    with pytest.raises(ValueError, match=f"budget of {MAX_WORK}"):
        GenerateConfig(num_outputs=1, bars=64, decode=DecodeConfig(beam_size=256))
    with pytest.raises(ValueError, match="budget"):
        GenerateConfig(num_outputs=2, bars=8, decode=DecodeConfig(beam_size=64, branch_factor=16))
    GenerateConfig(num_outputs=1, bars=MAX_WORK // 256, decode=DecodeConfig(beam_size=256))  # at it: fine


# -- item 8: temperatures and other floats that are not numbers ----------------------------------
@pytest.mark.parametrize("args, reason", [
    (["--temperature", "nan"], "not a finite number"), (["--temperature", "inf"], "not a finite number"),
    (["--temperature", "1e-320"], f">= {MIN_TEMPERATURE:g}"), (["--top-p", "nan"], "not a finite number"),
])
def test_generate_refuses_temperatures_that_give_no_notes(args, reason, tmp_path):
    line = one_line_error(["generate", *args, "--output-dir", str(tmp_path / "g")])
    assert reason in line, line


@pytest.mark.parametrize("bad", [dict(temperature=math.nan), dict(temperature=math.inf),
                                 dict(temperature=1e-320), dict(temperature=0.0),
                                 dict(top_p=math.nan), dict(top_k=-1)])
def test_sampling_settings_are_checked_where_every_caller_builds_them(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SamplingConfig(**bad)
    SamplingConfig(temperature=MIN_TEMPERATURE, top_p=1.0, top_k=0)


@pytest.mark.parametrize("args, reason", [
    (["--temperature", "nan"], "not a finite number"), (["--top-p", "inf"], "--top-p"),
    (["--temperature", "1e-320"], "temperature must be"),
    (["--num-outputs", "100000"], "num_outputs must be 1..1000"),
    (["--num-outputs", "1000", "--bars", "9"], "budget"),
])
def test_evaluate_continuations_refuses_bad_settings_before_any_tune(args, reason, seed_file):
    line = one_line_error(["evaluate-continuations", "default", str(seed_file), *args])
    assert reason in line and "bars to continue" not in line, line


# -- item 7: a text model or dataset where tunes are wanted ---------------------------------------
@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    import melodyrnn as mr
    from melodyrnn.core.models import ModelConfig, build_model
    from melodyrnn.text.encodings import CharEncoding

    enc = CharEncoding.fit(["the cat sat on the mat\n"])
    path = tmp_path_factory.mktemp("text") / "text.pt"
    mr.save(path, build_model(ModelConfig(vocab_size=len(enc.vocab), kind="gru", hidden=8, layers=1,
                                          embedding=4)), enc)
    return path


@pytest.mark.parametrize("with_seed", [True, False])
def test_generate_with_a_text_model_says_so_in_one_line(with_seed, text_model, seed_file, tmp_path):
    args = ["generate", *([str(seed_file)] if with_seed else []), "--model", str(text_model),
            "--output-dir", str(tmp_path / "g")]
    line = one_line_error(args)
    assert "text model" in line and "--prompt" in line, line
    assert not (tmp_path / "g").exists()


def test_evaluate_samples_against_a_text_dataset_says_so_in_one_line(seed_file, tmp_path):
    import melodyrnn as mr

    mr.dataset_from_sequences([["do", "re", "mi"]] * 20, tmp_path / "text_ds", valid=0.2, test=0.2)
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "a.mid").write_bytes(seed_file.read_bytes())
    line = one_line_error(["evaluate-samples", str(tmp_path / "gen"), str(tmp_path / "text_ds")])
    assert "text dataset" in line and "text_ds" in line, line
    line = one_line_error(["evaluate-samples", str(tmp_path / "text_ds"), str(tmp_path / "gen")])
    assert "text dataset" in line, line


def test_tunes_that_fail_for_another_reason_than_length_are_not_called_short(seed_file, monkeypatch):
    """Every tune skipped used to be reported as 'no tune has N bars to continue'."""
    import melodyrnn.music.continuations as continuations

    def failing(*args, **kwargs):
        raise ValueError("no pitch satisfies the constraints")

    monkeypatch.setattr(continuations, "generate", failing)
    cfg = continuations.ContinuationConfig(primer_bars=1, bars=1)
    with pytest.raises(ValueError, match="no tune could be continued .*no pitch satisfies"):
        continuations.evaluate_continuations("default", [str(seed_file)], cfg, features=False)


def test_every_float_option_of_every_command_refuses_nan_and_inf():
    """click's FloatRange and float let NaN through; each command's float options must not."""
    import click

    from melodyrnn.cli import main as cli
    from melodyrnn.cli.common import FiniteFloatRange

    def commands(group, path=()):
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                yield from commands(cmd, (*path, name))
            else:
                yield (*path, name), cmd

    floats = [(path, p.name) for path, cmd in commands(cli) for p in cmd.params
              if isinstance(p.type, (click.types.FloatParamType, click.FloatRange))
              and not isinstance(p.type, FiniteFloatRange)]
    assert not floats, floats
    ok = [p for _, cmd in commands(cli) for p in cmd.params if isinstance(p.type, FiniteFloatRange)]
    assert len(ok) > 10  # the commands' float options were found
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(click.BadParameter):
            ok[0].type.convert(bad, ok[0], None)
