import csv
import json

import numpy as np
from click.testing import CliRunner

from melodyrnn.cli.main import main
from melodyrnn.music.midi_io import write_midi
from tunes import motif_tune, track, tune


def _low_slow(seed: int):
    """Long notes low down: easy to tell from the quick high motif tunes."""
    rng = np.random.default_rng(seed)
    pitches = 40 + np.concatenate([rng.permutation([0, 2, 3, 5, 7]), rng.choice([0, 2, 3, 5, 7], 7)])
    return tune(track([(int(p), 2 * i, 2 * i + 2) for i, p in enumerate(pitches)]))


def test_classifier_learns_collections_and_classifies_files(tmp_path):
    midi = tmp_path / "midi"
    midi.mkdir()
    rows = []
    for i in range(60):
        kind = "quick" if i % 3 else "slow"  # 40 quick, 20 slow: majority baseline 2/3
        write_midi(motif_tune(i) if kind == "quick" else _low_slow(i), midi / f"t{i:02d}.mid")
        rows.append({"path": f"midi/t{i:02d}.mid", "kind": kind})
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["path", "kind"])
        w.writeheader()
        w.writerows(rows)
    run = CliRunner()
    r = run.invoke(main, ["ingest", str(midi), "-o", str(tmp_path / "ds"), "--valid", "0.2",
                          "--test", "0.2", "--workers", "1", "-q"])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["train", str(tmp_path / "ds"), "-o", str(tmp_path / "run"), "--task",
                          "classify", "--labels", f"{tmp_path / 'labels.csv'}:kind", "--hidden", "32",
                          "--layers", "1", "--embedding", "16", "--epochs", "6", "--batch-size", "8",
                          "--lr", "1e-2", "-q"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["classes"] == ["quick", "slow"]
    assert result["accuracy"] == 1.0 > result["majority_accuracy"]
    assert np.trace(result["confusion"]) == result["sequences"]
    assert json.loads((tmp_path / "run" / "test.json").read_text()) == result
    write_midi(_low_slow(999), tmp_path / "new.mid")
    (tmp_path / "bad.mid").write_bytes(b"nope")
    r = run.invoke(main, ["classify", str(tmp_path / "run" / "best.pt"), str(tmp_path / "new.mid"),
                          str(tmp_path / "bad.mid")])
    assert r.exit_code == 0, r.output
    path, label, prob = r.stdout.strip().split("\t")
    assert path.endswith("new.mid") and label == "slow" and float(prob) > 0.5
    assert "skipped" in r.stderr and "bad.mid" in r.stderr
    r = run.invoke(main, ["evaluate", str(tmp_path / "run" / "best.pt"), str(tmp_path / "ds")])
    assert r.exit_code == 1 and "sequence classifier" in r.output


def test_bad_labels_are_one_line_errors(tmp_path, tiny_dataset):
    (tmp_path / "l.csv").write_text("path,kind\nx.mid,a\n")
    for spec, message in [(f"{tmp_path / 'l.csv'}:nope", "no column 'nope'"),
                          (f"{tmp_path / 'missing.csv'}:kind", "cannot read labels"),
                          (f"{tmp_path / 'l.csv'}:kind", "no training sequence has a label"),
                          ("nocolumn", "expected FILE.csv:COLUMN")]:
        r = CliRunner().invoke(main, ["train", str(tiny_dataset), "-o", str(tmp_path / "r"),
                                      "--task", "classify", "--labels", spec])
        assert r.exit_code == 1 and message in r.output, (spec, r.output)
