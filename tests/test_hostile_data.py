"""Damaged data and bad numbers: a cut cache file, a short vocabulary, an empty valid split,
non-finite learning rates, a full disk, folder permissions, a pipeline with nothing to read."""

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.atomic import atomic_path
from melodyrnn.core.registry import get_encoding
from melodyrnn.music.ingest.build import IngestConfig, run_ingest

SMALL = ["--hidden", "16", "--layers", "1", "--embedding", "8", "--batch-size", "8", "--seq-len", "32",
         "--warmup", "2", "-q"]


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def one_line_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and text in result.stderr, result.stderr


def ingest(midi: Path, out: Path, **kw):
    kw = {"valid": 0.15, "test": 0.15, **kw}
    return run_ingest(IngestConfig(inputs=(str(midi),), output=str(out), encoding=get_encoding("melody").to_dict(),
                                   workers=1, progress=False, **kw))


@pytest.mark.parametrize("damage", ["cut", "garbled"])
def test_a_damaged_cache_file_counts_as_missing(tiny_dataset, tmp_path, damage):
    out = tmp_path / "ds"
    first = ingest(tiny_dataset.parent / "midi", out)
    chunk = next((out / ".cache").rglob("chunk-*.npz"))
    if damage == "cut":
        chunk.write_bytes(chunk.read_bytes()[:len(chunk.read_bytes()) // 2])
    else:  # a readable zip whose arrays disagree
        with np.load(chunk) as z:
            arrays = dict(z)
        arrays["offsets"] = arrays["offsets"][:-3]
        with open(chunk, "wb") as f:
            np.savez(f, **arrays)
    again = ingest(tiny_dataset.parent / "midi", out)
    assert again.cache_broken == 1 and again.cached == 0 and again.splits == first.splits
    assert "1 damaged cache files removed" in again.summary()
    third = ingest(tiny_dataset.parent / "midi", out)  # the cache is whole again
    assert third.cache_broken == 0 and third.cached == first.files


def test_ids_beyond_the_vocabulary_are_refused_at_load(tiny_dataset, tmp_path):
    data = tmp_path / "ds"
    shutil.copytree(tiny_dataset, data)
    meta = json.loads((data / "meta.json").read_text())
    meta["vocab"]["tokens"] = meta["vocab"]["tokens"][:40]
    (data / "meta.json").write_text(json.dumps(meta))
    one_line_error(cli("train", data, "-o", tmp_path / "run", *SMALL, "--max-steps", "2"),
                   "outside the vocabulary of 40 tokens")


REAL_ONLY = ("--policy-weight", "0", "--no-held-out-bias")  # the tiny tunes are too short to continue


@pytest.fixture(scope="module")
def head_model(tiny_dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("head")
    assert cli("train", tiny_dataset, "-o", run, *SMALL, "--lookback", "--bar-copy", "2",
               "--max-steps", "2").exit_code == 0
    return run / "best.pt"


def test_calibrate_form_with_an_empty_valid_split_is_one_line(tiny_dataset, head_model, tmp_path):
    out = ingest(tiny_dataset.parent / "midi", tmp_path / "ds", valid=0.0)
    assert out.splits["valid"]["sequences"] == 0
    one_line_error(cli("calibrate-form", head_model, tmp_path / "ds", "-o", tmp_path / "x.pt",
                       "--epochs", "1", *REAL_ONLY),
                   "no valid sequence has two whole bars")


@pytest.mark.parametrize("lr", ["inf", "nan", "1e300", "0", "-1"])
def test_learning_rates_must_be_finite_and_positive(tiny_dataset, head_model, tmp_path, lr):
    for args in (["calibrate-form", head_model, tiny_dataset, "-o", tmp_path / "x.pt", "--epochs", "1",
                  *REAL_ONLY],
                 ["train", tiny_dataset, "-o", tmp_path / "run", *SMALL, "--max-steps", "1"]):
        result = cli(*args, "--lr", lr)
        assert result.exit_code == (1 if lr == "1e300" else 2)  # click refuses <= 0 and non-finite
        assert len(result.stderr.strip().splitlines()) == 1 and "lr" in result.stderr
        if result.exit_code == 1:
            assert "lr must be a number > 0 and at most 1e+06" in result.stderr
        elif lr in ("inf", "nan"):
            assert "not a finite number" in result.stderr
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "run" / "last.pt").exists()


def test_a_fit_that_diverges_writes_nothing(tiny_dataset, head_model, tmp_path, monkeypatch):
    import torch

    from melodyrnn.core import form_fit

    def diverge(head, *args, **kw):
        with torch.no_grad():
            next(head.parameters()).fill_(float("nan"))

    monkeypatch.setattr(form_fit, "fit_form", diverge)
    one_line_error(cli("calibrate-form", head_model, tiny_dataset, "-o", tmp_path / "x.pt", "--epochs", "1",
                       *REAL_ONLY),
                   "the fit diverged")
    assert not (tmp_path / "x.pt").exists()


def test_a_full_disk_is_named(tmp_path, monkeypatch):
    import melodyrnn.core.atomic as atomic

    def short_write(target):  # what numpy reports when the device fills mid-write
        with atomic_path(target) as tmp, open("/dev/full", "wb") as f:
            tmp.write_bytes(b"x")
            np.arange(10_000).tofile(f)

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(OSError, match=r"could not write .*a\.npy: the write stopped after 0 of 10000 items"):
        short_write(tmp_path / "a.npy")  # room left on the disk: another failure, said as such
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 0))
    with pytest.raises(OSError, match=r"no space left on device writing .*a\.npy") as e:
        short_write(tmp_path / "a.npy")
    assert "requested" not in str(e.value) and not list(tmp_path.iterdir())
    with pytest.raises(OSError, match=r"no space left on device writing .*b\.txt"):
        with atomic_path(tmp_path / "b.txt"):
            raise OSError(28, "No space left on device")


def test_dataset_folders_follow_the_umask(tiny_dataset, tmp_path):
    old = os.umask(0o022)
    try:
        ingest(tiny_dataset.parent / "midi", tmp_path / "ds")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "ds").stat().st_mode) == 0o755


@pytest.mark.parametrize("text, error", [
    ("[ingest]\ninputs = []\n", "[ingest] needs inputs"),
    ("[ingest]\n", "[ingest] needs inputs"),
    ("[ingest]\ninputs = ['x']\n[train]\nhidden = 8\n[generate]\nbars = 2\n", "[generate] needs seeds"),
    ("[ingest]\ninputs = ['x']\n[train]\nlr = inf\n", "lr must be a number > 0")])
def test_a_dry_run_refuses_what_a_run_refuses(tmp_path, text, error):
    (tmp_path / "p.toml").write_text(text)
    for extra in (["--dry-run"], []):
        one_line_error(cli("pipeline", "run", tmp_path / "p.toml", "-o", tmp_path / "run", *extra), error)
