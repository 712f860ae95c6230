"""Melody-track choice on labelled files, against the old rule in the same run.

Kinds of labelled files (``(tune, melody track)`` pairs, all built here):

- ``buried``: real folk tunes of ``$MELODYRNN_DATA/midi`` inside generated arrangements
  (block chords, an arpeggio with more notes than the tune, bass, drums, sometimes a
  harmony line and a percussion loop; generic names, shuffled order);
- ``chorales``: the Bach chorales of ``$MELODYRNN_DATA/midi``, voices shuffled and
  renamed "Track N" (label: the voice named Soprano); ``chorales-named`` keeps the names;
- ``messy``: the multi-track files of ``$MELODYRNN_DATA/messy`` labelled by hand in
  ``benchmarks/track_labels.csv`` (files whose melody a listener could not name -- an
  orchestral score, one-note test tracks, three unnamed pop arrangements -- are left out);
- ``synthetic-buried`` / ``synthetic-chorales``: random tunes and chorales (no data needed).

The old rule is "most notes, ties to the higher track" (melodyrnn <= 0.1).

    python benchmarks/tracks.py [--n 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from arrangements import anonymise, bury, random_chorale, random_tune  # noqa: E402

from melodyrnn.music.midi_io import read_midi  # noqa: E402
from melodyrnn.music.tracks import melody_track_index  # noqa: E402


def old_rule(tune) -> int:
    cands = [(len(t), float(t.pitch.mean()), i) for i, t in enumerate(tune.tracks)
             if len(t) and not t.is_drum]
    return max(cands)[2]


def folk_tunes(root: Path, n: int, rng):
    rows = [r for r in csv.DictReader(open(root / "midi" / "manifest.csv"))
            if r["collection"] != "bach-chorales"]
    for i in rng.choice(len(rows), size=min(n, len(rows)), replace=False):
        tune = read_midi(root / "midi" / rows[i]["path"])
        mono = [t for t in tune.tracks if len(t) >= 16 and len(np.unique(t.start_beats)) == len(t)]
        if mono:  # the tune: a monophonic track (Nottingham files also hold a chord track)
            track = max(mono, key=len)
            yield track, tune.time_signatures[0].bar_beats


def labelled(kind: str, root: Path | None, n: int, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "synthetic-buried":
        for _ in range(n):
            bar = float(rng.choice((4.0, 3.0, 1.5 * 2)))
            yield bury(random_tune(rng, 16, bar), bar, rng)
    elif kind == "synthetic-chorales":
        for _ in range(n):
            yield random_chorale(rng)
    elif kind == "buried":
        for track, bar in folk_tunes(root, n, rng):
            yield bury(track, bar, rng)
    elif kind.startswith("chorales"):
        for path in sorted((root / "midi" / "bach-chorales").glob("*.mid")):
            tune = read_midi(path)
            names = [t.name.lower() for t in tune.tracks]
            if "soprano" in names:
                yield anonymise(tune, names.index("soprano"), rng, keep_names=kind == "chorales-named")
    elif kind == "messy":
        for row in csv.DictReader(open(Path(__file__).parent / "track_labels.csv")):
            yield read_midi(root / row["path"]), {int(x) for x in row["melody"].split("|")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="files per generated kind")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    data = os.environ.get("MELODYRNN_DATA")
    root = Path(data) if data else None
    kinds = ["synthetic-buried", "synthetic-chorales"]
    if root is not None:
        kinds += ["buried", "chorales", "chorales-named", "messy"]
    else:
        print("MELODYRNN_DATA unset: synthetic kinds only", file=sys.stderr)
    print("| kind | files | melodyrnn | old rule (most notes) |")
    print("|---|---|---|---|")
    for kind in kinds:
        ok = old = total = 0
        misses = []
        for tune, label in labelled(kind, root, args.n, args.seed):
            labels = label if isinstance(label, set) else {label}
            got = melody_track_index(tune)
            ok += got in labels
            old += old_rule(tune) in labels
            total += 1
            if got not in labels and len(misses) < 5:
                misses.append(f"{got} (want {sorted(labels)})")
        print(f"| {kind} | {total} | {ok / total:.1%} | {old / total:.1%} |", flush=True)
        if misses:
            print(f"  misses: {', '.join(misses)}", file=sys.stderr)


if __name__ == "__main__":
    main()
