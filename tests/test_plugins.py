import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core import registry
from melodyrnn.music.midi_io import read_midi, write_midi

from tunes import motif_tune

EXAMPLE = Path(__file__).parent / "plugin_example"


@pytest.fixture()
def broken_plugin(monkeypatch):
    ep = EntryPoint(name="broken", value="no_such_module_for_melodyrnn:Encoding",
                    group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == ep.group else [])


def test_plugins_lists_built_ins_and_reports_a_broken_plugin_by_name(broken_plugin):
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:6] == [f"melodyrnn.encodings\t{n}\tbuilt-in"
                         for n in ("melody", "performance", "chorale", "char", "word", "tokens")]
    assert lines[6].startswith("melodyrnn.encodings\tbroken\t")
    assert "FAILED: ModuleNotFoundError" in lines[6]
    assert "melodyrnn.models\tlstm\tbuilt-in" in lines
    assert "1 plugin(s) failed to load" in result.stderr


def test_a_broken_plugin_leaves_the_rest_working(broken_plugin):
    assert registry.get_encoding("melody").name == "melody"  # built-ins never load plugins
    with pytest.warns(UserWarning, match="'broken'.*failed to import"):
        names = "char, chorale, melody, performance, tokens, word"
        with pytest.raises(ValueError, match=f"'nope'; choose from {names}$"):
            registry.get_encoding("nope")


def test_installed_example_plugin_works_end_to_end(tmp_path):
    """pip-installs tests/plugin_example into tmp_path, then ingests, trains and generates
    with its encoding and model kind in fresh processes that see it."""
    import shutil

    site, source = tmp_path / "site", tmp_path / "plugin_example"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                          "--no-build-isolation", "--no-index", "--target", str(site), str(source)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def melodyrnn(*args):
        r = subprocess.run([sys.executable, "-m", "melodyrnn", *map(str, args)], env=env,
                           capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout

    listing = melodyrnn("plugins")
    assert "melodyrnn.encodings\tpitches\tmelodyrnn-example-plugin 0.1.0" in listing
    assert "melodyrnn.models\trelu-rnn\tmelodyrnn-example-plugin 0.1.0" in listing
    (tmp_path / "midi").mkdir()
    for i in range(30):
        write_midi(motif_tune(i), tmp_path / "midi" / f"t{i}.mid")
    melodyrnn("ingest", tmp_path / "midi", "-o", tmp_path / "ds", "--encoding", "pitches",
              "--workers", "1", "-q")
    melodyrnn("train", tmp_path / "ds", "-o", tmp_path / "run", "--model", "relu-rnn", "--hidden", "16",
              "--layers", "1", "--embedding", "8", "--max-steps", "4", "--batch-size", "4", "-q")
    out = melodyrnn("generate", "--model", tmp_path / "run" / "best.pt", "--steps", "12",
                    "--num-outputs", "1", "--output-dir", tmp_path / "gen")
    tune = read_midi(out.strip())
    assert len(tune.tracks[0]) == 12  # one note per generated pitch token (no early end)
