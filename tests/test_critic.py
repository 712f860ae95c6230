"""The critic's statistics of a (primer, continuation) pair, by hand, and the 2AFC."""

import numpy as np
import pytest

from melodyrnn.music.critic import STATISTICS, bootstrap_interval, near, pair_statistics, two_afc
from melodyrnn.music.features import pitched_notes
from tunes import track, tune


def quarters(pitches, bar):
    return [(p, bar * 4 + i, bar * 4 + i + 1) for i, p in enumerate(pitches)]


PRIMER = tune(track(quarters([60, 64, 67, 64], 0) + quarters([65, 62, 59, 60], 1)))
# bar 3 = bar 1; bar 4 = bar 2 with its last note changed (near); bar 5 = bar 1 an octave up
# (transposed); bar 6 new, closing on a half-note C (the primer's final, the tonic)
CONTINUATION = tune(track(quarters([60, 64, 67, 64], 0) + quarters([65, 62, 59, 62], 1)
                          + quarters([72, 76, 79, 76], 2) + [(74, 12, 13), (71, 13, 14), (72, 14, 16)]))


def test_statistics_of_a_tiny_tune_by_hand():
    s = pair_statistics(pitched_notes(PRIMER), pitched_notes(CONTINUATION), 4.0, primer_bars=2, bars=4)
    assert list(s) == list(STATISTICS) and 40 <= len(s) <= 90
    assert s["cad_last_on_primer_final"] == s["cad_last_on_tonic"] == 1.0  # C, in C major
    assert s["cad_last_len_minus_primer_last"] == 4.0  # a half note after a quarter: +4 16ths
    assert s["cad_last_bar_onsets"] == 3 and s["cad_last_bar_rhythm_as_primer_last"] == 0.0
    # one bar each: equal to a primer bar, near one (one note changed), transposed, new
    assert (s["rep_primer"], s["rep_near"], s["rep_transposed"], s["rep_new"]) == (0.25, 0.25, 0.25, 0.25)
    assert s["sec_h1_as_primer"] == 0.5 and s["sec_h2_first_is_first"] == 0.0
    # register: primer mean 501/8; continuation 1023/15, h1 503/8, h2 520/7; highest 79 vs 67
    assert s["reg_mean"] == pytest.approx(1023 / 15 - 501 / 8)
    assert s["reg_h1_mean"] == pytest.approx(503 / 8 - 501 / 8)
    assert s["reg_h2_mean"] == pytest.approx(520 / 7 - 501 / 8)
    assert s["reg_max"] == 12.0
    # intervals 4 3 3 | 1 | 3 3 3 | 10 | 4 3 3 | 2 | 3 1: the largest 10, steps 3 of 14,
    # across bar lines (1, 10, 2) 13/3 against 33/11 within
    assert s["int_max"] == 10.0 and s["int_step"] == pytest.approx(3 / 14)
    assert s["int_barline"] == pytest.approx(13 / 3 - 3)
    assert s["rhy_onsets_per_bar"] == 15 / 4 and s["rhy_len_quarter"] == pytest.approx(14 / 15)


def test_near_bars():
    a = ((0, 4, 60), (4, 4, 62), (8, 4, 64))
    assert near(a, ((0, 4, 60), (4, 4, 62), (8, 4, 65)))
    assert not near(a, a) and not near(a, ((0, 4, 61), (4, 4, 63), (8, 4, 65)))


def test_two_afc_separable_and_indistinguishable():
    n = 4000
    assert np.mean(two_afc(np.ones(10), np.zeros(10), np.arange(10))) == 1.0
    assert np.mean(two_afc(np.ones(10), np.ones(20), np.repeat(np.arange(10), 2))) == 0.5  # ties
    rng = np.random.default_rng(0)
    same = two_afc(rng.normal(size=n), rng.normal(size=2 * n), np.repeat(np.arange(n), 2))
    assert abs(same.mean() - 0.5) < 0.03
    lo, hi = bootstrap_interval(same)
    assert lo < 0.5 < hi or abs(same.mean() - 0.5) < 0.02
    assert bootstrap_interval(np.ones(5)) == (1.0, 1.0)
