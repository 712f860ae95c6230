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
    import melodyrnn as mr

    (tmp_path / "t.txt").write_text("%\n".join(f"line {i} of the tale\n" for i in range(80)))
    out = run(tmp_path, "text_autofill.py", tmp_path / "t.txt", "--epochs", "1", "--hidden", "16",
              "--prompt", "line")
    first, rest = out.split("\n", 1)
    run_dir = tmp_path / "runs" / "text-autofill"
    valid = mr.evaluate(str(run_dir / "run" / "best.pt"), [str(run_dir / "data")], split="valid")
    assert first == f"valid: {valid['bits_per_char']:.3f} bits/char"
    completions = rest.split("%\n")
    assert completions[-1] == "" and len(completions) == 4  # three, each closed by a % line
    assert all(c.startswith("line") for c in completions[:3])


def test_train_melody_and_classifier(tmp_path):
    import mido

    midi = tmp_path / "midi"
    midi.mkdir()
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "kind"])
        for i in range(40):
            write_midi(motif_tune(i), midi / f"t{i}.mid")
            w.writerow([f"midi/t{i}.mid", "even" if i % 2 == 0 else "odd"])
    out = run(tmp_path, "train_melody.py", midi, "--epochs", "1", "--hidden", "16")
    seed_notes = sum(m.type == "note_on" and m.velocity > 0
                     for m in mido.MidiFile(SAMPLES / "jig.mid").merged_track)
    made = [line for line in out.splitlines() if line.startswith("runs/my-melodies/continued-")]
    assert len(made) == 2
    for line in made:  # "PATH: N new notes, X bits/note", the file holding the seed and N notes
        path, rest = line.split(": ", 1)
        new = int(rest.split()[0])
        notes = sum(m.type == "note_on" and m.velocity > 0 for m in mido.MidiFile(tmp_path / path).merged_track)
        assert new > 0 and notes == seed_notes + new, (line, notes, seed_notes)
    out = run(tmp_path, "train_classifier.py", midi, "--labels", f"{tmp_path / 'labels.csv'}:kind",
              "--epochs", "1", "--hidden", "16")
    lines = out.splitlines()
    # "test accuracy A (majority class C: M)", then the confusion rows: A and M are read from it
    accuracy, majority = float(lines[0].split()[2]), float(lines[0].rsplit(" ", 1)[1].rstrip(")"))
    assert lines[1] == "confusion (rows: true even, odd)"
    confusion = [[int(n) for n in row.split()] for row in lines[2:]]
    total = sum(map(sum, confusion))
    assert len(confusion) == 2 and total > 0
    assert accuracy == round((confusion[0][0] + confusion[1][1]) / total, 3)
    assert majority == round(max(map(sum, confusion)) / total, 3)


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
