import numpy as np
import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.music.compose import GenerateConfig, generate, parse_key
from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.music.notes import KeySignature
from melodyrnn.core.sampling import SamplingConfig
from melodyrnn.music.midi_io import read_midi, write_midi
from melodyrnn.core.loading import load_with_checkpoint
from melodyrnn.core.models.network import SequenceModel
from melodyrnn.core.models.numpy_net import NumpyModel

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
    torch_model = load_with_checkpoint(str(tiny_run))  # a loaded torch model decodes with torch
    generate(torch_model, read_midi(seed_file), None, GenerateConfig(num_outputs=2, bars=1))
    assert lengths[0] > 1 and set(lengths[1:]) == {1} and len(lengths) == 1 + 12
    # a checkpoint file samples on the numpy model: the primer once, token by token at one
    # lane, then one step for both outputs at a time
    lanes, real_step = [], NumpyModel.step
    def counting_step(self, ids, st):
        lanes.append(len(ids))
        return real_step(self, ids, st)

    monkeypatch.setattr(NumpyModel, "step", counting_step)
    generate(str(tiny_run), read_midi(seed_file), None, GenerateConfig(num_outputs=2, bars=1))
    assert lanes == [1] * (lengths[0]) + [2] * 12


def test_key_and_range_constraints(tiny_run):
    cfg = GenerateConfig(num_outputs=4, bars=4, key="D", pitch_range=(60, 72),
                         continuation_only=True)
    outs = generate(str(tiny_run), None, [62, 64, 66], cfg)
    assert any(out.notes for out in outs)
    for out in outs:
        p = out.tune.tracks[0].pitch
        if not len(p):
            continue
        assert set((p % 12).tolist()) <= {2, 4, 6, 7, 9, 11, 1}
        assert p.min() >= 60 and p.max() <= 72
        assert out.tune.tracks[0].start_beats.min() >= 0


def test_beam_searches_keep_the_primer_fill_the_bars_and_repeat_exactly(tiny_run):
    for decode in (DecodeConfig(beam_size=3), DecodeConfig(beam_size=2, branch_factor=3,
                                                            steps_per_iteration=4)):
        cfg = GenerateConfig(num_outputs=1, bars=2, decode=decode, max_plays=0)
        (out,) = generate(str(tiny_run), None, [60, 62], cfg)
        notes = _notes(out)
        assert [(p, b) for p, b, _ in notes[:2]] == [(60, 0.0), (62, 1.0)]  # the primer, as given
        assert out.continuation_beats == 4.0  # after the bar the primer opens
        assert out.continuation.length_steps == 2 * out.continuation.steps_per_bar  # two bars
        assert all(4.0 <= b < 4.0 + 8 for _, b, _ in notes[2:])
        assert _notes(generate(str(tiny_run), None, [60, 62], cfg)[0]) == notes  # deterministic


def test_a_beam_finds_a_continuation_at_least_as_likely_as_greedy_decoding():
    """On the shipped model and a real seed: the beam's total bits never exceed greedy's."""
    from pathlib import Path

    jig = read_midi(Path(__file__).resolve().parent.parent / "samples" / "jig.mid")
    total = {}
    for name, decode in (("greedy", DecodeConfig(SamplingConfig(greedy=True))),
                         ("beam", DecodeConfig(beam_size=3))):
        (out,) = generate("default", jig, None, GenerateConfig(num_outputs=1, bars=2, decode=decode))
        assert out.notes > 0
        total[name] = out.bits_per_note * out.notes
    assert total["beam"] <= total["greedy"] + 1e-6


def test_parse_key():
    assert parse_key("F#m") == (6, True) and parse_key("Bb") == (10, False)
    assert parse_key("A minor") == (9, True) and parse_key("Eb major") == (3, False)
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
    for path in paths:
        assert _reread(path)[2]  # mido and pretty_midi read the notes
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


def test_render_png(tiny_run, seed_file, tmp_path):
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run),
                                       "--num-outputs", "1", "--bars", "2", "--output-dir",
                                       str(tmp_path), "--render", "png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "seed-0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "seed-0.wav").exists()


@pytest.mark.needs_fluidsynth
def test_render_wav(tiny_run, seed_file, tmp_path):
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run),
                                       "--num-outputs", "1", "--bars", "2", "--output-dir",
                                       str(tmp_path), "--render", "wav"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "seed-0.wav").read_bytes()[:4] == b"RIFF"


def test_missing_renderer_fails_before_generating(tiny_run, seed_file, tmp_path, monkeypatch):
    import melodyrnn.music.render as render

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run),
                                       "--output-dir", str(tmp_path / "o"), "--render", "wav"])
    assert result.exit_code == 1 and "FluidSynth" in result.stderr
    assert not (tmp_path / "o").exists()


def test_the_name_default_stands_for_the_shipped_model(monkeypatch, tmp_path, tiny_run,
                                                       tiny_dataset):
    from melodyrnn.core import checkpoint

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
    from melodyrnn.core.checkpoint import load_checkpoint
    from melodyrnn.core.models.config import form_fields

    ckpt = load_checkpoint("default")
    enc = ckpt["encoding"]
    assert enc["name"] == "melody"
    assert enc["config"]["min_pitch"] == 0 and enc["config"]["max_pitch"] == 127
    assert enc["config"]["transpose_to_key"] is None
    assert enc["config"]["steps_per_quarter"] >= 4
    form = form_fields(ckpt["model_config"])
    assert ckpt["model_config"]["lookback"] and form["bars"] == 16 and form["length"] and form["plan"]


def test_generate_seed_file_with_the_default_model(tmp_path):
    from pathlib import Path

    jig = Path(__file__).resolve().parent.parent / "samples" / "jig.mid"
    result = CliRunner().invoke(main, ["generate", str(jig), "--output-dir", str(tmp_path),
                                       "--bars", "4"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split()) == 4
    out = read_midi(tmp_path / "jig-0.mid")
    assert out.time_signatures[0].numerator == 6 and out.tracks[0].program == 40
    for path in result.stdout.split():  # independent parsers read every file written
        keys, markers, pitches, _ = _reread(path)
        assert keys == ["D"] and markers == ["continuation"] and len(pitches) > 22
        assert 33 <= min(pitches) and max(pitches) <= 96  # the default model's training range


def _notes(out):
    t = out.tune.tracks[0]
    return list(zip(t.pitch.tolist(), t.start_beats.tolist(), t.end_beats.tolist()))


def test_output_k_depends_only_on_seed_and_k(tiny_run):
    one = generate(str(tiny_run), None, [60, 62, 64], GenerateConfig(num_outputs=1, bars=4, seed=5))
    four = generate(str(tiny_run), None, [60, 62, 64], GenerateConfig(num_outputs=4, bars=4, seed=5))
    two = generate(str(tiny_run), None, [60, 62, 64], GenerateConfig(num_outputs=2, bars=4, seed=5))
    assert _notes(one[0]) == _notes(four[0]) == _notes(two[0])
    assert _notes(two[1]) == _notes(four[1])
    assert len({tuple(_notes(o)) for o in four}) > 1


def test_beam_outputs_are_the_n_best_distinct_beams(tiny_run):
    cfg = GenerateConfig(num_outputs=4, bars=2, decode=DecodeConfig(beam_size=4), max_plays=0)
    outs = generate(str(tiny_run), None, [60, 62, 64], cfg)
    assert len({tuple(_notes(o)) for o in outs}) == 4
    bits = [o.bits_per_note * o.notes for o in outs]  # total bits: best first
    assert bits == sorted(bits)
    wide = generate(str(tiny_run), None, [60, 62, 64], GenerateConfig(
        num_outputs=3, bars=2, decode=DecodeConfig(beam_size=2), max_plays=0))
    assert len({tuple(_notes(o)) for o in wide}) == 3  # the beam widens to the outputs asked for


def test_greedy_with_several_outputs_is_refused(tiny_run, seed_file, tmp_path):
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run), "--greedy",
                                       "--output-dir", str(tmp_path / "o")])
    assert result.exit_code == 1 and "--greedy" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_identical_outputs_are_not_written_silently(tiny_run):
    cfg = GenerateConfig(num_outputs=3, bars=2, decode=DecodeConfig(SamplingConfig(temperature=1e-4)))
    with pytest.warns(UserWarning, match="identical to output 0"):
        generate(str(tiny_run), None, [60, 62, 64, 65], cfg)


def _motif_seed(bars=4):
    motif = [60, 64, 67, 65, 64, 62, 60, 67]
    notes = [(motif[i % 8], i * 1.0, i * 1.0 + 0.75) for i in range(4 * bars)]
    return tune(track(notes, name="lead"))


@pytest.mark.parametrize("decode", [DecodeConfig(SamplingConfig(greedy=True)), DecodeConfig(beam_size=3),
                                    DecodeConfig(beam_size=2, branch_factor=2)])
def test_deterministic_decoders_play_no_phrase_three_times(tiny_run, decode):
    from collections import Counter

    from melodyrnn.music.copies import bar_contents

    def most_plays(max_plays):
        out = generate(str(tiny_run), _motif_seed(), None,
                       GenerateConfig(num_outputs=1, bars=12, decode=decode, max_plays=max_plays))[0]
        t = out.tune.tracks[0]
        steps = lambda b: np.rint(b * 4).astype(int)  # noqa: E731
        bars = bar_contents(t.pitch, steps(t.start_beats), steps(t.end_beats), 16, 16)
        runs = Counter(tuple(bars[i:i + 4]) for i in range(len(bars) - 3))
        return max(runs.values())

    assert most_plays(2) <= 2  # the motif seed's 4 bars may come back once, never loop


def test_primer_window_in_the_output(tiny_run):
    notes = [(50 + b, (b - 1) * 4 + k, (b - 1) * 4 + k + 1) for b in range(1, 21) for k in range(4)]
    seed = tune(track(notes, name="tune", program=73))
    out = generate(str(tiny_run), seed, None, GenerateConfig(num_outputs=1, bars=2, primer_bars=4))[0]
    t = out.tune.tracks[0]
    assert out.continuation_beats == 16.0 and (out.window.first_bar, out.window.cut_bar) == (17, 21)
    primer = t.start_beats < 16
    assert t.pitch[primer].tolist() == [n[0] for n in notes[-16:]]  # the seed's last 4 bars
    assert t.start_beats[primer].tolist() == [float(i) for i in range(16)]
    assert out.tune.markers[0].beat == 16.0 and out.tune.markers[0].text == "continuation"
    mid = generate(str(tiny_run), seed, None, GenerateConfig(num_outputs=1, bars=2, primer_bars=2,
                                                             from_bar=5))[0]
    assert sorted(set(mid.tune.tracks[0].pitch[mid.tune.tracks[0].start_beats < 8].tolist())) == [53, 54]


def _reread(path):
    """The file as mido and pretty_midi see it: (key names, note pitches)."""
    import mido
    import pretty_midi

    mid = mido.MidiFile(str(path))
    keys = [m.key for tr in mid.tracks for m in tr if m.type == "key_signature"]
    markers = [m.text for tr in mid.tracks for m in tr if m.type == "marker"]
    pm = pretty_midi.PrettyMIDI(str(path))
    pitches = [n.pitch for inst in pm.instruments for n in inst.notes]
    return keys, markers, pitches, [k.key_number for k in pm.key_signature_changes]


def test_key_signatures_and_every_file_parses(tiny_run, tmp_path):
    seed = _motif_seed()
    with_key = tune(*seed.tracks)
    with_key.key_signatures = [KeySignature(0.0, 9, True)]  # A minor
    cases = [(with_key, None, "A minor", "seed", "Am"), (seed, None, "C major", "inferred", "C"),
             (seed, "Bb", "Bb major", "--key", "Bb")]
    for i, (s, key, name, source, mido_key) in enumerate(cases):
        out = generate(str(tiny_run), s, None, GenerateConfig(num_outputs=1, bars=2, key=key))[0]
        assert (out.key, out.key_source) == (name, source)
        path = tmp_path / f"k{i}.mid"
        write_midi(out.tune, path)
        keys, markers, pitches, _ = _reread(path)
        assert keys == [mido_key] and markers == ["continuation"]
        assert sorted(pitches) == sorted(out.tune.tracks[0].pitch.tolist())


def test_new_pitches_stay_in_the_training_range(tiny_run, tiny_dataset):
    from melodyrnn.core.checkpoint import load_checkpoint
    from melodyrnn.music.compose import training_pitch_range
    from melodyrnn.core.registry import encoding_from_dict

    ckpt = load_checkpoint(tiny_run)
    low, high = training_pitch_range(ckpt, encoding_from_dict(ckpt["encoding"]))
    assert 55 <= low <= 62 and 79 <= high <= 86  # the motif tunes span 60-83
    hot = GenerateConfig(num_outputs=4, bars=4, continuation_only=True,
                         decode=DecodeConfig(SamplingConfig(temperature=4.0)))
    pitches = np.concatenate([o.tune.tracks[0].pitch for o in generate(str(tiny_run), None, [60], hot)])
    assert pitches.min() >= low and pitches.max() <= high
    wide = GenerateConfig(num_outputs=4, bars=4, continuation_only=True, pitch_range=(0, 127),
                          decode=DecodeConfig(SamplingConfig(temperature=4.0)))
    wider = np.concatenate([o.tune.tracks[0].pitch for o in generate(str(tiny_run), None, [60], wide)])
    assert wider.min() < low or wider.max() > high  # the option widens it


def test_cli_primer_errors_and_reports(tiny_run, seed_file, tmp_path):
    out = tmp_path / "o"
    for primer in ("62 200", "D E F#"):
        result = CliRunner().invoke(main, ["generate", "--primer", primer, "--model", str(tiny_run),
                                           "--output-dir", str(out)])
        assert result.exit_code != 0 and "--primer" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
    result = CliRunner().invoke(main, ["generate", "--primer", "D4 E4 F#4", "--model", str(tiny_run),
                                       "--output-dir", str(out), "--num-outputs", "1", "--bars", "2"])
    assert result.exit_code == 0, result.output
    assert _reread(out / "primer-0.mid")[2][:3] == [62, 64, 66]
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run),
                                       "--output-dir", str(out), "--num-outputs", "1", "--bars", "2"])
    assert "track 0 'fiddle' (program 40" in result.stderr and "continuation starts at bar 3" in result.stderr


@pytest.mark.needs_fluidsynth
def test_a_missing_soundfont_fails_before_generating(tiny_run, seed_file, tmp_path):
    result = CliRunner().invoke(main, ["generate", str(seed_file), "--model", str(tiny_run),
                                       "--output-dir", str(tmp_path / "o2"),
                                       "--soundfont", str(tmp_path / "no.sf2")])
    assert result.exit_code == 1 and "--soundfont" in result.stderr
    assert not (tmp_path / "o2").exists()


def test_until_end_lets_the_model_end_and_an_ended_tune_stays_ended(tiny_run):
    import torch

    from melodyrnn.music.compose import melody_grammar
    from melodyrnn.core.continuation import continue_ids
    from melodyrnn.core.loading import load_model
    from melodyrnn.core.vocab import EOS

    model, enc = load_model(str(tiny_run))
    allowed = torch.ones(len(enc.vocab), dtype=torch.bool)
    allowed[[0, 1]] = False
    # a strong push towards the end token: logits of EOS raised by a wrapper
    class Ending(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m, self.embed = m, m.embed

        def initial_state(self, *a, **k):
            return self.m.initial_state(*a, **k)

        def forward(self, ids, state):
            logits, st = self.m(ids, state)
            logits[..., EOS] += 4.0
            return logits, st
    out = continue_ids(Ending(model), [1, 65, 3, 3, 3], 8, 40, DecodeConfig(), 0, allowed, 16,
                       grammar=melody_grammar(len(enc.vocab)))
    ended = 0
    for row in out.ids.tolist():
        if EOS in row:
            first = row.index(EOS)
            assert set(row[first:]) == {EOS}
            ended += 1
    assert ended >= 1
    outs = generate(str(tiny_run), None, [60, 62, 64, 65],
                    GenerateConfig(num_outputs=4, bars=4, until_end=True))
    assert all(o.tune.end_beats <= 4 + 16 + 1e-9 for o in outs)
