"""Polyphonic seeds: every voice continued by a voice-frame (chorale) model, one track each."""

import numpy as np
import pretty_midi
import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.core.vocab import BOS, EOS
from melodyrnn.music.compose import GenerateConfig, generate
from melodyrnn.music.encodings.chorale import BAR, HOLD, ON0, REST, STEP, ChoraleEncoding
from melodyrnn.music.midi_io import write_midi
from melodyrnn.music.notes import TempoChange, TimeSignature, Tune
from melodyrnn.music.voices import model_for, sounding_voices, voice_grammar

from tunes import chorale, voice


@pytest.fixture(scope="module")
def chorale_run(tmp_path_factory):
    """A small LSTM trained briefly on four-voice tunes made in code."""
    from melodyrnn.core.registry import get_encoding
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig
    from melodyrnn.music.ingest.build import IngestConfig, run_ingest

    root = tmp_path_factory.mktemp("chorales")
    (root / "midi").mkdir()
    for i in range(30):
        write_midi(chorale(i, bars=4), root / "midi" / f"c{i:02d}.mid")
    run_ingest(IngestConfig(inputs=(str(root / "midi"),), output=str(root / "ds"),
                            encoding=get_encoding("chorale").to_dict(), valid=0.15, test=0.15,
                            workers=1, progress=False))
    train(root / "ds", root / "run", dict(kind="lstm", hidden=32, layers=1, embedding=16,
                                          lookback=True, lookback_bars=(1, 2)),
          TrainConfig(batch_size=8, seq_len=80, lr=1e-2, max_steps=30, warmup_steps=5,
                      augment={"transpose": 2}), progress=False)
    return root / "run" / "best.pt"


def test_sounding_voices_tell_a_chorale_from_a_melody_with_a_bass():
    melody = voice("Fiddle", [(67 + i % 5, i, i + 1) for i in range(16)])
    bass = voice("Bass", [(43, 4 * i, 4 * i + 4) for i in range(4)])
    assert sounding_voices(chorale(0)) == 4 and model_for(chorale(0))[0] == "chorale"
    assert sounding_voices(Tune([melody])) == 1 and model_for(Tune([melody])) == ("default", "")
    assert sounding_voices(Tune([melody, bass])) == 2 and model_for(Tune([melody, bass]))[0] == "default"
    assert model_for(None)[0] == "default"


def test_the_grammar_keeps_frames_whole_by_hand():
    """Two voices, bars of two steps: slots v v STEP v v BAR, then again; </s> only with
    until_end and only where a frame starts; after </s> only </s>."""
    enc = ChoraleEncoding(ChoraleEncoding.config_class(voices=2))
    nxt, allowed = voice_grammar(enc, 2, until_end=True)
    assert nxt.shape == (7, len(enc.vocab)) and nxt[0, BOS] == 0 and (nxt[:, EOS] == 6).all()
    names = lambda s: {enc.vocab.tokens[i] for i in np.flatnonzero(allowed[s])}  # noqa: E731
    voices = {"REST", "HOLD", *(f"ON_{p}" for p in range(28, 97))}
    assert names(0) == voices | {"</s>"} and names(1) == voices and names(2) == {"STEP"}
    assert names(3) == voices | {"</s>"} and names(5) == {"BAR"} and names(6) == {"</s>"}
    assert nxt[2, STEP] == 3 and nxt[5, BAR] == 0
    plain = voice_grammar(enc, 2)[1]
    assert not plain[:6, EOS].any()


def test_every_voice_is_continued_in_its_own_track(chorale_run, tmp_path):
    seed = chorale(99, bars=4)
    seed = Tune([*seed.tracks[:2], voice("Tenor", [(50, 0, 16)], program=42), seed.tracks[3]],
                seed.tempos, [TimeSignature(0.0, 3, 4)])  # a tenor held through, 3/4
    cfg = GenerateConfig(num_outputs=3, bars=2, seed=1, primer_bars=2)
    outs = generate(str(chorale_run), seed, None, cfg)
    bar_beats = 3.0
    for out in outs:
        assert [t.name for t in out.tune.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert [t.program for t in out.tune.tracks] == [52, 52, 42, 52]
        assert out.voices == ("Soprano", "Alto", "Tenor", "Bass")
        assert out.continuation_beats == 2 * bar_beats and out.voice_window == (4, 6, 6)
        assert out.tune.markers[0].beat == 2 * bar_beats
        # the primer: the seed's last two bars, exactly, voice by voice
        for t, s in zip(out.tune.tracks, seed.tracks):
            keep = (s.start_beats >= 4 * bar_beats) & (s.start_beats < 6 * bar_beats)
            if s.name == "Tenor":
                keep = np.zeros(1, bool)  # the held note began before the window
            primer = t.start_beats < 2 * bar_beats
            assert t.pitch[primer].tolist() == s.pitch[keep].tolist()
        assert all(t.end_beats.max(initial=0) <= 4 * bar_beats + 1e-9 for t in out.tune.tracks)
        assert out.notes == sum(int((t.start_beats >= 2 * bar_beats).sum()) for t in out.tune.tracks)
    assert len({tuple(np.concatenate([t.pitch for t in o.tune.tracks]).tolist()) for o in outs}) > 1


def test_cli_picks_the_chorale_model_for_a_polyphonic_seed_and_says_so(chorale_run, tmp_path,
                                                                       monkeypatch):
    from melodyrnn.core import checkpoint

    monkeypatch.setattr(checkpoint, "assets_dir", lambda: chorale_run.parent)
    (chorale_run.parent / "chorale.pt").write_bytes(chorale_run.read_bytes())
    write_midi(chorale(7, bars=3), tmp_path / "four.mid")
    r = CliRunner().invoke(main, ["generate", str(tmp_path / "four.mid"), "--num-outputs", "2",
                                  "--bars", "2", "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "polyphonic seed (4 voices sound at once)" in r.stderr and "voices: Soprano" in r.stderr
    for path in r.stdout.split():  # an independent parser reads four voice tracks
        pm = pretty_midi.PrettyMIDI(path)
        assert [i.name for i in pm.instruments] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert all(len(i.notes) for i in pm.instruments)
    import mido

    texts = [m.text for t in mido.MidiFile(r.stdout.split()[0]).tracks for m in t if m.type == "marker"]
    assert texts == ["continuation"]


def test_a_polyphonic_piano_part_is_split_into_voices_and_never_hangs(chorale_run):
    chords = [(p, float(b), b + 1.0) for b in range(8) for p in (48 + b % 3, 60, 64, 67, 72)]
    piano = Tune([voice("Piano", chords, program=0)], [TempoChange(0.0, 100.0)],
                 [TimeSignature(0.0, 4, 4)])
    (out,) = generate(str(chorale_run), piano, None, GenerateConfig(num_outputs=1, bars=1))
    assert [t.name for t in out.tune.tracks] == ["Voice 1", "Voice 2", "Voice 3", "Voice 4"]
    assert out.tune.tracks[0].pitch[0] == 72 and out.tune.tempos[0].qpm == 100.0


def test_melody_only_options_are_refused_for_voices(chorale_run):
    for bad in (dict(key="G"), dict(pitch_range=(60, 72)), dict(track="0")):
        with pytest.raises(ValueError, match="melody model"):
            generate(str(chorale_run), chorale(1), None, GenerateConfig(num_outputs=1, bars=1, **bad))
    with pytest.raises(ValueError, match="melody model"):
        generate(str(chorale_run), None, [60, 62], GenerateConfig(num_outputs=1, bars=1))


def test_sampled_frames_stay_whole_and_an_ended_tune_stays_ended(chorale_run):
    """The grammar at work: raw continuations (until_end) are whole frames -- four voice
    tokens, then STEP, or BAR every 16th frame -- up to </s>, and only </s> after it."""
    from melodyrnn.core.continuation import DecodeConfig, continue_ids
    from melodyrnn.core.loading import load_model
    from melodyrnn.core.sampling import SamplingConfig

    model, enc = load_model(str(chorale_run))
    primer = [BOS, *enc.encode_tunes([chorale(3, bars=1)]).sequence(0)[1:-1].tolist()]
    out = continue_ids(model, primer, 8, 3 * 80, DecodeConfig(SamplingConfig(temperature=1.5)),
                       seed=4, period=80, grammar=voice_grammar(enc, 16, until_end=True))
    ended = 0
    for row in out.ids:
        stop = int(np.argmax(row == EOS)) if (row == EOS).any() else len(row)
        ended += stop < len(row)
        assert (row[stop:] == EOS).all() and stop % 5 == 0
        frames = row[:stop].reshape(-1, 5)  # (frames, 4 voices + separator)
        assert np.isin(frames[:, :4], [REST, HOLD, *range(ON0, len(enc.vocab))]).all()
        assert (frames[15::16, 4] == BAR).all()
        assert (np.delete(frames[:, 4], np.s_[15::16]) == STEP).all()
    assert out.ids.shape == (8, 240)


def test_voice_leading_statistics_by_hand():
    """Soprano G4 -> A4 over bass C3 -> D3: a fifth to a fifth, both rising: one parallel
    fifth in one common move; the alto crosses below the tenor for one step of two."""
    from collections import Counter

    from melodyrnn.music.voice_leading import chord_overlap, summarise, voice_leading

    s = voice("S", [(67, 0, 1), (69, 1, 2)])
    a = voice("A", [(64, 0, 1), (60, 1, 2)])
    t = voice("T", [(55, 0, 1), (62, 1, 2)])
    b = voice("B", [(48, 0, 1), (50, 1, 2)])
    v = voice_leading(Tune([s, a, t, b], [TempoChange(0.0, 120.0)], [TimeSignature(0.0, 4, 4)]))
    assert v["range"][0] == (67, 69, 68.0) and v["range"][3] == (48, 50, 49.0)
    assert (v["outer_moves"], v["parallels"]) == (1, 1)
    assert (v["crossing_steps"], v["paired_steps"]) == (4, 24)  # alto under tenor, beat 2
    assert v["chords"] == Counter({(0, 4, 7): 4, (0, 2, 9): 4})
    assert chord_overlap(v["chords"], Counter({(0, 4, 7): 1})) == 0.5
    hidden = voice_leading(Tune([voice("S", [(67, 0, 1), (74, 1, 2)]), b]))  # fifth to octave
    assert (hidden["outer_moves"], hidden["parallels"]) == (1, 0)
    total = summarise([chorale(0), chorale(1)])
    assert total["pieces"] == 2 and len(total["range"]) == 4 and 0 <= total["crossing_rate"] <= 1


def test_the_shipped_chorale_model_on_real_polyphonic_files(data_dir, tmp_path):
    """A held-out chorale comes back in four voices with notes in each after the primer, and
    every polyphonic file of messy/ (piano, pop songs with drums, broken files) gives four
    voice tracks -- no crash, no hang."""
    import glob
    import time

    from melodyrnn.core.checkpoint import resolve_checkpoint
    from melodyrnn.music.midi_io import read_midi

    if not resolve_checkpoint("chorale").is_file():
        pytest.skip("this build ships no chorale model")
    seed = read_midi(data_dir / "midi" / "bach-chorales" / "bwv115_6.mid")  # a test-split chorale
    cfg = GenerateConfig(num_outputs=2, bars=8, primer_bars=4, from_bar=5, seed=0)
    for out in generate("chorale", seed, None, cfg):
        new = [int((t.start_beats >= out.continuation_beats).sum()) for t in out.tune.tracks]
        assert len(new) == 4 and min(new) > 0, new
    polyphonic = 0
    for path in sorted(glob.glob(str(data_dir / "messy" / "**" / "*.mid*"), recursive=True)):
        try:
            tune = read_midi(path)
        except ValueError:
            continue
        if model_for(tune)[0] != "chorale":
            continue
        polyphonic += 1
        t0 = time.perf_counter()
        (out,) = generate("chorale", tune, None, GenerateConfig(num_outputs=1, bars=2))
        assert len(out.tune.tracks) == 4 and time.perf_counter() - t0 < 20, path
    assert polyphonic > 40
