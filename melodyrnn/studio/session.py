"""What one studio run keeps: its models, the seeds opened, the outputs generated.

Everything lives in memory plus one temporary folder (the outputs' MIDI and audio files)
that goes away with the session. Models are loaded once and shared by every request;
generation runs one request at a time (a lock), so a second browser tab waits instead of
doubling the memory.
"""

from __future__ import annotations

import base64
import itertools
import math
import os
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from melodyrnn.core.loading import load_with_checkpoint
from melodyrnn.music.compose import generate
from melodyrnn.music.keys import pitch_name
from melodyrnn.music.midi_io import midi_bytes, read_midi_bytes, track_channels
from melodyrnn.music.notes import Tune
from melodyrnn.music.render import bar_lines, check_wav_renderer, render_wav
from melodyrnn.music.seeds import parse_primer
from melodyrnn.music.tracks import describe_tracks
from melodyrnn.music.voices import model_for
from melodyrnn.studio.forms import GenerateForm

__all__ = ["StudioConfig", "Studio", "Seed", "Output", "Generation", "piano_roll", "SHIPPED_MODELS"]

SHIPPED_MODELS = ("default", "chorale")


@dataclass(frozen=True)
class StudioConfig:
    """Settings of ``melodyrnn studio``.

    ``model`` is a checkpoint path offered as ``custom`` beside the shipped models and used
    when a request names none (None: the shipped ones, chosen from the seed); ``samples`` a
    folder of seed tunes the page lists;
    ``max_upload_bytes`` caps one uploaded seed; ``max_seeds`` and ``max_outputs`` bound what
    the session keeps (the oldest go first); ``first_seed`` is the random seed the page
    starts at.
    """

    model: str | None = None
    samples: str | None = None
    soundfont: str | None = None
    max_upload_bytes: int = 4 * 2 ** 20
    max_seeds: int = 64
    max_outputs: int = 512
    first_seed: int = 0


@dataclass
class Seed:
    """An opened seed: its name, bytes and parsed tune."""

    id: str
    name: str
    data: bytes
    tune: Tune


@dataclass
class Output:
    """One generated output: its MIDI file (in the session folder, and its bytes), and what
    the page shows of it."""

    id: str
    name: str
    midi_path: Path
    midi: bytes
    bits_per_note: float
    new_notes: int
    roll: dict
    key: str = ""
    model: str = ""
    wav_path: Path | None = field(default=None)

    def to_dict(self) -> dict:
        """The output as the API answers it (bits/note None where there are no new notes)."""
        bits = round(self.bits_per_note, 4) if math.isfinite(self.bits_per_note) else None
        return {"id": self.id, "name": self.name, "model": self.model, "key": self.key,
                "bits_per_note": bits, "new_notes": self.new_notes,
                "midi_url": f"/api/outputs/{self.id}.mid", "audio_url": f"/api/outputs/{self.id}.wav",
                "midi_base64": base64.b64encode(self.midi).decode("ascii"), "roll": self.roll}


@dataclass
class Generation:
    """One generate request in the session's history: when, a label, the request's fields
    (an uploaded seed as its stored ``seed_id``: what "regenerate" sends again), its outputs."""

    time: str
    label: str
    fields: dict
    outputs: list[Output]

    def to_dict(self, kept: dict | None = None) -> dict:
        """As the API answers it; with ``kept`` (id -> output) only the outputs still kept."""
        outs = [o for o in self.outputs if kept is None or o.id in kept]
        return {"time": self.time, "label": self.label, "fields": self.fields,
                "outputs": [o.to_dict() for o in outs]}


def piano_roll(tune: Tune, split_beats: float | None = None) -> dict:
    """The tune as the page draws it: per track its notes ``[start_s, end_s, pitch,
    velocity]``, the bar lines in seconds, where the new part starts (seconds) and the name
    of every pitch that sounds."""
    end = max(tune.end_beats, 1e-9)
    bars, _ = bar_lines(tune, end)
    tracks, pitches = [], set()
    for t in tune.tracks:
        notes = [[round(float(a), 4), round(float(b), 4), int(p), int(v)] for a, b, p, v
                 in zip(t.start_seconds, t.end_seconds, t.pitch, t.velocity)]
        pitches.update(int(p) for p in t.pitch)
        tracks.append({"name": t.name, "program": int(t.program), "is_drum": bool(t.is_drum),
                       "notes": notes})
    seconds = lambda beats: [round(float(x), 4) for x in tune.beats_to_seconds(beats)]  # noqa: E731
    return {"tracks": tracks, "bars_seconds": seconds(bars) if bars else [],
            "end_seconds": seconds([end])[0],
            "split_seconds": seconds([split_beats])[0] if split_beats else None,
            "note_names": {p: pitch_name(p) for p in sorted(pitches)}}


class Studio:
    """The state behind the page: call :meth:`add_seed` and :meth:`generate`; outputs are
    files under :attr:`folder` until :meth:`close`."""

    def __init__(self, cfg: StudioConfig | None = None) -> None:
        self.cfg = cfg or StudioConfig()
        self.folder = Path(tempfile.mkdtemp(prefix="melodyrnn-studio-"))
        self.seeds: dict[str, Seed] = {}
        self.outputs: dict[str, Output] = {}
        self.history: list[Generation] = []
        self._models: dict[str, tuple] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- models -----------------------------------------------------------------------
    def model_names(self) -> list[str]:
        return list(SHIPPED_MODELS) + (["custom"] if self.cfg.model else [])

    def model_name(self, asked: str | None, tune: Tune | None) -> str:
        """The model a request gets: the one it names, else ``--model``, else the shipped
        one for the seed (chorale for a polyphonic seed), as ``generate --model`` does."""
        if asked:
            return asked
        if self.cfg.model:
            return "custom"
        return model_for(tune)[0] if tune is not None else "default"

    def _model(self, name: str) -> tuple:
        if name not in self.model_names():
            raise ValueError(f"unknown model {name!r}; this studio has {', '.join(self.model_names())}")
        if name not in self._models:
            self._models[name] = load_with_checkpoint(self.cfg.model if name == "custom" else name)
        return self._models[name]

    # -- seeds ------------------------------------------------------------------------
    def sample_names(self) -> list[str]:
        folder = Path(self.cfg.samples) if self.cfg.samples else None
        if folder is None or not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".mid", ".midi"))

    def sample_bytes(self, name: str) -> bytes:
        if name not in self.sample_names():
            raise ValueError(f"no sample named {name!r}")
        return (Path(self.cfg.samples) / name).read_bytes()

    def add_seed(self, name: str, data: bytes) -> Seed:
        """Parse and keep an uploaded seed; ``ValueError`` for a file that is not MIDI, too
        large, or without notes."""
        if len(data) > self.cfg.max_upload_bytes:
            raise ValueError(f"{name}: {len(data)} bytes, more than the "
                             f"{self.cfg.max_upload_bytes // 2 ** 20} MiB a seed may have")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tune = read_midi_bytes(data)
        if not any(len(t) and not t.is_drum for t in tune.tracks):
            raise ValueError(f"{name}: the file has no pitched notes to continue")
        seed = Seed(f"s{next(self._ids)}", os.path.basename(name) or "seed.mid", data, tune)
        self.seeds[seed.id] = seed
        while len(self.seeds) > self.cfg.max_seeds:
            self.seeds.pop(next(iter(self.seeds)))
        return seed

    def describe_seed(self, seed: Seed) -> dict:
        """Tracks (with the melody choice), the model a continuation would use, the roll."""
        infos = describe_tracks(seed.tune, track_channels(seed.tune, seed.data))
        model = self.model_name(None, seed.tune)
        why = model_for(seed.tune)[1] if model in SHIPPED_MODELS else ""
        return {"id": seed.id, "name": seed.name, "tracks": [i.to_dict() for i in infos],
                "model": model, "model_reason": why, "roll": piano_roll(seed.tune)}

    # -- outputs ----------------------------------------------------------------------
    def generate(self, form: GenerateForm, seed: Seed | None = None) -> Generation:
        """Generate what ``form`` asks for, continuing ``seed`` (an upload; else the form's
        ``seed_id``); the outputs are written and kept, the generation goes into the history.
        ``ValueError`` for settings that do not fit the seed or model."""
        fields = dict(form.fields)
        if seed is None and form.seed_id is not None:
            if form.seed_id not in self.seeds:
                raise ValueError(f"no seed {form.seed_id!r} in this session (open it again)")
            seed = self.seeds[form.seed_id]
        elif seed is not None:
            fields["seed_id"] = seed.id
        tune = seed.tune if seed else None
        name = self.model_name(form.model, tune)
        pitches = parse_primer(form.primer) if form.primer else None
        if tune is not None and pitches:
            raise ValueError("give a seed or primer pitches, not both")
        with self._lock:
            results = generate(self._model(name), tune, pitches, form.config)
        stem = Path(seed.name).stem if seed else "sample"
        outputs = [self._keep(r, stem, name) for r in results]
        cfg = form.config
        what = seed.name if seed else f"primer {form.primer}" if pitches else "no seed"
        label = (f"{what}: {len(outputs)} x {cfg.bars} bars, T {cfg.decode.sampling.temperature:g}, "
                 f"seed {cfg.seed}, {name}")
        self.history.append(Generation(time.strftime("%H:%M:%S"), label, fields, outputs))
        return self.history[-1]

    def _keep(self, result, stem: str, model: str) -> Output:
        oid = f"o{next(self._ids)}"
        path, data = self.folder / f"{oid}.mid", midi_bytes(result.tune)
        path.write_bytes(data)
        out = Output(oid, f"{stem}-{oid[1:]}.mid", path, data, float(result.bits_per_note),
                     int(result.notes), piano_roll(result.tune, result.continuation_beats),
                     result.key, model)
        self.outputs[oid] = out
        while len(self.outputs) > self.cfg.max_outputs:
            old = self.outputs.pop(next(iter(self.outputs)))
            for p in (old.midi_path, old.wav_path):
                if p is not None:
                    p.unlink(missing_ok=True)
        return out

    def audio_available(self) -> str:
        """'' when outputs can be rendered to audio, else why not (one line)."""
        try:
            check_wav_renderer(self.cfg.soundfont)
        except ValueError as e:
            return str(e)
        return ""

    def wav(self, output: Output) -> Path:
        """The output's audio (FluidSynth), rendered on first request."""
        if output.wav_path is None or not output.wav_path.exists():
            output.wav_path = render_wav(output.midi_path, output.midi_path.with_suffix(".wav"),
                                         self.cfg.soundfont, sample_rate=22050)
        return output.wav_path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
