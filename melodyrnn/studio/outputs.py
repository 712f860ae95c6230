"""What the studio answers about its outputs: an output, a generation of them, a piano roll.

Outputs are kept as their MIDI file (in the session's folder) and their piano roll as compact
JSON text, and answered as JSON text built from those, so that a long history costs little
memory to keep or to send.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from melodyrnn.music.keys import pitch_name
from melodyrnn.music.notes import Tune
from melodyrnn.music.render import bar_lines

__all__ = ["Output", "Generation", "piano_roll"]


@dataclass
class Output:
    """One generated output: its MIDI file in the session folder (its bytes are read from
    there when asked for, not kept in memory), and what the page shows of it; ``roll`` is
    the piano roll as compact JSON text (a fraction of the memory of its dict)."""

    id: str
    name: str
    midi_path: Path
    bits_per_note: float
    new_notes: int
    roll: str
    key: str = ""
    model: str = ""
    wav_path: Path | None = field(default=None)

    def to_json(self, midi: bool = True) -> str:
        """The output as the API answers it (bits/note None where there are no new notes);
        ``midi``: with ``midi_base64``, the file's bytes (the generate answer has them, the
        history only ``midi_url``)."""
        bits = round(self.bits_per_note, 4) if math.isfinite(self.bits_per_note) else None
        head = {"id": self.id, "name": self.name, "model": self.model, "key": self.key,
                "bits_per_note": bits, "new_notes": self.new_notes,
                "midi_url": f"/api/outputs/{self.id}.mid", "audio_url": f"/api/outputs/{self.id}.wav"}
        if midi:
            head["midi_base64"] = base64.b64encode(self.midi_path.read_bytes()).decode("ascii")
        return json.dumps(head)[:-1] + ', "roll": ' + self.roll + "}"


@dataclass
class Generation:
    """One generate request in the session's history: when, a label, the request's fields
    (an uploaded seed as its stored ``seed_id``: what "regenerate" sends again), its outputs."""

    time: str
    label: str
    fields: dict
    outputs: list[Output]

    def to_json(self, midi: bool = True) -> str:
        """As the API answers it (``midi``: each output's bytes too, see :meth:`Output.to_json`)."""
        head = json.dumps({"time": self.time, "label": self.label, "fields": self.fields})
        return head[:-1] + ', "outputs": [' + ", ".join(o.to_json(midi) for o in self.outputs) + "]}"


def piano_roll(tune: Tune, split_beats: float | None = None, max_notes: int | None = None) -> dict:
    """The tune as the page draws it: per track its notes ``[start_s, end_s, pitch,
    velocity]``, the bar lines in seconds, where the new part starts (seconds) and the name
    of every pitch that sounds.

    ``max_notes`` caps the notes drawn (all tracks together): the latest ones where there is
    a new part (``split_beats``), else the earliest; ``notes_left_out`` counts the rest.
    """
    end = max(tune.end_beats, 1e-9)
    bars, _ = bar_lines(tune, end)
    starts = [np.asarray(t.start_beats, float) for t in tune.tracks]
    total = sum(len(s) for s in starts)
    cut = -np.inf if split_beats else np.inf  # notes kept: start >= cut (latest) or <= cut
    if max_notes is not None and total > max_notes:
        every = np.sort(np.concatenate(starts))
        cut = every[total - max_notes] if split_beats else every[max_notes - 1]
    tracks, pitches, kept = [], set(), 0
    for t, s in zip(tune.tracks, starts):
        keep = (s >= cut) if split_beats else (s <= cut)
        keep &= np.cumsum(keep) <= (max_notes if max_notes is not None else total) - kept
        notes = [[round(float(a), 4), round(float(b), 4), int(p), int(v)] for a, b, p, v
                 in zip(t.start_seconds[keep], t.end_seconds[keep], t.pitch[keep], t.velocity[keep])]
        kept += len(notes)
        pitches.update(int(n[2]) for n in notes)
        tracks.append({"name": t.name, "program": int(t.program), "is_drum": bool(t.is_drum),
                       "notes": notes})
    if max_notes is not None and len(bars) > max_notes:  # a seed ending far away: every k-th bar
        bars = bars[::-(-len(bars) // max_notes)]
    seconds = lambda beats: [round(float(x), 4) for x in tune.beats_to_seconds(beats)]  # noqa: E731
    roll = {"tracks": tracks, "bars_seconds": seconds(bars) if bars else [],
            "end_seconds": seconds([end])[0],
            "split_seconds": seconds([split_beats])[0] if split_beats else None,
            "note_names": {p: pitch_name(p) for p in sorted(pitches)}}
    if total > kept:
        roll["notes_left_out"] = total - kept
    return roll
