"""Hostile inputs: every one gets a one-line error and a non-zero exit, never a traceback,
and never allocates or runs what it declares."""

import io
import zipfile

import pytest
import torch
from click.testing import CliRunner

from melodyrnn.core.checkpoint import load_checkpoint
from melodyrnn.cli.main import main

from cli_errors import one_line_error


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
    "extra config key": (_set("surprise", 1), "unknown model setting 'surprise'"),
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
    from tunes import motif_tune

    from melodyrnn.music.midi_io import write_midi

    folder = traps[0].parent
    for i in range(3):
        write_midi(motif_tune(i), folder / f"t{i}.mid")
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


def test_a_file_name_that_is_not_utf8_is_reported_like_any_other(tmp_path):
    """Ingest reports it (escaped) and loads; the pipeline's --dry-run hashes it."""
    import json
    import os

    from tunes import motif_tune

    from melodyrnn.core.dataset import load_dataset
    from melodyrnn.music.midi_io import write_midi

    folder = tmp_path / "tunes"
    folder.mkdir()
    for i in range(6):
        write_midi(motif_tune(i), folder / f"t{i}.mid")
    odd = os.path.join(os.fsencode(folder), b"caf\xe9-\xff.mid")
    with open(odd, "wb") as f:
        f.write((folder / "t0.mid").read_bytes()[:-3])  # a damaged copy, to be reported
    r = _run_cli(["ingest", str(folder), "-o", str(tmp_path / "ds"), "-q"])
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    lines = [json.loads(x) for x in (tmp_path / "ds" / "report.jsonl").read_text().splitlines()]
    assert len(lines) == 7 and any(os.fsencode(x["path"]) == odd for x in lines)
    assert load_dataset(tmp_path / "ds").meta["counts"]["files"] == 7
    toml = tmp_path / "p.toml"
    toml.write_text(f'[pipeline]\nname = "u"\n[ingest]\ninputs = ["{folder}"]\n')
    r = _run_cli(["pipeline", "run", str(toml), "-o", str(tmp_path / "run"), "--dry-run"])
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


def test_merging_a_shard_twice_is_refused(tiny_dataset, tmp_path):
    line = one_line_error(["ingest", "--merge", str(tiny_dataset), str(tiny_dataset),
                           "-o", str(tmp_path / "m")])
    assert "twice" in line


@pytest.mark.parametrize("exchange", [True, False])
def test_rewriting_a_dataset_never_leaves_a_mix(tmp_path, monkeypatch, exchange):
    """Re-ingest (with --transpose-to-key 5, same split sizes) failing at every rename of
    the swap: the folder always loads as the old dataset or the new one, whole (or, killed
    between the two renames of the fallback, not at all until the next run puts the old one
    back); the next run completes and leaves nothing beside it."""
    import os

    import numpy as np
    from tunes import motif_tune

    from melodyrnn.core import dataset as ds_mod
    from melodyrnn.core.dataset import load_dataset
    from melodyrnn.music.midi_io import write_midi

    folder, out = tmp_path / "tunes", tmp_path / "ds"
    folder.mkdir()
    for i in range(12):
        write_midi(motif_tune(i), folder / f"t{i}.mid")

    def ingest(*extra):
        return CliRunner().invoke(main, ["ingest", str(folder), "-o", str(out), "-q", *extra])

    def snapshot():
        d = load_dataset(out)
        return {s: np.asarray(d.split(s).tokens).tobytes() for s in ("train", "valid", "test")}

    assert ingest().exit_code == 0
    old = snapshot()
    if not exchange:
        monkeypatch.setattr(ds_mod, "_exchange", lambda a, b: False)
    real_rename, outcomes = os.rename, set()
    for k in range(1, 6):
        calls = {"n": 0}

        def failing(a, b, k=k):
            calls["n"] += 1
            if calls["n"] == k:
                raise OSError(28, "No space left on device")
            return real_rename(a, b)

        monkeypatch.setattr(ds_mod.os, "rename", failing)
        result = ingest("--transpose-to-key", "5")
        monkeypatch.setattr(ds_mod.os, "rename", real_rename)
        if (out / "meta.json").is_file():
            now = snapshot()
            outcomes.add("old" if now == old else "new")
            meta = load_dataset(out).meta
            assert (meta["encoding"]["config"]["transpose_to_key"] == 5) == (now != old)
        else:
            outcomes.add("none")
            assert result.exit_code != 0
        assert ingest().exit_code == 0 and snapshot() == old  # recovered, or rewritten as before
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.")]
    assert "old" in outcomes


def test_pipeline_seeds_with_one_name_keep_their_own_outputs():
    from melodyrnn.pipeline.stages import unique_stems

    assert unique_stems(["a/jig.mid", "b/jig.mid", "c/sample.mid", "d/jig_2.mid"], {"sample"}) == \
        ["jig", "jig_2", "sample_2", "jig_2_2"]


BAD_PIPELINES = {
    "pipeline = 3\n": "must be a table",
    '[pipeline]\nname = "../../../x"\n[ingest]\ninputs = ["t"]\n': "name",
    '[ingest]\ninputs = ["t"]\n[train]\nepochs = "two"\n': "epochs",
    '[ingest]\ninputs = ["t"]\n[train]\nhidden = -5\n': "hidden",
    '[ingest]\ninputs = ["t"]\nvalid = [1, 2]\n': "valid",
    '[ingest]\ninputs = ["t"]\n[train]\nlookback_bars = "1,2"\n': "lookback_bars",
    '[ingest]\ninputs = ["t"]\n[train]\nepochs = 0\n': "epochs",
    '[ingest]\ninputs = [1, 2]\n': "inputs",
    '[generate]\nmodel = "m.pt"\nunprimed = 1\nbars = 100000\n': "bars",
    '[generate]\nmodel = "m.pt"\nunprimed = "four"\n': "unprimed",
}


@pytest.mark.parametrize("text", sorted(BAD_PIPELINES))
def test_pipeline_files_are_checked_whole_at_load(text, tmp_path):
    """--dry-run catches every type and range, before any stage runs."""
    toml = tmp_path / "p.toml"
    toml.write_text(text)
    line = one_line_error(["pipeline", "run", str(toml), "-o", str(tmp_path / "run"), "--dry-run"])
    assert BAD_PIPELINES[text] in line, line


def test_pipeline_inputs_as_one_string_is_one_folder(tmp_path, monkeypatch):
    """inputs = "tt" keys the ingest stage by the folder tt's files (not by "t" and "t")."""
    from melodyrnn.pipeline.plan import load_pipeline, plan

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "tt"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"one")
    toml = tmp_path / "p.toml"
    toml.write_text('[ingest]\ninputs = "tt"\n')
    before = plan(load_pipeline(toml))[0].key
    (folder / "a.mid").write_bytes(b"two")
    assert plan(load_pipeline(toml))[0].key != before


def test_a_tampered_generate_record_embeds_nothing_outside_the_run(tmp_path):
    import json

    from melodyrnn.pipeline.plan import load_pipeline
    from melodyrnn.pipeline.report import write_report

    secret = tmp_path / "secret.txt"
    secret.write_text("PASSWORD")
    stage = tmp_path / "generate"
    stage.mkdir()
    (stage / "generate.jsonl").write_text(json.dumps(
        {"seed": "x", "status": "ok", "outputs": [{"file": "../secret.txt"}, {"file": str(secret)}]}) + "\n")
    (tmp_path / "p.toml").write_text('[generate]\nmodel = "m.pt"\nunprimed = 1\n')
    pipeline = load_pipeline(tmp_path / "p.toml", run_dir=str(tmp_path / "run"))
    page = write_report(tmp_path / "report.html", pipeline, {"generate": stage}).read_text()
    assert "PASSWORD" not in page and "left out" in page


@pytest.mark.needs_fluidsynth
def test_an_output_dir_named_like_an_option_is_a_path(tmp_path, monkeypatch):
    """FluidSynth gets absolute paths: an output folder called -F is a folder."""
    from tunes import motif_tune

    from melodyrnn.music.midi_io import write_midi
    from melodyrnn.music.render import render_wav

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "-F"
    folder.mkdir()
    write_midi(motif_tune(0), folder / "a.mid")
    render_wav("-F/a.mid", "-F/a.wav")
    assert (folder / "a.wav").stat().st_size > 1000


def test_more_bad_inputs_found_by_a_sweep(tiny_dataset, tiny_run, tmp_path):
    """A text file as the checkpoint of generate and train, score over a folder with no
    tunes, a pipeline file with no stages."""
    text = tmp_path / "notes.mid"
    text.write_text("hello\n")
    (tmp_path / "empty").mkdir()
    assert "not a readable checkpoint" in one_line_error(
        ["generate", "--model", str(text), "--output-dir", str(tmp_path / "g"), "--bars", "2"])
    assert "not a readable checkpoint" in one_line_error(
        ["train", str(tiny_dataset), "-o", str(tmp_path / "run"), "--init-from", str(text)])
    assert "no MIDI files" in one_line_error(["score", str(tiny_run), str(tmp_path / "empty")])
    (tmp_path / "empty.toml").write_text("")
    assert "no stage tables" in one_line_error(["pipeline", "run", str(tmp_path / "empty.toml"), "--dry-run"])


@pytest.mark.needs_fluidsynth
def test_a_text_file_as_the_soundfont_is_refused(tiny_run, tmp_path):
    from tunes import motif_tune

    from melodyrnn.music.midi_io import write_midi

    text = tmp_path / "notes.mid"
    text.write_text("hello\n")
    write_midi(motif_tune(0), tmp_path / "seed.mid")
    assert "not a SoundFont" in one_line_error(
        ["generate", str(tmp_path / "seed.mid"), "--model", str(tiny_run), "--output-dir",
         str(tmp_path / "g"), "--render", "wav", "--soundfont", str(text), "--bars", "2"])


@pytest.mark.parametrize("args, reason", [
    (["--bars", "100000"], "--bars"), (["--steps", "100000000"], "--steps"),
    (["--beam-size", "100000"], "--beam-size"),
    (["--num-outputs", "100", "--beam-size", "100"], "at most 4096"),
])
def test_generation_sizes_are_bounded(args, reason, tiny_run, tmp_path):
    line = one_line_error(["generate", "--model", str(tiny_run), "--output-dir", str(tmp_path / "g"),
                           *args])
    assert reason in line, line


def test_library_generation_sizes_are_bounded():
    from melodyrnn.music.compose import GenerateConfig
    from melodyrnn.core.continuation import DecodeConfig

    with pytest.raises(ValueError, match="bars"):
        GenerateConfig(bars=10 ** 6)
    with pytest.raises(ValueError, match="beam_size"):
        DecodeConfig(beam_size=10 ** 5)


@pytest.mark.parametrize("damage", ["no splits", "no encoding", "vocabulary a number", "meta a list",
                                    "meta not UTF-8", "tokens garbage", "offsets cut", "files a string"])
def test_damaged_datasets_get_one_line_errors(damage, tiny_dataset, tmp_path):
    import json
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    meta = json.loads((ds / "meta.json").read_text())
    edits = {"no splits": lambda: meta.pop("splits"), "no encoding": lambda: meta.pop("encoding"),
             "vocabulary a number": lambda: meta.__setitem__("vocab", 5),
             "files a string": lambda: meta.__setitem__("files", "x")}
    if damage in edits:
        edits[damage]()
        (ds / "meta.json").write_text(json.dumps(meta))
    elif damage == "meta a list":
        (ds / "meta.json").write_text("[1, 2]")
    elif damage == "meta not UTF-8":
        (ds / "meta.json").write_bytes(b"\xff\xfe garbage")
    elif damage == "tokens garbage":
        (ds / "train.tokens.npy").write_bytes(b"garbage")
    else:
        (ds / "train.offsets.npy").write_bytes((ds / "train.offsets.npy").read_bytes()[:90])
    for args in (["info", str(ds)], ["evaluate", "default", str(ds)],
                 ["train", str(ds), "-o", str(tmp_path / "run"), "--max-steps", "1", "-q"]):
        assert str(ds) in one_line_error(args)


def test_usage_errors_are_one_line_and_say_where_help_is():
    for args, code in ((["nope"], 2), (["ingest"], 2), (["generate", "--bars", "0"], 2),
                       (["train", "x", "-o", "y", "--lr", "-1"], 2)):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == code, args
        assert len(result.stderr.strip().splitlines()) == 1 and "--help)" in result.stderr, result.stderr
    assert CliRunner().invoke(main, ["--help"]).exit_code == 0
