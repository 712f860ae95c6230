import struct

import numpy as np
import pytest

from melodyrnn.music.midi_io import (from_pretty_midi, midi_bytes, read_midi, read_midi_bytes,
                               to_pretty_midi, write_midi)
from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune

from midifactory import (melody_file, note_events, scale_notes, smf, tempo, time_signature,
                         track_chunk)


def test_reads_notes_in_beats_and_seconds():
    notes = [(60, 0, 480, 100), (62, 480, 720, 80), (64, 960, 1920, 70)]
    tune = read_midi_bytes(melody_file(notes, qpm=90, ts=(3, 4), program=40, name="violin",
                                       key=(-1, False)))
    (track,) = tune.tracks
    assert track.name == "violin" and track.program == 40 and not track.is_drum
    assert track.pitch.tolist() == [60, 62, 64]
    assert track.velocity.tolist() == [100, 80, 70]
    assert track.start_beats.tolist() == [0.0, 1.0, 2.0]
    assert track.end_beats.tolist() == [1.0, 1.5, 4.0]
    # the tempo is stored in whole microseconds per beat
    np.testing.assert_allclose(track.start_seconds, [0.0, 2 / 3, 4 / 3], atol=1e-5)
    np.testing.assert_allclose(track.end_seconds, [2 / 3, 1.0, 8 / 3], atol=1e-5)
    assert tune.time_signatures[0].numerator == 3 and tune.time_signatures[0].bar_beats == 3.0
    assert tune.tempos[0].qpm == pytest.approx(90, abs=1e-3)
    assert tune.key_signatures[0].tonic == 5 and not tune.key_signatures[0].minor  # F major
    assert tune.notes()[0].pitch == 60 and tune.notes()[0].track == "violin"


def test_tempo_change_maps_seconds_piecewise():
    conductor = track_chunk([(0, 0, tempo(120)), (960, 0, tempo(60))])
    notes = track_chunk(note_events([(60, 0, 480, 90), (62, 960, 1440, 90), (64, 1440, 1920, 90)]))
    tune = read_midi_bytes(smf([conductor, notes]))
    # 2 beats at 0.5 s, then 1 s per beat
    np.testing.assert_allclose(tune.tracks[0].start_seconds, [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(tune.tracks[0].end_seconds, [0.5, 2.0, 3.0], atol=1e-6)
    assert [round(t.qpm) for t in tune.tempos] == [120, 60]


@pytest.mark.parametrize("tpq", [24, 96, 384, 480, 1000, 32766])
def test_any_resolution_gives_the_same_beats(tpq):
    notes = [(60, 0, tpq, 90), (62, tpq, tpq * 3 // 2, 90), (64, 2 * tpq, 4 * tpq, 90)]
    track = read_midi_bytes(melody_file(notes, tpq=tpq)).tracks[0]
    assert track.start_beats.tolist() == [0.0, 1.0, 2.0]
    assert track.end_beats.tolist() == [1.0, 1.5, 4.0]


def test_type0_running_status_and_drums():
    events = [(0, 0, tempo(100)), (0, 0, time_signature(6, 8))]
    events += note_events(scale_notes([60, 62, 64, 65]))
    events += note_events([(36, 0, 60, 100), (38, 240, 300, 100)], channel=9)
    tune = read_midi_bytes(smf([track_chunk(events, running_status=True)], fmt=0))
    drums = [t for t in tune.tracks if t.is_drum]
    melodic = [t for t in tune.tracks if not t.is_drum]
    assert len(drums) == 1 and drums[0].pitch.tolist() == [36, 38]
    assert melodic[0].pitch.tolist() == [60, 62, 64, 65]
    assert tune.time_signatures[0].bar_beats == 3.0


def test_riff_wrapped_file(tmp_path):
    inner = melody_file(scale_notes([60, 64, 67]))
    chunk = b"data" + struct.pack("<I", len(inner)) + inner
    riff = b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"RMID" + chunk
    path = tmp_path / "song.rmi"
    path.write_bytes(riff)
    assert read_midi(path).tracks[0].pitch.tolist() == [60, 64, 67]


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"hello, I am a text file", "not a MIDI file"),
    (b"MThd\x00\x00", "truncated"),
    (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 0) + b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00",
     "ticks-per-quarter is 0"),
    (melody_file(scale_notes([60, 62, 64] * 20))[:60], "corrupt MIDI"),
])
def test_unusable_bytes_raise_value_error(data, reason):
    with pytest.raises(ValueError, match=reason):
        read_midi_bytes(data)


def make_tune() -> Tune:
    beats = np.array([0.0, 1.0, 1.5, 3.0])
    track = Track("lead", 73, False, np.array([60, 67, 65, 72], np.int16),
                  np.array([100, 64, 90, 30], np.int16), beats, beats + 0.5, beats * 0.75,
                  (beats + 0.5) * 0.75)
    drums = Track("kit", 0, True, np.array([36], np.int16), np.array([110], np.int16),
                  np.zeros(1), np.full(1, 0.25), np.zeros(1), np.full(1, 0.1875))
    return Tune([track, drums], [TempoChange(0.0, 80.0)], [TimeSignature(0.0, 6, 8)])


def test_write_read_round_trip(tmp_path):
    tune = make_tune()
    write_midi(tune, tmp_path / "out.mid")
    back = read_midi(tmp_path / "out.mid")
    assert not list(tmp_path.glob(".tmp-*"))
    assert back.tempos[0].qpm == pytest.approx(80, abs=1e-3)
    ts = back.time_signatures[0]
    assert (ts.numerator, ts.denominator) == (6, 8)
    lead = next(t for t in back.tracks if t.name == "lead")
    kit = next(t for t in back.tracks if t.is_drum)
    assert lead.program == 73 and kit.pitch.tolist() == [36]
    assert lead.velocity.tolist() == [100, 64, 90, 30]
    np.testing.assert_allclose(lead.start_beats, tune.tracks[0].start_beats)
    np.testing.assert_allclose(lead.end_seconds, tune.tracks[0].end_seconds, atol=1e-6)


def test_pretty_midi_round_trip():
    pytest.importorskip("pretty_midi")
    pm = to_pretty_midi(make_tune())
    lead = next(i for i in pm.instruments if not i.is_drum)
    assert lead.program == 73 and [n.pitch for n in lead.notes] == [60, 67, 65, 72]
    assert lead.notes[1].start == pytest.approx(0.75, abs=1e-4)
    back = from_pretty_midi(pm)
    assert sorted(n.pitch for n in back.notes()) == [36, 60, 65, 67, 72]


def test_midi_bytes_parse_back():
    assert read_midi_bytes(midi_bytes(make_tune())).n_notes == 5
