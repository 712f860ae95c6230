"""What one studio run keeps: its models, the seeds opened, the outputs generated.

Everything lives in memory plus one temporary folder (the outputs' MIDI and audio files)
that goes away with the session. Models are loaded once and shared by every request;
generation runs one request at a time (a lock): requests from other clients wait instead of
doubling the memory, and each client (its address: every tab of a browser on this machine is
one) has at most one generation running or waiting -- a second is answered 429 at once.

Memory is bounded by :class:`StudioConfig`: a seed's notes, the notes all kept seeds hold
together, the outputs kept (an evicted output leaves the history too; its MIDI lives on disk,
not in memory) and the notes a piano roll draws. Work is bounded by generation's budget
(:data:`melodyrnn.music.generated.MAX_WORK`) and by a deadline per request: a generation
past it, or whose client hung up, stops at its next step (:class:`Refused`).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from melodyrnn.core.loading import load_for_sampling
from melodyrnn.music.compose import generate
from melodyrnn.music.midi_io import midi_bytes, read_midi_bytes, track_channels
from melodyrnn.music.notes import Tune
from melodyrnn.music.render import check_wav_renderer, render_wav
from melodyrnn.music.seeds import parse_primer
from melodyrnn.music.tracks import describe_tracks
from melodyrnn.music.voices import model_for
from melodyrnn.studio.forms import GenerateForm
from melodyrnn.studio.outputs import Generation, Output, piano_roll

__all__ = ["StudioConfig", "Studio", "Seed", "Output", "Generation", "piano_roll", "SHIPPED_MODELS",
           "Refused"]

SHIPPED_MODELS = ("default", "chorale")


@dataclass(frozen=True)
class StudioConfig:
    """Settings of ``melodyrnn studio``.

    ``model`` is a checkpoint path offered as ``custom`` beside the shipped models and used
    when a request names none (None: the shipped ones, chosen from the seed); ``samples`` a
    folder of seed tunes the page lists;
    ``max_upload_bytes`` caps one uploaded seed and ``max_seed_notes`` its notes;
    ``max_seeds``, ``max_kept_seed_notes`` (all kept seeds' notes together) and
    ``max_outputs`` bound what the session keeps (the oldest go first); ``max_roll_notes``
    the notes one piano roll draws (the rest are counted, not drawn); ``max_seconds`` one
    generate request's time, waiting for its turn included (seconds), and ``max_waiting``
    the requests that may wait for a turn; ``first_seed`` is the random seed the page starts
    at.
    """

    model: str | None = None
    samples: str | None = None
    soundfont: str | None = None
    max_upload_bytes: int = 4 * 2 ** 20
    max_seed_notes: int = 100_000
    max_seeds: int = 64
    max_kept_seed_notes: int = 400_000
    max_outputs: int = 512
    max_roll_notes: int = 3000
    max_seconds: float = 120.0
    max_waiting: int = 8
    first_seed: int = 0


class Refused(Exception):
    """A request the studio will not run now: ``status`` is its HTTP status (429: this client
    has one running; 503: busy, past its deadline, or its client hung up)."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Seed:
    """An opened seed: its name, parsed tune, and its tracks as the page lists them (read
    from the file's bytes once; the bytes are not kept)."""

    id: str
    name: str
    tune: Tune
    tracks: list = field(default_factory=list)


class Studio:
    """The state behind the page: call :meth:`add_seed` and :meth:`generate`; outputs are
    files under :attr:`folder` until :meth:`close`. :attr:`token` is the per-process secret
    that state-changing requests carry (the app checks it)."""

    def __init__(self, cfg: StudioConfig | None = None) -> None:
        self.cfg = cfg or StudioConfig()
        self.folder = Path(tempfile.mkdtemp(prefix="melodyrnn-studio-"))
        self.token = secrets.token_urlsafe(24)
        self.seeds: dict[str, Seed] = {}
        self.outputs: dict[str, Output] = {}
        self.history: list[Generation] = []
        self._models: dict[str, tuple] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # one generation at a time
        self._parse_lock = threading.Lock()  # one seed parsed at a time (a parse's memory)
        self._state = threading.Lock()  # guards the fields below and the dicts above
        self._clients: set[str] = set()
        self._seed_notes = 0  # the kept seeds' notes together
        self._waiting = 0
        self._watch: Callable[[], None] | None = None
        self._closing = False

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
            loaded = load_for_sampling(self.cfg.model if name == "custom" else name)
            _before_each_step(loaded[0], self._each_step)
            self._models[name] = loaded
        return self._models[name]

    def _each_step(self, *_) -> None:
        """Before each model step: stop a generation past its deadline or abandoned, or
        when the studio closes."""
        if self._closing:
            raise Refused("the studio is stopping")
        if self._watch is not None:
            self._watch()

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
        large, with too many notes, or without notes."""
        if len(data) > self.cfg.max_upload_bytes:
            raise ValueError(f"{name}: {len(data)} bytes, more than the "
                             f"{self.cfg.max_upload_bytes // 2 ** 20} MiB a seed may have")
        with self._parse_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tune = read_midi_bytes(data)
            notes = tune.n_notes
            if notes > self.cfg.max_seed_notes:
                raise ValueError(f"{name}: {notes} notes, more than the {self.cfg.max_seed_notes} "
                                 "a seed may have")
            if not any(len(t) and not t.is_drum for t in tune.tracks):
                raise ValueError(f"{name}: the file has no pitched notes to continue")
            tracks = [i.to_dict() for i in describe_tracks(tune, track_channels(tune, data))]
        seed = Seed(f"s{next(self._ids)}", os.path.basename(name) or "seed.mid", tune, tracks)
        with self._state:
            self.seeds[seed.id] = seed
            self._seed_notes += notes
            while len(self.seeds) > 1 and (len(self.seeds) > self.cfg.max_seeds
                                           or self._seed_notes > self.cfg.max_kept_seed_notes):
                self._seed_notes -= self.seeds.pop(next(iter(self.seeds))).tune.n_notes
        return seed

    def describe_seed(self, seed: Seed) -> dict:
        """Tracks (with the melody choice), the model a continuation would use, the roll."""
        model = self.model_name(None, seed.tune)
        why = model_for(seed.tune)[1] if model in SHIPPED_MODELS else ""
        return {"id": seed.id, "name": seed.name, "tracks": seed.tracks, "model": model,
                "model_reason": why, "roll": piano_roll(seed.tune, max_notes=self.cfg.max_roll_notes)}

    # -- outputs ----------------------------------------------------------------------
    def generate(self, form: GenerateForm, seed: Seed | None = None, client: str = "",
                 gone: Callable[[], bool] | None = None) -> Generation:
        """Generate what ``form`` asks for, continuing ``seed`` (an upload; else the form's
        ``seed_id``); the outputs are written and kept, the generation goes into the history.

        ``client`` names who asks (one generation running or waiting each); ``gone`` says
        whether they hung up (checked between model steps, as the deadline is).

        Raises
        ------
        ValueError
            For settings that do not fit the seed or model.
        Refused
            When the client has a generation under way, too many wait, or the request ran
            past ``max_seconds`` or was abandoned.
        """
        fields = dict(form.fields)
        if seed is None and form.seed_id is not None:
            with self._state:  # another request may evict it meanwhile
                seed = self.seeds.get(form.seed_id)
            if seed is None:
                raise ValueError(f"no seed {form.seed_id!r} in this session (open it again)")
        elif seed is not None:
            fields["seed_id"] = seed.id
        tune = seed.tune if seed else None
        name = self.model_name(form.model, tune)
        pitches = parse_primer(form.primer) if form.primer else None
        if tune is not None and pitches:
            raise ValueError("give a seed or primer pitches, not both")
        with self._turn(client, gone):
            results = generate(self._model(name), tune, pitches, form.config)
        stem = Path(seed.name).stem if seed else "sample"
        outputs = [self._keep(r, stem, name) for r in results]
        cfg = form.config
        what = seed.name if seed else f"primer {form.primer}" if pitches else "no seed"
        label = (f"{what}: {len(outputs)} x {cfg.bars} bars, T {cfg.decode.sampling.temperature:g}, "
                 f"seed {cfg.seed}, {name}")
        entry = Generation(time.strftime("%H:%M:%S"), label, fields, outputs)
        with self._state:
            self.history.append(entry)
            self._forget_evicted()
        return entry

    @contextmanager
    def _turn(self, client: str, gone: Callable[[], bool] | None):
        """Hold the generation lock, with the request's deadline and hang-up check watching
        every model step."""
        deadline = time.monotonic() + self.cfg.max_seconds
        with self._state:
            if self._closing:
                raise Refused("the studio is stopping")
            if client and client in self._clients:
                raise Refused(f"a generation of this client ({client}) is under way: wait for it", 429)
            if self._waiting >= self.cfg.max_waiting:
                raise Refused(f"the studio is busy: {self._waiting} requests wait; try again later")
            self._clients.add(client)
            self._waiting += 1
        try:
            got = self._lock.acquire(timeout=self.cfg.max_seconds)
            with self._state:
                self._waiting -= 1
            if not got:
                raise Refused(f"the studio is busy: no turn within {self.cfg.max_seconds:g} s; try again")
            try:
                self._watch = _Watch(deadline, self.cfg.max_seconds, gone)
                yield
            finally:
                self._watch = None
                self._lock.release()
        finally:
            with self._state:
                self._clients.discard(client)

    def _keep(self, result, stem: str, model: str) -> Output:
        oid = f"o{next(self._ids)}"
        path = self.folder / f"{oid}.mid"
        path.write_bytes(midi_bytes(result.tune))
        roll = piano_roll(result.tune, result.continuation_beats, self.cfg.max_roll_notes)
        out = Output(oid, f"{stem}-{oid[1:]}.mid", path, float(result.bits_per_note),
                     int(result.notes), json.dumps(roll, separators=(",", ":")), result.key, model)
        with self._state:
            self.outputs[oid] = out
            while len(self.outputs) > self.cfg.max_outputs:
                old = self.outputs.pop(next(iter(self.outputs)))
                for p in (old.midi_path, old.wav_path):
                    if p is not None:
                        p.unlink(missing_ok=True)
        return out

    def _forget_evicted(self) -> None:
        """The history holds only outputs still kept, and only generations with some."""
        for g in self.history:
            g.outputs = [o for o in g.outputs if o.id in self.outputs]
        self.history = [g for g in self.history if g.outputs]

    def history_json(self) -> str:
        """``GET /api/history``'s answer: the generations with outputs still kept, oldest
        first, each output without its MIDI bytes (its ``midi_url`` serves them)."""
        with self._state:
            entries = list(self.history)
        return '{"history": [' + ", ".join(g.to_json(midi=False) for g in entries) + "]}"

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

    def close(self, wait: float = 10.0) -> None:
        """Stop the generation under way at its next step (waiting for it at most ``wait``
        seconds: a process that exits inside torch's code aborts), and remove the folder."""
        self._closing = True
        if self._lock.acquire(timeout=wait):
            self._lock.release()
        shutil.rmtree(self.folder, ignore_errors=True)


def _before_each_step(model, call: Callable[[], None]) -> None:
    """Have ``model`` call ``call`` before each decoding step: the numpy model (what
    ``generate`` decodes with, :func:`~melodyrnn.core.loading.load_for_sampling`) through its
    ``step``, a torch model (attention and plugin kinds) through a forward pre-hook."""
    if hasattr(model, "register_forward_pre_hook"):
        model.register_forward_pre_hook(call)
        return
    step = model.step

    def watched(ids, state):
        call()
        return step(ids, state)

    model.step = watched


class _Watch:
    """Called before each model step: :class:`Refused` past the deadline (monotonic
    seconds) or when ``gone()`` says the client hung up (asked at most every 0.1 s)."""

    def __init__(self, deadline: float, seconds: float, gone: Callable[[], bool] | None) -> None:
        self.deadline, self.seconds, self.gone, self.asked = deadline, seconds, gone, 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise Refused(f"the generation ran past {self.seconds:g} s and was stopped: ask for "
                          "fewer bars, outputs or a smaller beam")
        if self.gone is not None and now - self.asked > 0.1:
            self.asked = now
            if self.gone():
                raise Refused("the client hung up; generation stopped", 499)
