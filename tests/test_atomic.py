import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from melodyrnn.core.atomic import atomic_write_bytes
from melodyrnn.core.dataset import SplitArrays, write_split
from melodyrnn.music.midi_io import write_midi

from tunes import track, tune


def test_failed_write_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_midi(tune(track([(60, 0, 1)])), tmp_path / "out.mid")
    with pytest.raises(OSError):
        write_split(tmp_path, "train", SplitArrays.empty(), np.uint16)
    assert list(tmp_path.iterdir()) == []  # no final file, no temp file


def test_existing_file_survives_a_failed_rewrite(tmp_path, monkeypatch):
    target = tmp_path / "meta.json"
    atomic_write_bytes(target, b"old")

    class Boom(Exception):
        pass

    def write_then_fail(self, data):
        raise Boom

    monkeypatch.setattr(type(target), "write_bytes", write_then_fail)
    with pytest.raises(Boom):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_sample_script_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["ingest_and_decode.py", str(tmp_path)])
    script = Path(__file__).resolve().parent.parent / "samples" / "ingest_and_decode.py"
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "decoded.mid").is_file()
    assert "8 files: 8 ok" in capsys.readouterr().out


def test_atomic_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "x", b"1")
    finally:
        os.umask(old)
    assert (tmp_path / "x").stat().st_mode & 0o777 == 0o644


def test_committed_seed_tunes_are_what_the_script_composes(tmp_path, monkeypatch, capsys):
    samples = Path(__file__).resolve().parent.parent / "samples"
    monkeypatch.setattr(sys, "argv", ["compose_seeds.py", str(tmp_path)])
    runpy.run_path(str(samples / "compose_seeds.py"), run_name="__main__")
    for name in ("jig", "reel", "waltz", "hymn"):
        assert (tmp_path / f"{name}.mid").read_bytes() == (samples / f"{name}.mid").read_bytes()
