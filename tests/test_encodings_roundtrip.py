"""Every built-in encoding round-trips (minbpe style): decode(encode(x)) gives x back --
exactly for text and token names, and for MIDI encodings the same notes, whose encoding is
the same ids again -- plus one hand-worked example."""

import numpy as np
import pytest

from melodyrnn.core.registry import get_encoding
from melodyrnn.core.registry import plugins
from melodyrnn.text.encodings import CharEncoding, TokensConfig, TokensEncoding, WordEncoding

from tunes import motif_tune

TEXT = "the cat sat on the mat; the cat sat.\nA new line, and é, ✓.\n"


def test_the_built_in_encodings_are_all_covered_here():
    names = {p.name for p in plugins() if p.source == "built-in" and p.group == "melodyrnn.encodings"}
    assert names == {"melody", "performance", "chorale", "char", "word", "tokens"}  # each tested


@pytest.mark.parametrize("name", ["melody", "performance", "chorale"])
def test_midi_encodings_round_trip(name):
    enc = get_encoding(name)
    for seed in range(5):
        tune = motif_tune(seed)
        ids = np.asarray(enc.encode_tunes([tune]).sequence(0))
        back = enc.decode_tune(ids)
        assert back.tracks[0].pitch.tolist() == tune.tracks[0].pitch.tolist()
        assert np.allclose(back.tracks[0].start_beats, tune.tracks[0].start_beats)
        assert np.array_equal(np.asarray(enc.encode_tunes([back]).sequence(0)), ids)


def test_melody_by_hand():
    """Two notes at 4 steps a quarter: C4 for a quarter, rest an eighth, E4 an eighth."""
    from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune

    s, e = np.array([0.0, 1.5]), np.array([1.0, 2.0])
    tune = Tune([Track("m", 0, False, np.array([60, 64], np.int16), np.array([90, 90], np.int16),
                       s, e, s / 2, e / 2)], [TempoChange(0.0, 120.0)], [TimeSignature(0.0, 4, 4)])
    enc = get_encoding("melody", min_notes=1, min_unique_pitches=1)
    ids = np.asarray(enc.encode_tunes([tune]).sequence(0)).tolist()
    on = lambda p: 5 + p  # noqa: E731  NOTE_ON ids start at 5 for pitch 0
    assert ids == [1, on(60), 3, 3, 3, 4, 3, on(64), 3, 2]  # <s> ... NOTE_OFF, hold ... </s>


@pytest.mark.parametrize("enc", [CharEncoding.fit([TEXT]), WordEncoding.fit([TEXT * 3], min_count=1)],
                         ids=["char", "word"])
def test_text_encodings_round_trip(enc):
    ids = enc.encode_text(TEXT)
    assert ids[0] == 1 and ids[-1] == 2
    assert enc.decode_text(ids) == TEXT


def test_char_by_hand():
    enc = CharEncoding.fit(["ab"])
    assert enc.encode_text("ba?").tolist() == [1, 5, 4, 3, 2]  # <s> b a <unk> </s>


def test_token_names_round_trip():
    enc = TokensEncoding(TokensConfig(("do", "re", "mi")))
    names = ["mi", "do", "re", "re"]
    ids = enc.encode_text(" ".join(names))
    assert ids.tolist() == [1, 6, 4, 5, 5, 2]  # <s>, names after <pad> <s> </s> <unk>, </s>
    assert enc.decode_names(ids) == names
