"""The chorale encoding: voices in fixed places of every frame, lossless on four-part tunes."""

import numpy as np
import pytest

from melodyrnn.core.registry import encoding_from_dict, get_encoding
from melodyrnn.core.vocab import BOS, EOS
from melodyrnn.music.encodings.chorale import BAR, HOLD, ON0, REST, STEP, ChoraleEncoding
from melodyrnn.music.notes import TempoChange, TimeSignature, Tune

from tunes import chorale, voice


def by_hand_tune():
    return Tune([voice("S", [(72, 0, 0.5)]), voice("B", [(48, 0, 0.25), (50, 0.25, 0.5)])],
                [TempoChange(0.0, 120.0)], [TimeSignature(0.0, 2, 16)])


def test_by_hand():
    """The module docstring's example: two voices, one bar of 2/16."""
    enc = get_encoding("chorale", voices=2, min_notes=1)
    ids = np.asarray(enc.encode_tunes([by_hand_tune()]).sequence(0)).tolist()
    on = lambda p: ON0 + p - enc.config.min_pitch  # noqa: E731
    assert ids == [BOS, on(72), on(48), STEP, HOLD, on(50), BAR, EOS]
    assert enc.vocab.tokens[REST] == "REST" and enc.vocab.tokens[on(72)] == "ON_72"


@pytest.mark.parametrize("seed", range(6))
def test_four_voices_round_trip_exactly(seed):
    enc = ChoraleEncoding()
    tune = chorale(seed)
    batch = enc.encode_tunes([tune])
    ids = np.asarray(batch.sequence(0))
    assert batch.seq_units[0] == sum(len(t) for t in tune.tracks)  # bits per note: every note
    assert batch.seq_bar_steps[0] == 16 * 5  # a 4/4 bar is 16 frames of 5 tokens
    back = enc.decode_tune(ids, names=[t.name for t in tune.tracks])
    for a, b in zip(tune.tracks, back.tracks):
        assert a.name == b.name and a.pitch.tolist() == b.pitch.tolist()
        assert np.allclose(a.start_beats, b.start_beats) and np.allclose(a.end_beats, b.end_beats)
    assert np.array_equal(np.asarray(enc.encode_tunes([back]).sequence(0)), ids)


def test_voices_are_ordered_top_down_whatever_the_track_order():
    tune = chorale(1)
    shuffled = Tune(tune.tracks[::-1], tune.tempos, tune.time_signatures)
    enc = ChoraleEncoding()
    assert np.array_equal(enc.encode_tunes([shuffled]).sequence(0), enc.encode_tunes([tune]).sequence(0))


def test_chords_in_one_track_are_split_into_voices_by_pitch():
    """A piano-like track: a 5-note chord over 4 voices drops (and counts) the one in the
    middle, keeps the top and bottom; a held note keeps its voice while others move."""
    piano = voice("Piano", [(72, 0, 2), (67, 0, 1), (64, 0, 1), (60, 0, 1), (48, 0, 2),
                            (65, 1, 2), (62, 1, 2)], program=0)
    tune = Tune([piano], [TempoChange(0.0, 120.0)], [TimeSignature(0.0, 4, 4)])
    enc = get_encoding("chorale", min_notes=1)
    batch = enc.encode_tunes([tune])
    assert batch.stats["notes_beyond_voices"][0] == 1
    voices = enc.decode_voices(batch.sequence(0))
    firsts = [int(v[0, 2]) for v in voices]
    assert firsts[0] == 72 and firsts[-1] == 48 and len(set(firsts)) == 4
    assert voices[0].tolist() == [[0, 8, 72]]  # the top note held through both beats
    assert sorted(int(v[-1, 2]) for v in voices[1:3]) == [62, 65]


def test_transposition_moves_every_voice_and_keeps_the_frame():
    enc = ChoraleEncoding()
    ids = np.asarray(enc.encode_tunes([chorale(2)]).sequence(0))
    down, up = enc.pitch_span(ids)
    assert down < 0 < up
    moved = enc.transpose_ids(ids, 2)
    assert np.array_equal(moved == ids, ids < ON0)  # only ON tokens change
    back = enc.decode_voices(moved)
    assert [v[:, 2].tolist() for v in back] == [(v[:, 2] + 2).tolist() for v in enc.decode_voices(ids)]


def test_round_trips_through_its_json_and_rejects_bad_settings():
    enc = ChoraleEncoding()
    assert encoding_from_dict(enc.to_dict()) == enc
    with pytest.raises(ValueError, match="voices"):
        get_encoding("chorale", voices=0)
