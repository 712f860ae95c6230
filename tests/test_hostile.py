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
    "sizes far beyond the weights held": (_set("hidden", 8192), "asks for at least"),
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


def _run_cli(args, timeout=90):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "melodyrnn", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture()
def traps(tmp_path):
    """A FIFO and /dev/zero under MIDI-looking names (reading either would block or never end)."""
    import os

    fifo, zero = tmp_path / "fifo.mid", tmp_path / "zero.mid"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    return fifo, zero


def test_no_command_blocks_on_a_fifo_or_reads_dev_zero(traps, tiny_run, tmp_path):
    for trap in traps:
        for args in (["generate", str(trap), "--model", str(tiny_run), "--output-dir", str(tmp_path / "g")],
                     ["tracks", str(trap)]):
            r = _run_cli(args)
            assert r.returncode == 1 and "not a regular file" in r.stderr, (args, r.stderr)
            assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_batch_inputs_skip_fifos_and_devices(traps, tmp_path):
    """evaluate-samples and text ingest report such inputs; the pipeline's input hashing
    (even --dry-run) does not block on them."""
    from conftest import _motif_tune

    from melodyrnn.midi_io import write_midi

    folder = traps[0].parent
    for i in range(3):
        write_midi(_motif_tune(i), folder / f"t{i}.mid")
    r = _run_cli(["evaluate-samples", str(folder), str(folder)])
    assert "Traceback" not in r.stderr, r.stderr
    toml = tmp_path / "p.toml"
    toml.write_text(f'[pipeline]\nname = "h"\n[ingest]\ninputs = ["{folder}"]\n')
    r = _run_cli(["pipeline", "run", str(toml), "-o", str(tmp_path / "run"), "--dry-run"])
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    text = tmp_path / "text"
    text.mkdir()
    (text / "a.txt").write_text("hello there\n\nanother one\n" * 20)
    import os

    os.mkfifo(text / "b.txt")
    r = _run_cli(["ingest", str(text), "-o", str(tmp_path / "tds"), "--encoding", "char", "-q"])
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr  # the folder's FIFO is passed by
    r = _run_cli(["ingest", str(text / "a.txt"), str(text / "b.txt"), "-o", str(tmp_path / "tds2"),
                  "--encoding", "char", "-q"])
    assert r.returncode == 1 and "not a regular file" in r.stderr and "Traceback" not in r.stderr
