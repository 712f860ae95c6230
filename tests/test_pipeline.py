import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.music.midi_io import write_midi
from melodyrnn.pipeline.plan import load_pipeline, plan

from tunes import motif_tune

TOML = """
[pipeline]
name = "t"
seed = 3

[ingest]
inputs = ["${{TUNES}}"]
workers = 1
valid = 0.15
test = 0.15
quiet = true

[train]
hidden = 16
layers = 1
embedding = 8
lookback = true
epochs = 2
batch_size = 8
seq_len = 32
checkpoint_every = 5

[generate]
seeds = "${{SEEDS}}"
unprimed = 2
num_outputs = 2
bars = {bars}
workers = 2
render = []

[evaluate]
max_pieces = 50
continuations = true         # held-out tunes continued from bar 3, compared with their own
primer_bars = 2
continuation_bars = 4

[report]
"""


@pytest.fixture()
def collection(tmp_path, monkeypatch):
    tunes, seeds = tmp_path / "tunes", tmp_path / "seeds"
    tunes.mkdir()
    seeds.mkdir()
    for i in range(40):
        write_midi(motif_tune(i), tunes / f"t{i:02d}.mid")
    write_midi(motif_tune(100), seeds / "good.mid")
    (seeds / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    monkeypatch.setenv("TUNES", str(tunes))
    monkeypatch.setenv("SEEDS", str(seeds))
    return tmp_path


def write_toml(folder: Path, bars: int = 2) -> Path:
    path = folder / "p.toml"
    path.write_text(TOML.format(bars=bars))
    return path


def screenshot(exe: str, page: Path, png: Path) -> None:
    """Render the report in headless Chromium ``exe``, as a person would open it, and check
    that the page drew something: a tall image with plots in it, not a blank or error page."""
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,3000", f"--screenshot={png}", page.as_uri()],
                   capture_output=True, timeout=120)
    from matplotlib.image import imread

    pixels = imread(png)
    assert pixels.shape[0] == 3000 and pixels.shape[1] == 1200
    colours = {tuple(p) for p in pixels[::7, ::7, :3].reshape(-1, 3).round(2).tolist()}
    assert len(colours) > 50  # text, tables and plots, not a single-colour page


def run(args) -> str:
    result = CliRunner().invoke(main, ["pipeline", "run", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_runs_every_stage_then_caches_and_reruns_only_what_changed(collection):
    toml, out = write_toml(collection), collection / "run"
    summary = json.loads(run([str(toml), "-o", str(out)]))
    assert set(summary["stages"]) == {"ingest", "train", "generate", "evaluate", "report"}
    p = load_pipeline(toml, str(out))
    model = str(plan(p)[1].folder.relative_to(out) / "best.pt")
    assert summary["stages"]["generate"] == {"model": model, "seeds": 3, "ok": 2,
                                             "skipped": 1, "outputs": 4, "render": []}
    records = [json.loads(x) for x in (Path(json.loads((out / "pipeline.json").read_text())
                                       ["stages"]["generate"]) / "generate.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["skipped", "ok", "ok"]  # broken.mid, good.mid, unprimed
    page = (out / "report.html").read_text()
    for part in ("Settings", "Dataset", "Training", "Evaluation", "Samples", "data:image/png;base64",
                 "overlap area", "broken.mid", "Continuations of held-out tunes", "repeat fraction",
                 "pitch_bits_per_note"):
        assert part in page
    p = load_pipeline(toml, str(out))
    assert all(s.cached for s in plan(p))
    dry = run([str(toml), "-o", str(out), "--dry-run"])
    assert dry.count("cached") == 5
    write_toml(collection, bars=3)  # one generate setting changed
    p = load_pipeline(toml, str(out))
    assert [s.cached for s in plan(p)] == [True, True, False, False, False]
    assert [s.cached for s in plan(p, force="train")] == [True, False, False, False, False]
    mtime = (Path(plan(p)[1].folder) / "best.pt").stat().st_mtime
    run([str(toml), "-o", str(out)])
    assert (Path(plan(p)[1].folder) / "best.pt").stat().st_mtime == mtime  # train not re-run
    assert all(s.cached for s in plan(load_pipeline(toml, str(out))))


def test_bad_pipeline_files_get_one_line_errors(collection, monkeypatch):
    bad = collection / "bad.toml"
    for text, message in [("[trian]\n", "unknown table [trian]"),
                          ("[train]\nhiden = 3\n[ingest]\ninputs=['x']\n", "unknown option 'hiden'"),
                          ("[train]\n", "[train] needs a [ingest] stage"),
                          ("[ingest]\ninputs = ['${NOPE_NOT_SET}']\n", "${NOPE_NOT_SET} is not set"),
                          ("[ingest\n", "not valid TOML")]:
        bad.write_text(text)
        result = CliRunner().invoke(main, ["pipeline", "run", str(bad), "-o", str(collection / "x")])
        assert result.exit_code == 1 and message in result.output, (text, result.output)
        assert "Traceback" not in result.output


def _outputs(run_dir: Path) -> dict:
    stages = json.loads((run_dir / "pipeline.json").read_text())["stages"]
    files = {}
    for stage in ("generate", "evaluate"):
        for f in sorted(Path(stages[stage]).iterdir()):
            if f.suffix in (".mid", ".json", ".jsonl", ".md"):
                files[f"{stage}/{f.name}"] = f.read_bytes()
    import torch

    files["weights"] = torch.load(Path(stages["train"]) / "best.pt", weights_only=True)["model_state"]
    return files


def test_killed_run_resumes_to_the_same_outputs(collection):
    import torch

    # every part of both runs on one thread, as the killed process: CPU kernels may sum in
    # another order on another thread count (on AMD EPYC hosts they do), changing the weights
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _resume_and_compare(collection)
    finally:
        torch.set_num_threads(threads)


def _resume_and_compare(collection):
    toml = write_toml(collection)
    run([str(toml), "-o", str(collection / "whole")])
    cmd = [sys.executable, "-m", "melodyrnn", "pipeline", "run", str(toml), "-o", str(collection / "cut")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not list((collection / "cut").glob("train-*/last.pt")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (collection / "cut" / "report.html").exists()
    run([str(toml), "-o", str(collection / "cut")])
    a, b = _outputs(collection / "whole"), _outputs(collection / "cut")
    assert a.keys() == b.keys()
    for k in a:
        if k == "weights":
            assert all((a[k][n] == b[k][n]).all() for n in a[k])
        else:
            assert a[k] == b[k], k


def test_sharded_ingest_and_torchrun_training(collection):
    text = TOML.format(bars=2)
    text = text[:text.index("[generate]")].replace("checkpoint_every = 5", "max_steps = 6")
    (collection / "one.toml").write_text(text)
    (collection / "many.toml").write_text(
        text.replace("quiet = true", "quiet = true\nshards = 3")
            .replace("max_steps = 6", 'max_steps = 6\nnproc = 2\ndevice = "cpu"'))
    one = json.loads(run([str(collection / "one.toml"), "-o", str(collection / "one")]))["stages"]
    many = json.loads(run([str(collection / "many.toml"), "-o", str(collection / "many")]))["stages"]
    assert many["ingest"]["shards"] == 3 and many["ingest"]["splits"] == one["ingest"]["splits"]
    assert many["train"]["best_valid"]["tokens"] == one["train"]["best_valid"]["tokens"]
    folder = json.loads((collection / "many" / "pipeline.json").read_text())["stages"]["train"]
    assert (Path(folder) / "best.pt").is_file()


def write_text_toml(tmp_path: Path) -> Path:
    (tmp_path / "t.txt").write_text("%\n".join(f"fortune {i}: be kind to {i % 5} cats\n"
                                               for i in range(60)))
    (tmp_path / "text.toml").write_text(f"""
[ingest]
inputs = ["{tmp_path / 't.txt'}"]
encoding = "char"
valid = 0.2
test = 0.2
[train]
hidden = 16
layers = 1
max_steps = 3
batch_size = 8
seq_len = 32
[generate]
prompts = ["fortune", "be kind"]
num_outputs = 2
steps = 20
[evaluate]
[report]
""")
    return tmp_path / "text.toml"


def test_text_pipeline_completes_prompts(tmp_path):
    summary = json.loads(run([str(write_text_toml(tmp_path)), "-o", str(tmp_path / "run")]))["stages"]
    assert summary["generate"] == {"prompts": 2, "outputs": 4}
    assert "bits_per_char" in summary["evaluate"]
    page = (tmp_path / "run" / "report.html").read_text()
    assert "prompt1-1.txt" in page and "<pre>be kind" in page and "bits_per_char" in page


@pytest.mark.needs_chromium
def test_the_report_page_draws_in_a_browser(tmp_path, chromium):
    run([str(write_text_toml(tmp_path)), "-o", str(tmp_path / "run")])
    screenshot(chromium, tmp_path / "run" / "report.html", tmp_path / "report.png")


def test_a_text_folders_files_key_the_ingest_stage(tmp_path):
    """Text inputs are hashed like MIDI ones: editing a .txt in an input folder (not only a
    file named explicitly) makes the ingest stage, and all after it, run again."""
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("%\n".join(f"fortune {i}\n" for i in range(30)))
    toml = tmp_path / "t.toml"
    toml.write_text(f'[ingest]\ninputs = ["{folder}"]\nencoding = "char"\n')
    before = [s.key for s in plan(load_pipeline(toml, str(tmp_path / "run")))]
    (folder / "a.txt").write_text("%\n".join(f"fortune {i}, edited\n" for i in range(30)))
    after = [s.key for s in plan(load_pipeline(toml, str(tmp_path / "run")))]
    (folder / "notes.md").write_text("not read by a text encoding")
    assert before != after
    assert [s.key for s in plan(load_pipeline(toml, str(tmp_path / "run")))] == after


def test_train_stage_fine_tunes_a_checkpoint_and_its_bytes_key_the_stage(collection, tiny_run):
    """[train] init_from adds the bar-copy head to a checkpoint's network; editing that
    checkpoint file changes the stage's key (and so everything after it)."""
    import shutil

    from melodyrnn.core.checkpoint import load_checkpoint

    base = collection / "base.pt"
    shutil.copy(tiny_run, base)
    toml = collection / "ft.toml"
    toml.write_text(TOML.format(bars=2).replace("[train]\n", f'[train]\ninit_from = "{base}"\n'
                                               'bar_copy = 2\nadd_on_lr = 1e-2\n'))
    out = collection / "run"
    run([str(toml), "-o", str(out)])
    p = load_pipeline(toml, str(out))
    trained = load_checkpoint(Path(plan(p)[1].folder) / "best.pt")
    assert trained["model_config"]["form"]["bars"] == 2
    assert trained["model_config"]["hidden"] == load_checkpoint(base)["model_config"]["hidden"]
    assert all(s.cached for s in plan(p))
    base.write_bytes(base.read_bytes() + b"\0")  # another checkpoint under the same name
    assert [s.cached for s in plan(load_pipeline(toml, str(out)))] == [True, False, False, False, False]


CHAIN = """
[pipeline]
name = "chain"

[ingest]
inputs = ["${TUNES}"]
workers = 1
valid = 0.15
test = 0.15
quiet = true

[generate]                   # listed first: the kinds run in their order (ingest, model stages, generate...)
unprimed = 1
num_outputs = 1
bars = 2
render = []

[train]
hidden = 16
layers = 1
embedding = 8
lookback = true
epochs = 1
batch_size = 8
seq_len = 32

[train-head]                 # model stages run in the file's order among themselves
init_from = "@train"
bar_copy = 2
train_only = "bar_copy"
epochs = 1
batch_size = 8
seq_len = 32

[calibrate]
epochs = 1
policy_weight = 0.0          # the tiny tunes are too short to continue (8 bars)
held_out_bias = false

[report]
"""


def test_model_stages_chain_network_then_head_then_refit(collection):
    """[train-LABEL] stages fine-tune the model named by init_from = "@NAME"; [calibrate]
    refits the last model stage's head; generate uses the calibrated model; the network is
    the same from the first train stage to the end."""
    from melodyrnn.core.checkpoint import load_checkpoint

    toml, out = collection / "chain.toml", collection / "run"
    toml.write_text(CHAIN)
    p = load_pipeline(toml, str(out))
    assert [s.name for s in plan(p)] == ["ingest", "train", "train-head", "calibrate", "generate", "report"]
    summary = json.loads(run([str(toml), "-o", str(out)]))
    folders = {s.name: Path(s.folder) for s in plan(p)}
    net = load_checkpoint(folders["train"] / "best.pt")
    head = load_checkpoint(folders["train-head"] / "best.pt")
    final = load_checkpoint(folders["calibrate"] / "model.pt")
    assert "form" not in net["model_config"] or not net["model_config"]["form"]["bars"]
    assert head["model_config"]["form"]["bars"] == 2 and final["train_config"]["form_fit"]["epochs"] == 1
    for key, value in net["model_state"].items():  # train_only bar_copy, and the refit: network kept
        assert torch.equal(final["model_state"][key], value), key
    assert any(not torch.equal(final["model_state"][k], v) for k, v in head["model_state"].items())
    assert summary["stages"]["calibrate"]["valid_after"]["bars"] > 0
    assert summary["stages"]["generate"]["model"] == str(folders["calibrate"].relative_to(out) / "model.pt")
    assert summary["stages"]["generate"]["ok"] == 1
    page = (out / "report.html").read_text()
    assert page.count("Best valid:") == 2 and "[train-head]" in page  # each train stage's curves
    assert all(s.cached for s in plan(load_pipeline(toml, str(out))))
    # the head stage cut off before it wrote stage.json: the rerun resumes it from its last.pt
    # (its table names the head alone; the network is its base's) and the later stages reuse
    best = (folders["train-head"] / "best.pt").read_bytes()
    (folders["train-head"] / "stage.json").unlink()
    run([str(toml), "-o", str(out)])
    assert (folders["train-head"] / "best.pt").read_bytes() == best
    bad = collection / "bad.toml"
    for text, message in [(CHAIN.replace('"@train"', '"@nothing"'), "no model stage [nothing] before it"),
                          (CHAIN + "[generate-x]\n", "only model stages"),
                          (CHAIN.replace("[train]", "[trainx]"), "unknown table [trainx]")]:
        bad.write_text(text)
        r = CliRunner().invoke(main, ["pipeline", "run", str(bad), "-o", str(collection / "x")])
        assert r.exit_code == 1 and message in r.output, (message, r.output)


def test_a_failure_at_any_rename_resumes_to_the_same_outputs(collection, monkeypatch):
    """os.replace / os.rename (every atomic write and the dataset swap) fail once at spread
    points of a run (a full disk, a kill) -- at every one of them with MELODYRNN_EVERY_RENAME=1
    (a few minutes); the re-run ends with the outputs of a run that never failed."""
    toml = write_toml(collection)
    real_replace, real_rename, count = os.replace, os.rename, {"n": 0}

    def counting(fn):
        def wrapped(a, b, *args, **kw):
            count["n"] += 1
            if count["n"] == count.get("fail"):
                raise OSError(28, "No space left on device")
            return fn(a, b, *args, **kw)
        return wrapped

    monkeypatch.setattr(os, "replace", counting(real_replace))
    monkeypatch.setattr(os, "rename", counting(real_rename))
    run([str(toml), "-o", str(collection / "whole")])
    total = count["n"]
    whole = _outputs(collection / "whole")
    assert total > 20
    failed = 0
    points = (range(1, total + 1) if os.environ.get("MELODYRNN_EVERY_RENAME") else
              (total // 5, 2 * total // 5, 3 * total // 5, 4 * total // 5))
    for i, k in enumerate(points):
        out = collection / f"cut{i}"
        count.update(n=0, fail=k)
        failed += CliRunner().invoke(main, ["pipeline", "run", str(toml), "-o", str(out)]).exit_code != 0
        count.update(n=0, fail=None)
        run([str(toml), "-o", str(out)])
        cut = _outputs(out)
        assert cut.keys() == whole.keys(), k
        for key in whole:
            if key == "weights":
                assert all((whole[key][n] == cut[key][n]).all() for n in whole[key]), k
            else:
                assert whole[key] == cut[key], (k, key)
    assert failed >= 3  # the failures did stop those runs
    print(f"{total} renames; {failed} of {len(points)} failing runs stopped, every re-run complete")


def test_every_shipped_pipeline_file_passes_its_load_checks(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MELODYRNN_DATA", str(data_dir))
    root = Path(__file__).resolve().parent.parent
    for toml in sorted((root / "pipelines").glob("*.toml")):
        if "\nran_at = " in toml.read_text():  # an experiment kept as a record of what ran where
            with pytest.raises(ValueError, match="rerun it there"):
                load_pipeline(toml, str(tmp_path / toml.stem))
            continue
        p = load_pipeline(toml, str(tmp_path / toml.stem))
        assert p.stages, toml
