import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.music.encodings.melody import MelodyConfig, MelodyEncoding
from melodyrnn.core.registry import encoding_from_dict, get_encoding
from melodyrnn.music.encodings.melody import fold_pitches
from melodyrnn.music.quantize import Melody, extract_melodies

from tunes import track, tune


def melody(notes, length=0, spq=4):
    return Melody(pitch=[n[0] for n in notes], start_steps=[n[1] for n in notes],
                  end_steps=[n[2] for n in notes], length_steps=length, steps_per_quarter=spq)


def test_hand_worked_example_full_range():
    enc = MelodyEncoding()
    m = melody([(60, 0, 2), (62, 2, 3), (64, 4, 8)])
    ids = enc.encode(m)
    # <s> ON60 . ON62 OFF ON64 . . . </s>
    assert ids.tolist() == [1, 65, 3, 67, 4, 69, 3, 3, 3, 2]
    assert [enc.vocab.name(i) for i in ids[:5]] == ["<s>", "NOTE_ON_60", "NO_EVENT", "NOTE_ON_62",
                                                    "NOTE_OFF"]
    assert len(enc.vocab) == 5 + 128
    back = enc.decode(ids)
    assert back.same_notes(m) and back.length_steps == 8


def test_hand_worked_example_window():
    enc = MelodyEncoding(MelodyConfig(min_pitch=48, max_pitch=83))
    ids = enc.encode(melody([(60, 0, 1), (90, 1, 2), (40, 3, 4)], length=5))
    # 90 folds down to 78, 40 up to 52; trailing rest after the last note-off
    assert ids.tolist() == [1, 5 + 12, 5 + 30, 4, 5 + 4, 4, 2]
    assert len(enc.vocab) == 5 + 36


@st.composite
def melodies(draw, low=0, high=127):
    n = draw(st.integers(0, 40))
    gaps = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    durs = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    pitches = draw(st.lists(st.integers(low, high), min_size=n, max_size=n))
    notes, t = [], draw(st.integers(0, 15))
    for g, d, p in zip(gaps, durs, pitches):
        t += g
        notes.append((p, t, t + d))
        t += d
    return melody(notes, length=t + draw(st.integers(0, 5)))


@settings(max_examples=300, deadline=None)
@given(melodies())
def test_round_trip_is_exact(m):
    enc = MelodyEncoding()
    back = enc.decode(enc.encode(m))
    assert back.same_notes(m)
    assert back.length_steps == m.length_steps


@settings(max_examples=200, deadline=None)
@given(melodies(), st.integers(0, 60))
def test_window_round_trip_equals_folding(m, low):
    enc = MelodyEncoding(MelodyConfig(min_pitch=low, max_pitch=low + 23))
    back = enc.decode(enc.encode(m))
    assert back.pitch.tolist() == fold_pitches(m.pitch, low, low + 23).tolist()
    assert np.array_equal(back.start_steps, m.start_steps)
    assert np.array_equal(back.end_steps, m.end_steps)


def test_fold_pitches_by_octaves():
    assert fold_pitches(np.array([47, 48, 60, 71, 72, 95, 0]), 48, 71).tolist() == [
        59, 48, 60, 71, 60, 71, 48]


def test_transpose_to_c_major():
    g_major = [67, 69, 71, 72, 74, 76, 78, 79]
    enc = MelodyEncoding(MelodyConfig(transpose_to_key=0))
    ids = enc.encode(melody([(p, i, i + 1) for i, p in enumerate(g_major)]))
    assert enc.decode(ids).pitch.tolist() == [p + 5 for p in g_major]  # G -> C, up a fourth


def test_decoder_tolerates_stray_tokens():
    enc = MelodyEncoding()
    # stray NOTE_OFF in a rest, a pad and a stray <s> mid-sequence, tokens after </s>
    ids = [1, 4, 65, 0, 4, 4, 1, 67, 2, 65, 65]
    m = enc.decode(ids)
    assert list(zip(m.pitch.tolist(), m.start_steps.tolist(), m.end_steps.tolist())) == [
        (60, 1, 3), (62, 6, 7)]


def test_encode_tunes_matches_extract_then_encode():
    enc = MelodyEncoding(MelodyConfig(min_notes=2, min_unique_pitches=2))
    tunes = [tune(track([(60 + i % 7, i * 0.5, i * 0.5 + 0.5) for i in range(9)])),
             tune(track([(70, 0, 1), (72, 1, 2), (74, 8, 9), (76, 9, 10)]), ts=((0.0, 3, 4),))]
    batch = enc.encode_tunes(tunes)
    expected = [enc.encode(m) for t in tunes for m in extract_melodies(t, enc.config)[0]]
    assert batch.n_sequences == len(expected) == 3
    for i, ids in enumerate(expected):
        assert batch.sequence(i).tolist() == ids.tolist()
    assert batch.seq_tune.tolist() == [0, 1, 1]
    assert batch.seq_units.tolist() == [9, 2, 2]
    assert batch.seq_bar_steps.tolist() == [16, 12, 12]


def test_config_round_trips_through_json():
    enc = get_encoding("melody", steps_per_quarter=12, min_pitch=48, max_pitch=83,
                       transpose_to_key=0)
    again = encoding_from_dict(json.loads(json.dumps(enc.to_dict())))
    assert again == enc and again.vocab == enc.vocab
    assert again.config.steps_per_quarter == 12


@pytest.mark.parametrize("options", [dict(min_pitch=60, max_pitch=65), dict(transpose_to_key=12),
                                     dict(max_pitch=200), dict(colour="blue")])
def test_bad_config_is_a_value_error(options):
    with pytest.raises(ValueError):
        get_encoding("melody", **options)


def test_unknown_encoding():
    with pytest.raises(ValueError, match="unknown encoding"):
        get_encoding("abc")
