"""The form of generated outputs after their seed, as samples/README.md tabulates it.

    python samples/output_form.py samples/outputs/jig-0.mid:4 samples/outputs/waltz-0.mid:8

Each FILE:BARS is an output whose first BARS bars are its seed. Prints one Markdown row per
file: the share of the new bars that repeat an earlier bar (seed included), the new bars
never heard before, whether one 8-bar block plays three times in a row, and the share of new
notes whose pitch class is in the seed's. Bars are compared exactly (melodyrnn.music.structure).
"""

import sys
from pathlib import Path

import numpy as np

from melodyrnn.music.midi_io import read_midi_bytes
from melodyrnn.music.structure import has_aaa, in_key_rate, new_bars, repeat_fraction, tune_bars


def row(path: str, seed_bars: int) -> str:
    tune = read_midi_bytes(Path(path).read_bytes())
    track = next(t for t in tune.tracks if len(t) and not t.is_drum)
    bar_beats = tune.time_signatures[0].bar_beats if tune.time_signatures else 4.0
    bars = tune_bars(track.pitch, track.start_beats, track.end_beats, bar_beats)
    seed = track.start_beats < seed_bars * bar_beats - 1e-6
    in_seed = in_key_rate(track.pitch[~seed], np.unique(track.pitch[seed] % 12))
    return (f"| {Path(path).stem} ({seed_bars}-bar seed) | {repeat_fraction(bars, seed_bars):.2f} | "
            f"{new_bars(bars, seed_bars)} | {'yes' if has_aaa(bars) else 'no'} | {in_seed:.3f} |")


def main(args: list[str]) -> None:
    print("| output | new bars that repeat an earlier bar | bars never heard before | A A A | "
          "notes in the seed's pitch classes |\n|---|---|---|---|---|")
    for arg in args:
        path, _, bars = arg.rpartition(":")
        print(row(path, int(bars)))


if __name__ == "__main__":
    main(sys.argv[1:])
