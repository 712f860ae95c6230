"""The form of generated outputs after their seed, as samples/README.md tabulates it.

    python samples/output_form.py samples/outputs/jig-0.mid:4 samples/outputs/waltz-0.mid:8

Each FILE:BARS is an output whose first BARS bars are its seed. Prints one Markdown row per
file: the share of the new bars that repeat an earlier bar (seed included), the new bars
never heard before, whether one 8-bar block plays three times in a row, and the share of new
notes whose pitch class is in the seed's (melodyrnn.music.continuations.continuation_form, as
the continuation benchmark counts them; bars compared exactly).
"""

import sys
from pathlib import Path

import numpy as np

from melodyrnn.music.continuations import continuation_form
from melodyrnn.music.midi_io import read_midi
from melodyrnn.music.structure import tune_bars


def row(path: str, seed_bars: int) -> str:
    tune = read_midi(path)
    track = next(t for t in tune.tracks if len(t) and not t.is_drum)
    bar_beats = tune.time_signatures[0].bar_beats if tune.time_signatures else 4.0
    bars = tune_bars(track.pitch, track.start_beats, track.end_beats, bar_beats)
    seed = track.start_beats < seed_bars * bar_beats - 1e-6
    form = continuation_form(bars, seed_bars, track.pitch[~seed], np.unique(track.pitch[seed] % 12))
    return (f"| {Path(path).stem} ({seed_bars}-bar seed) | {form['repeat_fraction']:.2f} | "
            f"{form['new_bars']} | {'yes' if form['aaa'] else 'no'} | {form['in_primer_key']:.3f} |")


def main(args: list[str]) -> None:
    print("| output | new bars that repeat an earlier bar | bars never heard before | A A A | "
          "notes in the seed's pitch classes |\n|---|---|---|---|---|")
    for arg in args:
        path, _, bars = arg.rpartition(":")
        print(row(path, int(bars)))


if __name__ == "__main__":
    main(sys.argv[1:])
