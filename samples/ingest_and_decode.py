"""Ingest a few tunes composed in code, then decode a stored sequence back to MIDI.

    python samples/ingest_and_decode.py OUT_DIR
"""

import sys
from pathlib import Path

import numpy as np

import melodyrnn as mr
from melodyrnn.music.encodings.melody import melody_to_tune


def composed_tune(seed: int) -> mr.Tune:
    """A short random walk in D major, in 6/8, eighth notes and dotted quarters."""
    rng = np.random.default_rng(seed)
    scale = np.array([62, 64, 66, 67, 69, 71, 73, 74, 76, 78])
    degree, beat, notes = 4, 0.0, []
    for _ in range(32):
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(scale) - 1))
        length = float(rng.choice([0.5, 0.5, 0.5, 1.5]))
        notes.append((scale[degree], beat, beat + length))
        beat += length
    pitch = np.array([n[0] for n in notes], np.int16)
    start = np.array([n[1] for n in notes])
    end = np.array([n[2] for n in notes])
    track = mr.Track("fiddle", 40, False, pitch, np.full(len(notes), 90, np.int16), start, end,
                     start * 0.5, end * 0.5)
    return mr.Tune([track], [mr.TempoChange(0.0, 120.0)], [mr.TimeSignature(0.0, 6, 8)])


def main(out: Path) -> None:
    tunes_dir = out / "tunes"
    tunes_dir.mkdir(parents=True, exist_ok=True)
    for i in range(8):
        mr.write_midi(composed_tune(i), tunes_dir / f"walk{i}.mid")
    enc = mr.get_encoding("melody")
    report = mr.run_ingest(mr.IngestConfig(inputs=(str(tunes_dir),), output=str(out / "dataset"),
                                           encoding=enc.to_dict(), valid=0.25, test=0.25,
                                           progress=False))
    print(report.summary())
    train = mr.load_dataset(out / "dataset").split("train")
    melody = enc.decode(train.sequence(0), steps_per_bar=int(train.bar_steps[0]))
    mr.write_midi(melody_to_tune(melody, qpm=120, program=40, time_signature=(6, 8)),
                  out / "decoded.mid")
    print(f"decoded {len(melody)} notes to {out / 'decoded.mid'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "sample-output"))
