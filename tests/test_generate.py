import numpy as np
import pytest
from click.testing import CliRunner

from melodyrnn.cli import main
from melodyrnn.compose import GenerateConfig, generate, parse_key, pick_melody_track
from melodyrnn.continuation import DecodeConfig
from melodyrnn.midi_io import read_midi, write_midi
from melodyrnn.models.network import SequenceModel

from tunes import track, tune

SEED_NOTES = [(67, 0, 1), (69, 1, 2), (71, 2, 2.5), (72, 2.5, 3), (74, 3, 4), (71, 4, 6)]


@pytest.fixture
def seed_file(tmp_path):
    t = tune(track(SEED_NOTES, name="fiddle", program=40),
             track([(43, 0, 4), (50, 4, 8)], name="bass", program=32), ts=((0.0, 3, 4),), qpm=96)
    path = tmp_path / "seed.mid"
    write_midi(t, path)
    return path


def test_generation_keeps_the_seed_and_its_settings(tiny_run, seed_file):
    seed = read_midi(seed_file)
    outs = generate(str(tiny_run), seed, None, GenerateConfig(num_outputs=3, bars=4, seed=7))
    assert len(outs) == 3
    for out in outs:
        (t,) = out.tune.tracks
        assert t.program == 40 and t.name == "fiddle"
        assert t.pitch[:6].tolist() == [n[0] for n in SEED_NOTES]  # primer unchanged
        assert t.start_beats[:6].tolist() == [n[1] for n in SEED_NOTES]
        assert (t.start_beats[6:] >= 6.0).all() and (t.end_beats <= 6.0 + 4 * 3 + 1e-9).all()
        assert out.tune.time_signatures[0].numerator == 3
        assert out.tune.tempos[0].qpm == pytest.approx(96, abs=0.01)
        assert out.notes == len(t) - 6
        assert np.isfinite(out.bits_per_note) == (out.notes > 0)  # an early </s>: no new notes
    assert any(out.notes for out in outs)
    again = generate(str(tiny_run), seed, None, GenerateConfig(num_outputs=3, bars=4, seed=7))
    other = generate(str(tiny_run), seed, None, GenerateConfig(num_outputs=3, bars=4, seed=8))
    same = [np.array_equal(a.tune.tracks[0].pitch, b.tune.tracks[0].pitch) for a, b in zip(outs, again)]
    assert all(same)
    assert not all(np.array_equal(a.tune.tracks[0].pitch, b.tune.tracks[0].pitch)
                   for a, b in zip(outs, other))


def test_the_primer_runs_once_then_one_step_at_a_time(tiny_run, seed_file, monkeypatch):
    lengths = []
    real = SequenceModel.forward

    def counting(self, ids, state=None, valid=None):
        lengths.append(ids.shape[1])
        return real(self, ids, state, valid)

    monkeypatch.setattr(SequenceModel, "forward", counting)
    generate(str(tiny_run), read_midi(seed_file), None, GenerateConfig(num_outputs=2, bars=1))
    assert lengths[0] > 1 and set(lengths[1:]) == {1} and len(lengths) == 1 + 12


def test_key_and_range_constraints(tiny_run):
    cfg = GenerateConfig(num_outputs=4, bars=4, key="D", pitch_range=(60, 72),
                         continuation_only=True)
    for out in generate(str(tiny_run), None, [62, 64, 66], cfg):
        p = out.tune.tracks[0].pitch
        assert set((p % 12).tolist()) <= {2, 4, 6, 7, 9, 11, 1}
        assert p.min() >= 60 and p.max() <= 72
        assert out.tune.tracks[0].start_beats.min() >= 0


def test_beam_searches_run(tiny_run):
    for decode in (DecodeConfig(beam_size=3), DecodeConfig(beam_size=2, branch_factor=3,
                                                            steps_per_iteration=4)):
        outs = generate(str(tiny_run), None, [60, 62], GenerateConfig(num_outputs=1, bars=1,
                                                                      decode=decode))
        assert len(outs) == 1


def test_seed_track_choice():
    t = tune(track([(40, 0, 1)] * 1, name="low"), track([(70, i, i + 1) for i in range(3)], name="hi"),
             track([(30, i, i + 1) for i in range(3)], name="bass"))
    assert pick_melody_track(t).name == "hi"  # most notes, ties to the higher
    assert pick_melody_track(t, "bass").name == "bass"
    assert pick_melody_track(t, "0").name == "low"
    with pytest.raises(ValueError, match="no such track"):
        pick_melody_track(t, "drums")
    assert parse_key("F#m") == (6, True) and parse_key("Bb") == (10, False)
    with pytest.raises(ValueError):
        parse_key("H")


def test_cli_writes_files_and_refuses_to_overwrite(tiny_run, seed_file, tmp_path):
    out = tmp_path / "gen"
    args = ["generate", str(seed_file), "--model", str(tiny_run), "--num-outputs", "2",
            "--bars", "2", "--output-dir", str(out), "--seed", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    paths = result.stdout.split()
    assert paths == [str(out / "seed-0.mid"), str(out / "seed-1.mid")]
    assert "bits/note" in result.stderr
    first = (out / "seed-0.mid").read_bytes()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "--force" in again.stderr
    assert CliRunner().invoke(main, args + ["--force"]).exit_code == 0
    assert (out / "seed-0.mid").read_bytes() == first  # byte-identical for the same seed


def test_score_prints_bits_per_note_per_file(tiny_run, tiny_dataset, tmp_path):
    midi = sorted((tiny_dataset.parent / "midi").glob("*.mid"))[:3]
    (tmp_path / "bad.mid").write_bytes(b"nope")
    result = CliRunner().invoke(main, ["score", str(tiny_run), *map(str, midi),
                                       str(tmp_path / "bad.mid")])
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == [str(p) for p in midi]
    assert all(0 < float(r[1]) < 20 for r in rows)
    assert "skipped" in result.stderr and "bad.mid" in result.stderr


def test_render_png_and_wav(tiny_run, seed_file, tmp_path):
    import shutil as sh

    pytest.importorskip("matplotlib")
    args = ["generate", str(seed_file), "--model", str(tiny_run), "--num-outputs", "1",
            "--bars", "2", "--output-dir", str(tmp_path), "--render", "png"]
    have_wav = sh.which("fluidsynth") is not None
    if have_wav:
        try:
            from melodyrnn.render import find_soundfont

            find_soundfont()
        except ValueError:
            have_wav = False
    result = CliRunner().invoke(main, args + (["--render", "wav"] if have_wav else []))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "seed-0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if have_wav:
        assert (tmp_path / "seed-0.wav").read_bytes()[:4] == b"RIFF"


def test_missing_renderer_fails_before_generating(tiny_run, seed_file, tmp_path, monkeypatch):
    import melodyrnn.render as render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run),
                                       "--output-dir", str(tmp_path / "o"), "--render", "wav"])
    assert result.exit_code == 1 and "FluidSynth" in result.stderr
    assert not (tmp_path / "o").exists()


def test_the_name_default_stands_for_the_shipped_model(monkeypatch, tmp_path, tiny_run,
                                                       tiny_dataset):
    from melodyrnn import checkpoint

    monkeypatch.setattr(checkpoint, "assets_dir", lambda: tmp_path)
    result = CliRunner().invoke(main, ["generate", "--primer", "60 62", "--output-dir",
                                       str(tmp_path / "out")])
    assert result.exit_code == 1 and "no default model" in result.stderr
    (tmp_path / "default.pt").write_bytes(tiny_run.read_bytes())
    result = CliRunner().invoke(main, ["generate", "--primer", "60 62", "--output-dir",
                                       str(tmp_path / "out"), "--num-outputs", "1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["evaluate", "default", str(tiny_dataset)])
    assert result.exit_code == 0 and "bits_per_note" in result.stdout


def test_the_shipped_default_model_is_a_lossless_melody_model():
    from melodyrnn.checkpoint import load_checkpoint

    ckpt = load_checkpoint("default")
    enc = ckpt["encoding"]
    assert enc["name"] == "melody"
    assert enc["config"]["min_pitch"] == 0 and enc["config"]["max_pitch"] == 127
    assert enc["config"]["transpose_to_key"] is None
    assert enc["config"]["steps_per_quarter"] >= 4
    assert ckpt["model_config"]["lookback"]


def test_generate_seed_file_with_the_default_model(tmp_path):
    from pathlib import Path

    jig = Path(__file__).resolve().parent.parent / "samples" / "jig.mid"
    result = CliRunner().invoke(main, ["generate", str(jig), "--output-dir", str(tmp_path),
                                       "--bars", "4"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split()) == 4
    out = read_midi(tmp_path / "jig-0.mid")
    assert out.time_signatures[0].numerator == 6 and out.tracks[0].program == 40
