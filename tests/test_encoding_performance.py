import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.music.encodings.performance import PerformanceConfig, PerformanceEncoding
from melodyrnn.core.registry import encoding_from_dict

from tunes import motif_tune, track, tune


def names(enc, ids):
    return [enc.vocab.name(int(i)) for i in ids]


def test_hand_worked_example():
    enc = PerformanceEncoding()
    ids, counts = enc.encode_notes([60, 64], [100, 80], [0.0, 0.25], [0.5, 1.3])
    assert names(enc, ids) == [
        "<s>", "VELOCITY_25", "NOTE_ON_60", "TIME_SHIFT_25", "VELOCITY_20", "NOTE_ON_64",
        "TIME_SHIFT_25", "NOTE_OFF_60", "TIME_SHIFT_80", "NOTE_OFF_64", "</s>"]
    # literal ids: NOTE_ON_p = 3 + p, NOTE_OFF_p = 131 + p, TIME_SHIFT_k = 258 + k,
    # VELOCITY_b = 358 + b
    assert ids.tolist() == [1, 383, 63, 283, 378, 67, 283, 191, 338, 195, 2]
    assert len(enc.vocab) == 3 + 128 + 128 + 100 + 32
    assert counts == {"notes_duplicate_dropped": 0, "notes_truncated": 0}


def test_long_silence_takes_several_shifts_and_offs_come_first():
    enc = PerformanceEncoding()
    ids, _ = enc.encode_notes([60, 62], [64, 64], [0.0, 2.5], [2.5, 2.6])
    assert names(enc, ids)[1:-1] == [
        "VELOCITY_16", "NOTE_ON_60", "TIME_SHIFT_100", "TIME_SHIFT_100", "TIME_SHIFT_50",
        "NOTE_OFF_60", "NOTE_ON_62", "TIME_SHIFT_10", "NOTE_OFF_62"]


notes_strategy = st.lists(st.tuples(st.integers(0, 127), st.integers(1, 127),
                                    st.floats(0, 30, allow_nan=False),
                                    st.floats(0, 4, allow_nan=False)), max_size=50)


@settings(max_examples=300, deadline=None)
@given(notes_strategy)
def test_round_trip_within_10ms_and_one_velocity_bin(notes):
    enc = PerformanceEncoding()
    pitch = [n[0] for n in notes]
    vel = [n[1] for n in notes]
    start = [n[2] for n in notes]
    end = [n[2] + n[3] for n in notes]
    ids, _ = enc.encode_notes(pitch, vel, start, end)
    p2, v2, s2, e2 = enc.decode_notes(ids)
    # the reference: the same notes after same-pitch overlaps are resolved
    cp, cv, con, coff, _ = enc.canonical_steps(pitch, vel, start, end)
    order = np.lexsort((cp, con))
    assert p2.tolist() == cp[order].tolist()
    assert np.all(np.abs(v2 - cv[order]) < enc.config.bin_size)
    assert np.all(np.abs(s2 - con[order] / 100) < 1e-9)
    assert np.all(np.abs(e2 - coff[order] / 100) < 1e-9)
    # and the canonical times are within 10 ms of the input (or cut by a same-pitch onset)
    s_in = np.asarray(start)[:, None] if notes else np.zeros((0, 1))
    for i in range(len(p2)):
        assert np.min(np.abs(s_in[:, 0] - s2[i])) <= 0.005 + 1e-9


def test_same_pitch_overlaps_resolved_and_counted():
    enc = PerformanceEncoding()
    ids, counts = enc.encode_notes([60, 60, 60], [90, 90, 90], [0.0, 0.5, 0.5], [1.0, 0.8, 1.2])
    assert counts == {"notes_duplicate_dropped": 1, "notes_truncated": 1}
    p, _, s, e = enc.decode_notes(ids)
    assert p.tolist() == [60, 60] and s.tolist() == [0.0, 0.5] and e.tolist() == [0.5, 1.2]


def test_merged_and_per_instrument_streams():
    t = tune(track([(60, 0, 1), (62, 1, 2)], name="a"), track([(48, 0, 2)], name="b", program=32),
             track([(36, 0, 0.5)], name="kit", is_drum=True))
    merged = PerformanceEncoding().encode_tunes([t])
    assert merged.n_sequences == 1 and merged.seq_units.tolist() == [3]
    assert merged.stats["drum_tracks_skipped"].tolist() == [1]
    split = PerformanceEncoding(PerformanceConfig(per_instrument=True)).encode_tunes([t])
    assert split.n_sequences == 2 and split.seq_units.tolist() == [2, 1]
    with_drums = PerformanceEncoding(PerformanceConfig(include_drums=True)).encode_tunes([t])
    assert with_drums.seq_units.tolist() == [4]


def test_decode_tune_and_config_json():
    enc = PerformanceEncoding(PerformanceConfig(per_instrument=True))
    ids, _ = enc.encode_notes([60], [100], [0.5], [1.0])
    out = enc.decode_tune(ids)
    assert out.tracks[0].start_seconds.tolist() == [0.5]
    assert out.tracks[0].start_beats.tolist() == [1.0]
    assert encoding_from_dict(json.loads(json.dumps(enc.to_dict()))) == enc


def test_a_performance_model_trains_and_continues_a_seed(tmp_path):
    """Ingest -> train -> generate with the performance encoding, every file re-read by mido:
    the seed's notes open the output (chords included) and new notes follow them."""
    import mido
    from click.testing import CliRunner

    from melodyrnn.cli.main import main
    from melodyrnn.music.midi_io import write_midi

    (tmp_path / "midi").mkdir()
    for i in range(24):
        write_midi(motif_tune(i), tmp_path / "midi" / f"t{i:02d}.mid")
    cli = CliRunner()
    r = cli.invoke(main, ["ingest", str(tmp_path / "midi"), "-o", str(tmp_path / "ds"), "-q",
                          "--encoding", "performance", "--valid", "0.2", "--test", "0.1"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(main, ["train", str(tmp_path / "ds"), "-o", str(tmp_path / "run"), "--hidden", "32",
                          "--layers", "1", "--embedding", "16", "--max-steps", "20",
                          "--batch-size", "8", "--seq-len", "64", "--lr", "1e-2", "--no-amp"])
    assert r.exit_code == 0, r.output
    seed = tune(track([(60, 0, 1), (64, 0, 1), (67, 1, 2), (72, 2, 4)]))  # a chord, then a line
    write_midi(seed, tmp_path / "seed.mid")
    r = cli.invoke(main, ["generate", str(tmp_path / "seed.mid"), "--model",
                          str(tmp_path / "run" / "best.pt"), "--num-outputs", "2", "--steps", "60",
                          "--seed", "3", "--output-dir", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    paths = r.stdout.split()
    assert len(paths) == 2
    for path in paths:
        mid = mido.MidiFile(path)
        ons, now = [], 0
        for msg in mido.merge_tracks(mid.tracks):
            now += msg.time
            if msg.type == "note_on" and msg.velocity:
                ons.append((now / mid.ticks_per_beat, msg.note))
        assert sorted(ons[:2]) == [(0.0, 60), (0.0, 64)] and ons[2][1] == 67  # the seed, as played
        assert len(ons) > 4  # and the model's new notes after it
