"""The runnable examples in samples/ run, on tiny data and settings."""

import csv
import subprocess
import sys
from pathlib import Path

from melodyrnn.music.midi_io import write_midi

from tunes import motif_tune

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run(tmp_path, script, *args) -> str:
    r = subprocess.run([sys.executable, str(SAMPLES / script), *map(str, args)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_text_autofill(tmp_path):
    (tmp_path / "t.txt").write_text("%\n".join(f"line {i} of the tale\n" for i in range(80)))
    out = run(tmp_path, "text_autofill.py", tmp_path / "t.txt", "--epochs", "1", "--hidden", "16",
              "--prompt", "line")
    assert "bits/char" in out and out.count("\n%\n") + out.endswith("%\n") >= 3


def test_train_melody_and_classifier(tmp_path):
    midi = tmp_path / "midi"
    midi.mkdir()
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "kind"])
        for i in range(40):
            write_midi(motif_tune(i), midi / f"t{i}.mid")
            w.writerow([f"midi/t{i}.mid", "even" if i % 2 == 0 else "odd"])
    out = run(tmp_path, "train_melody.py", midi, "--epochs", "1", "--hidden", "16")
    assert "bits/note" in out and "continued-1.mid" in out
    out = run(tmp_path, "train_classifier.py", midi, "--labels", f"{tmp_path / 'labels.csv'}:kind",
              "--epochs", "1", "--hidden", "16")
    assert "test accuracy" in out and "confusion" in out


def test_output_form_counts_a_hand_made_continuation(tmp_path):
    """Seed bars A B, then A B C A (one note a bar, C's pitch class new): 3 of 4 new bars
    repeat, 1 never heard before, 3 of 4 new notes in the seed's pitch classes."""
    from midifactory import melody_file

    bar = 1920  # ticks of a 4/4 bar at tpq 480
    pitches = [60, 62, 60, 62, 61, 60]
    notes = [(p, i * bar, i * bar + 480, 90) for i, p in enumerate(pitches)]
    (tmp_path / "out.mid").write_bytes(melody_file(notes))
    out = run(tmp_path, "output_form.py", f"{tmp_path / 'out.mid'}:2")
    assert out.splitlines()[-1] == "| out (2-bar seed) | 0.75 | 1 | no | 0.750 |"
