import json

import numpy as np
import pytest
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.music.features import piece_features
from melodyrnn.music.midi_io import write_midi
from melodyrnn.music.sample_eval import compare_sets, kde_on_grid, longest_shared_runs
from tunes import motif_tune, track, tune


def test_features_by_hand():
    # C4 quarter, E4 quarter, G4 half; then a chord C5+E5 (two notes at beat 6) after a rest
    t = tune(track([(60, 0, 1), (64, 1, 2), (67, 2, 4), (72, 6, 7), (76, 6, 7)]))
    f = piece_features(t)
    assert f["pitch_count"] == 5 and f["note_count"] == 5 and f["pitch_range"] == 16
    assert f["pitch_class_histogram"][[0, 4, 7]].tolist() == [0.4, 0.4, 0.2]
    # pitch classes in onset order 0 4 7 0 4: transitions 0->4 twice, 4->7, 7->0
    m = f["pitch_class_transition_matrix"]
    assert m[0, 4] == 0.5 and m[4, 7] == 0.25 and m[7, 0] == 0.25
    assert f["average_pitch_interval"] == pytest.approx((4 + 3 + 5 + 4) / 4)
    assert f["average_inter_onset_interval"] == pytest.approx((1 + 1 + 4) / 3)  # onsets 0 1 2 6
    # lengths: quarter (class 2) x4, half (class 1) x1
    assert f["note_length_histogram"][[1, 2]].tolist() == [0.2, 0.8]
    assert f["scale_consistency"] == 1.0  # all in C major
    assert f["pitch_class_entropy"] == pytest.approx(-(2 * 0.4 * np.log2(0.4) + 0.2 * np.log2(0.2)))
    assert f["empty_beat_rate"] == pytest.approx(2 / 7)  # beats 4 and 5 of 0..6 are silent
    # 1/12-beat steps from 0 to 7: the chord's 12 steps of 84 have two notes
    assert f["polyphony_rate"] == pytest.approx(12 / 84)


def test_kde_integrates_to_one_and_like_sets_overlap():
    grid = np.linspace(-5, 5, 1024)
    density = kde_on_grid(np.random.default_rng(0).normal(size=500), grid)
    assert density.sum() * (grid[1] - grid[0]) == pytest.approx(1.0)
    a = [motif_tune(i) for i in range(30)]
    b = [motif_tune(i) for i in range(30, 60)]
    same = compare_sets(b, a)["features"]
    far = compare_sets([tune(track([(p, i, i + 4) for i, p in enumerate([40, 90] * 20)]))
                        for _ in range(5)], a)["features"]
    for name in ("pitch_range", "average_pitch_interval", "note_length_histogram"):
        assert same[name]["overlap_area"] > 0.6 and far[name]["overlap_area"] < 0.1, name
        assert same[name]["kl_divergence"] < far[name]["kl_divergence"]


def test_longest_shared_runs_by_hand():
    def melody(pitches):
        return tune(track([(p, i, i + 1) for i, p in enumerate(pitches)]))

    train = [melody([60, 62, 64, 65, 67, 69, 71, 72]), melody([50, 52, 53])]
    gen = [melody([1, 62, 64, 65, 67, 2]),  # 4 notes shared
           melody([60, 62, 64, 65, 67, 69, 71, 72, 74]),  # 8 shared
           melody([52, 53, 60]),  # 2 shared, and 53 -> 60 crosses tunes: not a run
           melody([90, 91])]
    assert longest_shared_runs(gen, train) == [4, 8, 2, 0]
    # durations count too
    assert longest_shared_runs([tune(track([(60, 0, 2), (62, 2, 3)]))], train) == [1]


def test_evaluate_samples_command(tmp_path, tiny_dataset):
    gen = tmp_path / "gen"
    gen.mkdir()
    for i in range(4):
        write_midi(motif_tune(200 + i), gen / f"g{i}.mid")
    (gen / "bad.mid").write_bytes(b"not midi")
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["evaluate-samples", str(gen), str(tiny_dataset),
                                       "--train", str(tiny_dataset), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| pitch_class_histogram |" in result.stdout and "overlap area" in result.stdout
    assert "skipped" in result.stderr and "bad.mid" in result.stderr
    data = json.loads(out.read_text())
    assert data["generated"] == 4 and len(data["copies"]["runs"]) == 4
    result = CliRunner().invoke(main, ["evaluate-samples", str(tmp_path / "gen" / "bad.mid"),
                                       str(tiny_dataset)])
    assert result.exit_code == 1 and "need generated tunes" in result.output
