"""Installed without torch (no ``train`` extra): generating, the studio and live answers run on
numpy, and what needs torch says so in one line. A child process hides torch behind a
meta-path hook that fails its import as a missing package does, and counts the tries."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HINT = "needs torch: pip install 'melodyrnn[train]'"

#: the child's prelude: `import torch` (and torch.*) fails as it does where torch is not installed
HIDE_TORCH = """
import importlib.abc, sys
TRIES = []
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            TRIES.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
"""


def run_without_torch(body: str, tmp_path: Path) -> dict:
    """Run ``body`` (which sets ``out``, a dict) in a child process without torch; its ``out``
    plus ``torch_tries`` (the imports of torch tried) come back."""
    script = HIDE_TORCH + "out = {}\n" + body + "\nout['torch_tries'] = TRIES\nprint(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", "import json\n" + script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_hook_hides_torch(tmp_path):
    """The check itself can fail: with the hook, importing torch fails and is counted."""
    out = run_without_torch("try:\n    import torch\n    out['imported'] = True\n"
                            "except ModuleNotFoundError as e:\n    out['imported'] = e.name\n", tmp_path)
    assert out == {"imported": "torch", "torch_tries": ["torch"]}


def test_generate_the_studio_and_live_run_without_torch_and_training_says_what_to_install(tmp_path):
    pytest.importorskip("flask")
    body = f"""
from click.testing import CliRunner
from melodyrnn.cli.main import main

run = lambda *args: CliRunner().invoke(main, list(args), prog_name="melodyrnn")
r = run("--help")
out["help"] = (r.exit_code, list(TRIES))
r = run("generate", {str(ROOT / "samples" / "jig.mid")!r}, "--output-dir", "jig")
out["jig"] = (r.exit_code, r.output[-300:], list(TRIES))
r = run("generate", {str(ROOT / "samples" / "hymn.mid")!r}, "--bars", "8", "--output-dir", "hymn")
out["hymn"] = (r.exit_code, r.output[-300:], list(TRIES))

from melodyrnn.studio.app import create_app
from melodyrnn.studio.session import Studio
studio = Studio()
client = create_app(studio).test_client()
client.environ_base["HTTP_X_MELODYRNN_TOKEN"] = studio.token
def generate(**fields):
    r = client.post("/api/generate", data=dict(primer="60 62 64 65", bars="4", num_outputs="2", **fields),
                    content_type="multipart/form-data")
    return r.status_code, r.get_json()
code, js = generate()
out["studio"] = (code, len(js.get("outputs", [])), list(TRIES))
out["studio_beam"] = (*generate(beam_size="2"), TRIES[:])
TRIES.clear()
studio.close()

from melodyrnn.live.engine import ModelResponder
from melodyrnn.music.midi_io import read_midi
notes = ModelResponder("default")(read_midi({str(ROOT / "samples" / "jig.mid")!r}), 2, 1.0, 0)
out["live"] = (len(notes), list(TRIES))

r = run("train", "jig", "-o", "run")
out["train"] = (r.exit_code, r.output)
r = run("evaluate", "default", "jig")
out["evaluate"] = (r.exit_code, r.output)
import melodyrnn
try:
    melodyrnn.train
except ImportError as e:
    out["api"] = str(e)
"""
    out = run_without_torch(body, tmp_path)
    assert out["help"] == [0, []]
    for name in ("jig", "hymn"):  # four outputs each, and no try at importing torch
        code, output, tries = out[name]
        assert code == 0 and tries == [], (name, output, tries)
        assert len(list((tmp_path / name).glob("*.mid"))) == 4
    assert out["studio"] == [200, 2, []]
    assert out["live"][0] > 0 and out["live"][1] == []
    code, js, tries = out["studio_beam"]  # beam search needs torch: a 4xx with one line
    assert code == 400 and js == {"error": f"beam search (a beam size over 1) {HINT}"} and tries
    assert out["train"] == [1, f"Error: melodyrnn train {HINT}\n"]
    assert out["evaluate"] == [1, f"Error: melodyrnn evaluate {HINT}\n"]
    assert out["api"] == f"melodyrnn.train {HINT}"
    assert out["torch_tries"]  # training did try, and was told


def test_the_train_command_says_in_one_line_what_to_install(tmp_path):
    """The installed command, as a user runs it: one line on stderr, exit 1, no traceback."""
    (tmp_path / "data").mkdir()
    script = HIDE_TORCH + "import runpy\nsys.argv = ['melodyrnn', 'train', 'data', '-o', 'run']\n" \
        "runpy.run_module('melodyrnn', run_name='__main__')\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stderr) == (1, f"Error: melodyrnn train {HINT}\n")
