"""Melody-track choice, the channel scan and `melodyrnn tracks`."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import midifactory as mf
from melodyrnn.cli.main import main
from melodyrnn.music.midi_io import read_midi_bytes, track_channels, write_midi
from melodyrnn.music.tracks import describe_tracks, melody_track_index, pick_melody_track

from tunes import track, tune

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from arrangements import bury, random_chorale, random_tune  # noqa: E402


def old_rule(t) -> int:
    return max((len(x), float(x.pitch.mean()), i) for i, x in enumerate(t.tracks)
               if len(x) and not x.is_drum)[2]


def test_chorales_give_the_soprano_and_buried_tunes_the_tune():
    rng = np.random.default_rng(11)
    chorales = [random_chorale(rng) for _ in range(60)]
    buried = []
    for _ in range(60):
        bar = float(rng.choice((4.0, 3.0)))
        buried.append(bury(random_tune(rng, 16, bar), bar, rng))
    for kind in (chorales, buried):
        hits = [melody_track_index(t) == label for t, label in kind]
        assert np.mean(hits) >= 0.95
        # the old rule (most notes) fails: the tenor moves in eighths, the arpeggio in 16ths
        assert np.mean([old_rule(t) == label for t, label in kind]) < 0.2


def test_names_programs_and_drums_steer_the_choice():
    tune_notes = [(72 + d, i * 0.5, i * 0.5 + 0.5) for i, d in enumerate([0, 2, 4, 5, 7, 5, 4, 2] * 4)]
    agogo = track([(76 + i % 2, i * 0.25, i * 0.25 + 0.2) for i in range(128)], name="Aux", program=113)
    drums = track([(36, i * 0.5, i * 0.5 + 0.25) for i in range(64)], name="", is_drum=True)
    lead = track(tune_notes, name="Flute", program=73)
    t = tune(drums, agogo, lead)
    assert melody_track_index(t) == 2
    # a chord track with more notes loses to the tune; the name "Melody" wins a close call
    chords = track([(p, b, b + 1) for b in range(16) for p in (60, 64, 67)], name="Piano")
    other = track([(74 - d, i * 0.5, i * 0.5 + 0.5) for i, d in enumerate([0, 2, 3, 5, 7, 5, 3, 2] * 4)],
                  name="Melody", program=0)
    assert melody_track_index(tune(chords, lead, other)) == 2
    assert pick_melody_track(t, "1")[0] == 1 and pick_melody_track(t, "Flute")[0] == 2
    with pytest.raises(ValueError, match="no such track"):
        pick_melody_track(t, "Violin")
    with pytest.raises(ValueError, match="no notes outside drum"):
        melody_track_index(tune(drums))


def test_channels_are_read_from_the_file():
    conductor = mf.track_chunk([(0, 0, mf.tempo(120))])
    # one file track holding two channels with their own programs, then drums on channel 10
    events = [(0, 0, mf.track_name("Keys")), (0, 0, bytes([0xC3, 40])), (0, 0, bytes([0xC0, 10]))]
    events += mf.note_events(mf.scale_notes([60, 62, 64]), 3) + mf.note_events(mf.scale_notes([48, 50]), 0)
    drums = mf.track_chunk([(0, 0, mf.track_name("Kit"))] + mf.note_events(mf.scale_notes([36] * 4), 9))
    data = mf.smf([conductor, mf.track_chunk(events, running_status=True), drums])
    t = read_midi_bytes(data)
    got = {(x.name, x.program, len(x)): ch for x, ch in zip(t.tracks, track_channels(t, data))}
    assert got == {("Keys", 40, 3): 3, ("Keys", 10, 2): 0, ("Kit", 0, 4): 9}
    infos = describe_tracks(t, track_channels(t, data))
    assert {i.name: i.channel for i in infos if i.program == 40} == {"Keys": 4}  # 1-16


def test_tracks_command_lists_and_marks_the_melody(tmp_path):
    rng = np.random.default_rng(3)
    t, label = bury(random_tune(rng, 8, 4.0), 4.0, rng)
    path = tmp_path / "song.mid"
    write_midi(t, path)
    result = CliRunner().invoke(main, ["tracks", str(path), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["index"] for r in rows] == list(range(len(t.tracks)))
    assert [r["melody"] for r in rows].count(True) == 1 and rows[label]["melody"]
    assert {"index", "name", "program", "notes", "melody", "channel", "polyphony",
            "pitch_low", "pitch_high"} <= set(rows[0])
    assert [r["notes"] for r in rows] == [len(x) for x in t.tracks]
    table = CliRunner().invoke(main, ["tracks", str(path)])
    marked = [line for line in table.stdout.splitlines() if line.startswith("*")]
    assert len(marked) == 1 and int(marked[0].split()[1]) == label
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd nonsense")
    result = CliRunner().invoke(main, ["tracks", str(bad)])
    assert result.exit_code == 1 and result.stderr.startswith("Error:") and "Traceback" not in result.output


def test_real_files_chorales_buried_tunes_and_messy_songs(data_dir):
    """The benchmark's labelled kinds (benchmarks/tracks.py), each at least 95%."""
    from tracks import labelled

    for kind, n in (("chorales", 0), ("buried", 150), ("messy", 0)):
        hits = []
        for t, label in labelled(kind, data_dir, n, 0):
            labels = label if isinstance(label, set) else {label}
            hits.append(melody_track_index(t) in labels)
        assert len(hits) >= (150 if kind == "buried" else 20) * 0.9 and np.mean(hits) >= 0.95, kind
