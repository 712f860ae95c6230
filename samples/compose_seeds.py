"""Write the seed tunes in samples/: short melodies composed for this project.

    python samples/compose_seeds.py [OUT_DIR]

A jig in D (6/8), a reel in G (4/4) and a waltz in F (3/4), written note by note here
(no corpus material), for trying ``melodyrnn generate samples/<seed>.mid``; and a four-part
hymn in G (4/4, soprano, alto, tenor, bass tracks) for the chorale model.
"""

import sys
from pathlib import Path

import numpy as np

import melodyrnn as mr

# (pitch, length in beats); beats are quarter notes
JIG = [(69, .5), (66, .5), (69, .5), (74, .5), (69, .5), (66, .5),
       (67, .5), (71, .5), (67, .5), (64, .5), (66, .5), (67, .5),
       (69, .5), (66, .5), (69, .5), (74, .5), (73, .5), (74, .5),
       (76, .5), (73, .5), (69, .5), (74, 1.5)]
REEL = [(67, .5), (71, .5), (74, .5), (71, .5), (79, .5), (71, .5), (74, .5), (71, .5),
        (72, .5), (69, .5), (76, .5), (69, .5), (72, .5), (69, .5), (66, .5), (69, .5),
        (67, .5), (71, .5), (74, .5), (79, .5), (83, .5), (79, .5), (74, .5), (71, .5),
        (72, .5), (69, .5), (66, .5), (69, .5), (67, 2.0)]
WALTZ = [(65, 1), (69, 1), (72, 1), (77, 2), (76, 1), (74, 1), (72, 1), (70, 1), (69, 3),
         (67, 1), (70, 1), (74, 1), (72, 2), (69, 1), (67, 1), (64, 1), (67, 1), (65, 3)]

# four voices, one chord a beat (I IV V I | vi IV ii V | I IV/E V V7 | I), the last a whole note
HYMN = {"Soprano": [71, 72, 74, 74, 71, 72, 72, 74, 71, 72, 69, 72, 71],
        "Alto": [67, 67, 66, 67, 67, 67, 69, 66, 67, 67, 66, 66, 67],
        "Tenor": [62, 64, 62, 59, 64, 64, 64, 62, 62, 64, 62, 57, 62],
        "Bass": [55, 48, 50, 55, 52, 48, 45, 50, 55, 52, 50, 50, 43]}

SEEDS = {"jig": (JIG, (6, 8), 110.0, 40), "reel": (REEL, (4, 4), 100.0, 73),
         "waltz": (WALTZ, (3, 4), 90.0, 21)}


def tune_of(notes, time_signature, qpm, program) -> mr.Tune:
    lengths = np.array([n[1] for n in notes])
    start = np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
    end = start + lengths * 0.95  # a little air between notes
    spb = 60.0 / qpm
    track = mr.Track("melody", program, False, np.array([n[0] for n in notes], np.int16),
                     np.full(len(notes), 88, np.int16), start, end, start * spb, end * spb)
    return mr.Tune([track], [mr.TempoChange(0.0, qpm)], [mr.TimeSignature(0.0, *time_signature)])


def hymn(qpm: float = 72.0) -> mr.Tune:
    """The four-part hymn: one track per voice (choir aahs), quarter notes, a final whole note."""
    tracks = []
    for name, pitches in HYMN.items():
        start = np.arange(len(pitches), dtype=float)
        end = start + 0.95
        end[-1] = start[-1] + 3.95
        spb = 60.0 / qpm
        tracks.append(mr.Track(name, 52, False, np.array(pitches, np.int16),
                               np.full(len(pitches), 80, np.int16), start, end, start * spb, end * spb))
    return mr.Tune(tracks, [mr.TempoChange(0.0, qpm)], [mr.TimeSignature(0.0, 4, 4)],
                   [mr.KeySignature(0.0, 7, False)])


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (notes, ts, qpm, program) in SEEDS.items():
        mr.write_midi(tune_of(notes, ts, qpm, program), out / f"{name}.mid")
        print(out / f"{name}.mid")
    mr.write_midi(hymn(), out / "hymn.mid")
    print(out / "hymn.mid")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
