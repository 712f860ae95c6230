"""Hostile inputs: every one gets a one-line error and a non-zero exit, never a traceback,
and never allocates or runs what it declares."""

import io
import zipfile

import pytest
import torch
from click.testing import CliRunner

from melodyrnn.checkpoint import load_checkpoint
from melodyrnn.cli import main


def one_line_error(args) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, (TypeError, KeyError, RuntimeError, AttributeError))
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _edited(tiny_run, tmp_path, edit) -> str:
    ckpt = load_checkpoint(tiny_run)
    edit(ckpt)
    path = tmp_path / "bad.pt"
    torch.save(ckpt, path)
    return str(path)


def _set(key, value):
    return lambda c: c["model_config"].__setitem__(key, value)


def _drop(key):
    return lambda c: c["model_config"].pop(key)


def _state(fn):
    return lambda c: fn(c["model_state"])


CASES = {
    "extra config key": (_set("surprise", 1), "unexpected keyword"),
    "missing config key": (_drop("vocab_size"), "missing"),
    "string size": (_set("hidden", "256"), "hidden must be an integer"),
    "huge size": (_set("hidden", 2 * 10 ** 9), "outside"),
    "huge vocabulary": (_set("vocab_size", 2 * 10 ** 7), "vocab_size"),
    "config not a dict": (lambda c: c.__setitem__("model_config", [1, 2]), "must be dicts"),
    "state not a dict": (lambda c: c.__setitem__("model_state", "weights"), "must be dicts"),
    "wrong shape": (_state(lambda s: s.__setitem__("out.weight", torch.zeros(3, 3))), "has shape"),
    "missing tensor": (_state(lambda s: s.pop("out.weight")), "missing out.weight"),
    "extra tensor": (_state(lambda s: s.__setitem__("ghost", torch.zeros(1))), "unexpected ghost"),
    "NaN weights": (_state(lambda s: s["out.weight"].fill_(float("nan"))), "not finite"),
    "inf weights": (_state(lambda s: s["out.bias"].fill_(float("inf"))), "not finite"),
    "vocabulary of numbers": (lambda c: c.__setitem__("vocab", {"tokens": [1, 2, 3]}), "token strings"),
    "vocabulary too short": (lambda c: c.__setitem__("vocab", {"tokens": ["a"]}), "tokens in the vocabulary"),
    "id counts not counts": (lambda c: c.__setitem__("train_id_counts", "abc"), "train_id_counts"),
    "encoding without a name": (lambda c: c.__setitem__("encoding", {}), "an encoding is a dict"),
    "encoding setting of a wrong type": (
        lambda c: c["encoding"]["config"].__setitem__("steps_per_quarter", "x"), "bad settings"),
    "encoding of another vocabulary": (lambda c: c.__setitem__("encoding", {"name": "char", "config": {}}),
                                       "tokens, its model"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_checkpoints_get_one_line_errors(case, tiny_run, tiny_dataset, tmp_path):
    edit, reason = CASES[case]
    path = _edited(tiny_run, tmp_path, edit)
    for args in (["evaluate", path, str(tiny_dataset)],
                 ["generate", "--model", path, "--output-dir", str(tmp_path / "out"), "--bars", "2"]):
        line = one_line_error(args)
        assert reason in line, (args[0], line)


def test_text_file_named_pt_and_a_zip_bomb_are_refused(tiny_dataset, tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    assert "not a readable checkpoint" in one_line_error(["evaluate", str(text), str(tiny_dataset)])
    bomb = tmp_path / "bomb.pt"  # a small zip whose one entry inflates to 300 MB
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\0" * (300 << 20))
    bomb.write_bytes(buf.getvalue())
    assert bomb.stat().st_size < 2 << 20
    assert "inflate" in one_line_error(["evaluate", str(bomb), str(tiny_dataset)])
