"""Primers: typed pitches and note names, windows of a seed's bars, keys."""

import numpy as np
import pytest

from melodyrnn.music.keys import infer_key, key_name, pitch_name
from melodyrnn.music.notes import KeySignature
from melodyrnn.music.seeds import parse_pitch, parse_primer, primer_window, seed_window

from tunes import track, tune


def test_primer_pitches_and_note_names():
    # by hand: C4 = 60, so D4 = 62, F#4 = 66, Bb3 = 58, C-1 = 0, G9 = 127
    assert parse_primer("D4 E4 F#4") == [62, 64, 66]
    assert parse_primer("62, 64 66") == [62, 64, 66]
    assert [parse_pitch(t) for t in ("Bb3", "C-1", "G9", "e5", "Cb4", "B#3")] == [58, 0, 127, 76, 59, 60]
    for bad, msg in (("62 200", "outside the MIDI range"), ("D E F#", "neither"), ("G#9", "outside"),
                     ("60.5", "neither"), ("-3", "neither"), ("", "give pitches")):
        with pytest.raises(ValueError, match=msg):
            parse_primer(bad)


def test_pitch_names_round_trip():
    for p in range(128):
        assert parse_pitch(pitch_name(p)) == p
    assert pitch_name(61) == "C#4"


def test_key_inference_by_hand():
    d_major = [62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62]
    assert infer_key(d_major) == (2, False) and key_name(2, False) == "D major"
    a_minor = [69, 71, 72, 74, 76, 77, 79, 81, 76, 72, 69, 64, 69]
    assert infer_key(a_minor, np.r_[np.ones(12), 4.0]) == (9, True)
    assert infer_key([]) is None and infer_key([60, 72]) is None  # one pitch class fits many keys


def _long_seed(bars=20):
    """Bar b (1-based) holds four quarter notes of pitch 50 + b, in 4/4, key of G."""
    notes = [(50 + b, (b - 1) * 4 + k, (b - 1) * 4 + k + 1) for b in range(1, bars + 1) for k in range(4)]
    t = tune(track(notes, name="tune", program=73), track([(36, 0, 80)], name="bass", program=33))
    t.key_signatures = [KeySignature(0.0, 7, False)]
    return t


def test_the_window_is_the_last_bars_by_default():
    w = seed_window(_long_seed(), 4, primer_bars=8)
    assert (w.first_bar, w.cut_bar, w.seed_bars, w.track_index) == (13, 21, 20, 0)
    assert w.melody.length_steps == 8 * 16 and w.primer_beats == 32
    assert sorted(set(w.melody.pitch.tolist())) == list(range(63, 71))  # bars 13-20
    assert w.notes.start_beats[0] == 0 and w.notes.pitch[0] == 63  # shifted to beat 0
    assert w.context.key_signatures[0].tonic == 7


def test_from_bar_and_whole_seed_windows():
    w = seed_window(_long_seed(), 4, primer_bars=4, from_bar=9)
    assert (w.first_bar, w.cut_bar) == (5, 9)
    assert sorted(set(w.notes.pitch.tolist())) == [55, 56, 57, 58]
    whole = seed_window(_long_seed(), 4, primer_bars=0)
    assert (whole.first_bar, whole.cut_bar, len(whole.melody)) == (1, 21, 80)
    assert len(seed_window(_long_seed(), 4, 8, from_bar=1).melody) == 0  # from the start
    with pytest.raises(ValueError, match="the seed has 20 bars"):
        seed_window(_long_seed(), 4, 8, from_bar=30)


def test_typed_primer_fills_whole_bars():
    w = primer_window([62, 64, 66, 67, 69], 4)
    assert w.melody.length_steps == 32 and w.cut_bar == 3  # 5 quarters -> 2 bars of 4/4
    assert primer_window(None, 4).melody.length_steps == 0
