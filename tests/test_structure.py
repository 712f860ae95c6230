"""Form metrics by hand."""

import numpy as np

from melodyrnn.structure import (has_aaa, in_key_rate, longest_repeat, new_bars, repeat_fraction,
                                 structure_features, tune_bars)

from tunes import track, tune

A, B, C, D = ((0, 3, 60),), ((0, 3, 62),), ((0, 3, 64),), ((0, 3, 65),)


def test_repeats_new_bars_and_phrases_by_hand():
    bars = [A, B, A, B, C, A, B, D]
    # after bar 1: B new, A rep, B rep, C new, A rep, B rep, D new -> 4 of 7 repeat
    assert repeat_fraction(bars) == 4 / 7
    assert new_bars(bars) == 4  # A, B, C, D each first heard once
    assert new_bars(bars, start=4) == 2  # C and D; A, B were heard before bar 5
    assert longest_repeat(bars) == 2  # A B returns; no 4-bar run repeats
    assert longest_repeat([A, B, C, D, A, B, C, D]) == 4
    assert longest_repeat([A, B, C, D]) == 0
    assert longest_repeat([A, A]) == 1 and longest_repeat([A, A, A]) == 1  # AA twice would overlap


def test_aaa():
    block = [A, B, C, D, B, C, A, D]
    assert has_aaa(block * 3) and has_aaa([C] + block * 3)
    assert not has_aaa(block * 2 + [B] * 8) and not has_aaa(block * 2)


def test_in_key_rate_and_tune_bars():
    assert in_key_rate(np.array([60, 62, 64, 61]), np.array([0, 2, 4, 5, 7, 9, 11])) == 0.75
    assert in_key_rate(np.array([62, 64, 66, 67, 69, 71, 73, 74])) == 1.0  # D major, inferred
    t = tune(track([(60, 0, 1), (62, 1, 2), (60, 4, 5), (62, 5, 6), (64, 9, 10)]), ts=((0.0, 4, 4),))
    bars = tune_bars(t.tracks[0].pitch, t.tracks[0].start_beats, t.tracks[0].end_beats, 4.0)
    assert bars == [((0, 12, 60), (12, 12, 62))] * 2 + [((12, 12, 64),)]
    f = structure_features(t)
    assert f["repeat_fraction"] == 0.5 and f["longest_repeat_bars"] == 1 and f["new_bars"] == 2
