"""Form metrics by hand."""

import numpy as np
import pytest

from melodyrnn.music.structure import (has_aaa, in_key_rate, longest_repeat, new_bars, repeat_fraction,
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


def test_continuation_evaluation_on_tunes_made_here(tiny_run, tmp_path):
    from click.testing import CliRunner

    from melodyrnn.cli.main import main
    from melodyrnn.music.continuations import ContinuationConfig, evaluate_continuations
    from melodyrnn.music.midi_io import write_midi

    # six bars of quarter notes, A B | A B C D: the continuation (bars 3-6) repeats two of its
    # four bars, brings two new ones, and keeps to the primer's pitch classes (C, D: A, B an octave up)
    a, b = [60, 62, 64, 65], [67, 65, 64, 62]
    (tmp_path / "a").mkdir()
    for i in range(4):
        pitches = [p + i for p in a + b + a + b] + [p + 12 + i for p in a + b]
        write_midi(tune(track([(p, k, k + 0.9) for k, p in enumerate(pitches)])), tmp_path / "a" / f"t{i}.mid")
    write_midi(tune(track([(60, 0, 1)])), tmp_path / "a" / "short.mid")
    r = evaluate_continuations(str(tiny_run), [str(tmp_path / "a")], ContinuationConfig(2, 4))
    assert r["all"]["tunes"] == 4 and [s["reason"] for s in r["skipped"]] == ["shorter than 6 bars"]
    s = r["collections"]["a"]
    assert (s["real_repeat_fraction"], s["real_new_bars"], s["real_in_primer_key"]) == (0.5, 2.0, 1.0)
    # each continuation's four bars are either heard before or new
    assert 4 * s["generated_repeat_fraction"] + s["generated_new_bars"] == pytest.approx(4.0)
    assert s["real_bits_per_note"] > 0 and "note_count" in r["features"]
    out = CliRunner().invoke(main, ["evaluate-continuations", str(tiny_run), str(tmp_path / "a"),
                                    "--primer-bars", "2", "--bars", "4"])
    assert out.exit_code == 0, out.output
    row = next(line for line in out.stdout.splitlines() if line.startswith("| a | 4 |"))
    assert "/ 0.50 |" in row and "/ 2.00 |" in row and "/ 1.000 |" in row
    assert "1 files skipped" in out.stderr
