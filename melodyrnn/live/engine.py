"""Call and response in real time: play a phrase, hear the model answer.

:class:`LiveEngine` knows no ports: it takes incoming MIDI messages (anything with mido's
attributes) with their times, and
:meth:`LiveEngine.poll` returns the messages due by the clock's time. A phrase starts at its
first note and ends after ``silence_bars`` of silence, at the ``end_cc`` control change, or at
``max_bars``; its notes (from the bar line before the first one) are the primer of a
continuation as long as the phrase (or ``response_bars``), which starts on the first beat
after it is ready, its first note on that beat. Control changes set the temperature and the
response length, loop the last answer, regenerate it, and silence everything (panic);
:meth:`LiveEngine.close` ends every sounding note. The tempo is ``qpm`` or follows incoming
MIDI clock (24 ticks a quarter note). The ports live in :mod:`melodyrnn.live.ports`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune

__all__ = ["LiveConfig", "LiveEngine", "ModelResponder", "Message", "ACTIONS"]

ACTIONS = ("temperature", "length", "loop", "regenerate", "panic")
CLICK_CHANNEL, CLICK_BAR, CLICK_BEAT = 9, 76, 77  # GM hi and lo wood block


@dataclass(frozen=True)
class Message:
    """An outgoing MIDI message, by mido's field names (``mido.Message(m.type, **m.fields())``)."""

    type: str
    channel: int = 0
    note: int = 0
    velocity: int = 64
    control: int = 0
    value: int = 0

    def fields(self) -> dict:
        if self.type == "control_change":
            return {"channel": self.channel, "control": self.control, "value": self.value}
        return {"channel": self.channel, "note": self.note, "velocity": self.velocity}


@dataclass(frozen=True)
class LiveConfig:
    """Settings of ``melodyrnn live``.

    Parameters
    ----------
    qpm : float
        Tempo in quarter notes a minute (until MIDI clock says otherwise, with ``follow_clock``).
    beats_per_bar : int
        Quarter notes a bar.
    silence_bars : float
        Silence, in bars, that ends a phrase.
    end_cc : int or None
        A control change number that ends the phrase at once (value >= 64).
    max_bars : int
        A phrase ends at this length.
    response_bars : int or None
        Answer length in bars (None: as long as the phrase).
    temperature : float
        Sampling temperature of the answer.
    out_channel : int
        MIDI channel (0-15) of the answer.
    metronome : bool
        Click every beat on channel 10.
    follow_clock : bool
        Take the tempo and the beat from incoming MIDI clock.
    controls : dict of str to int
        Control change number of each action of :data:`ACTIONS`.
    seed : int
        First sampling seed (each answer takes the next).
    """

    qpm: float = 120.0
    beats_per_bar: int = 4
    silence_bars: float = 1.0
    end_cc: int | None = None
    max_bars: int = 8
    response_bars: int | None = None
    temperature: float = 1.0
    out_channel: int = 0
    metronome: bool = False
    follow_clock: bool = False
    controls: dict = field(default_factory=lambda: {"temperature": 21, "length": 22, "loop": 23,
                                                    "regenerate": 24, "panic": 25})
    seed: int = 0


class ModelResponder:
    """Answers a phrase with a melody model's continuation (the model is loaded once, as
    ``generate`` loads it: numpy decoding, no torch, for the models that allow it)."""

    def __init__(self, checkpoint: str = "default") -> None:
        from melodyrnn.core.loading import load_for_sampling

        self.model = load_for_sampling(checkpoint)  # built once, not for every answer

    def __call__(self, phrase: Tune, bars: int, temperature: float, seed: int) -> list[tuple]:
        """(start_beats, end_beats, pitch, velocity) of the answer, from its own beat 0."""
        from melodyrnn.music.compose import generate
        from melodyrnn.settings import generate_config

        cfg = generate_config(num_outputs=1, bars=bars, temperature=temperature, seed=seed,
                              continuation_only=True)
        track = generate(self.model, phrase, None, cfg)[0].tune.tracks[0]
        return list(zip(track.start_beats.tolist(), track.end_beats.tolist(),
                        track.pitch.tolist(), track.velocity.tolist()))


class LiveEngine:
    """The call-and-response state machine; see the module docstring."""

    def __init__(self, responder, cfg: LiveConfig | None = None, clock=time.monotonic,
                 log=lambda msg: None) -> None:
        cfg = cfg or LiveConfig()
        self.responder, self.cfg, self.clock, self.log = responder, cfg, clock, log
        self.qpm, self.t0 = cfg.qpm, clock()  # beat 0 is now
        self.temperature, self.response_bars = cfg.temperature, cfg.response_bars
        self.controls = dict(cfg.controls)
        self.learning: list[str] = []
        self.queue: list = []  # (time, order, message, is_answer)
        self.order = itertools.count()
        self.sounding: set[tuple[int, int]] = set()  # (channel, pitch) we turned on
        self.held: dict[int, tuple[float, int]] = {}  # input pitch -> (onset beat, velocity)
        self.phrase: list[tuple[float, float, int, int]] = []  # (on, off, pitch, velocity) beats
        self.last_off: float | None = None
        self.last_phrase: list | None = None
        self.answer: list = []
        self.answer_end = -math.inf
        self.ready: list | None = None  # an answer composed ahead for the current phrase
        self.loop = False
        self.seed = cfg.seed
        self.clicked = -1  # last beat that got a metronome click
        self.ticks, self.last_quarter = 0, None  # MIDI clock

    # -- time ------------------------------------------------------------------------
    def beat_at(self, t: float) -> float:
        return (t - self.t0) * self.qpm / 60.0

    def time_at(self, beat: float) -> float:
        return self.t0 + beat * 60.0 / self.qpm

    def next_bar_time(self, t: float) -> float:
        """The clock time of the engine's first bar line at or after ``t``."""
        bar = self.cfg.beats_per_bar
        return self.time_at(bar * math.ceil(self.beat_at(t) / bar - 1e-9))

    # -- input -----------------------------------------------------------------------
    def handle(self, msg, now: float | None = None) -> None:
        """Take one incoming message (received at ``now``, default the clock's time)."""
        now = self.clock() if now is None else now
        beat = self.beat_at(now)
        if msg.type == "note_on" and msg.velocity > 0:
            self.held[msg.note] = (beat, msg.velocity)
            self.ready = None  # the phrase goes on: an answer composed ahead is void
        elif msg.type in ("note_off", "note_on") and msg.note in self.held:
            on, vel = self.held.pop(msg.note)
            self.phrase.append((on, max(beat, on + 1e-3), msg.note, vel))
            self.last_off = beat
        elif msg.type == "control_change":
            self._control(msg.control, msg.value, now)
        elif msg.type == "clock" and self.cfg.follow_clock:
            self._clock_tick(now)
        elif msg.type == "start" and self.cfg.follow_clock:
            self.ticks, self.t0 = 0, now

    def learn(self, actions=ACTIONS) -> None:
        """Assign the next control changes received, in order, to ``actions``."""
        self.learning = list(actions)

    def _clock_tick(self, now: float) -> None:
        self.ticks += 1
        if self.ticks % 24:
            return
        if self.last_quarter is not None:  # a quarter note of clock: the tempo, and the beat
            self.qpm = 60.0 / max(now - self.last_quarter, 1e-3)
            self.t0 = now - (self.ticks / 24) * 60.0 / self.qpm
        self.last_quarter = now

    def _control(self, number: int, value: int, now: float) -> None:
        if self.learning:
            action = self.learning.pop(0)
            self.controls[action] = number
            self.log(f"learned: control change {number} -> {action}")
            return
        if number == self.cfg.end_cc and value >= 64 and (self.phrase or self.held):
            beat = self.beat_at(now)  # notes still held end here
            self.phrase += [(on, max(beat, on + 1e-3), p, v) for p, (on, v) in self.held.items()]
            self.held.clear()
            self._respond(now)
            return
        action = next((a for a, n in self.controls.items() if n == number), None)
        if action in ("temperature", "length"):
            self.ready = None  # an answer composed ahead used the old setting
        if action == "temperature":
            self.temperature = 0.1 + 1.9 * value / 127
        elif action == "length":
            self.response_bars = 1 + value * 15 // 127
        elif action == "loop":
            self.loop = value >= 64
        elif action == "regenerate" and value >= 64 and self.last_phrase:
            self._cancel_answer(now)
            self._answer(self.last_phrase, now)
        elif action == "panic" and value >= 64:
            self._panic(now)

    # -- output ----------------------------------------------------------------------
    def _push(self, t: float, msg, answer: bool = True) -> None:
        heapq.heappush(self.queue, (t, next(self.order), msg, answer))

    def poll(self, now: float | None = None) -> list:
        """End a phrase if it is over (and answer it), click, and return the messages due."""
        now = self.clock() if now is None else now
        beat = self.beat_at(now)
        if self.phrase and not self.held:
            start_bar = math.floor(min(n[0] for n in self.phrase) / self.cfg.beats_per_bar)
            silence = self.cfg.silence_bars * self.cfg.beats_per_bar
            silent = beat - self.last_off >= silence
            too_long = beat >= (start_bar + self.cfg.max_bars) * self.cfg.beats_per_bar
            if silent or too_long:
                self._respond(now)
            elif self.ready is None and beat - self.last_off >= silence - 1:
                # one beat before the silence is complete: answer now, so that the answer
                # is ready when the phrase ends (a note played meanwhile discards it)
                self.ready = self._compose(self.phrase)
        if self.loop and self.answer and not self._answer_pending() and now >= self.answer_end:
            self._schedule(self.answer, self.clock())
        if self.cfg.metronome:
            self._click(beat)
        due = []
        while self.queue and self.queue[0][0] <= now:
            _, _, msg, _ = heapq.heappop(self.queue)
            self._track(msg)
            due.append(msg)
        return due

    def _track(self, msg) -> None:
        key = (msg.channel, msg.note) if msg.type in ("note_on", "note_off") else None
        if msg.type == "note_on" and msg.velocity > 0:
            self.sounding.add(key)
        elif key is not None:
            self.sounding.discard(key)

    def _click(self, beat: float) -> None:
        nxt = math.floor(beat) + 1
        while self.clicked < nxt:
            self.clicked += 1
            pitch = CLICK_BAR if self.clicked % self.cfg.beats_per_bar == 0 else CLICK_BEAT
            t = self.time_at(self.clicked)
            self._push(t, Message("note_on", channel=CLICK_CHANNEL, note=pitch,
                                            velocity=70), answer=False)
            self._push(t + 0.05, Message("note_off", channel=CLICK_CHANNEL, note=pitch),
                       answer=False)

    # -- answering -------------------------------------------------------------------
    def _respond(self, now: float) -> None:
        phrase, self.phrase, self.last_off = self.phrase, [], None
        notes, self.ready = self.ready, None
        self.last_phrase = phrase
        self._answer(phrase, now, notes)

    def _compose(self, phrase: list) -> list:
        bpb = self.cfg.beats_per_bar
        origin = math.floor(min(n[0] for n in phrase) / bpb) * bpb  # bar line before the first note
        length_bars = max(1, math.ceil((max(n[1] for n in phrase) - origin) / bpb - 1e-6))
        bars = self.response_bars or length_bars
        notes = self.responder(self.phrase_tune(phrase, origin), bars, self.temperature, self.seed)
        self.seed += 1
        return notes

    def _answer(self, phrase: list, now: float, notes: list | None = None) -> None:
        if notes is None:
            notes = self._compose(phrase)
        if not notes:
            self.log("the model answered with silence")
            return
        first = min(n[0] for n in notes)
        self.answer = [(a - first, b - first, p, v) for a, b, p, v in notes]  # first note at 0
        self._schedule(self.answer, self.clock())

    def _answer_pending(self) -> bool:
        return any(entry[3] for entry in self.queue)

    def _schedule(self, notes: list, ready: float) -> None:
        start = math.ceil(self.beat_at(ready) - 1e-9)  # the first beat once the answer is ready
        ch = self.cfg.out_channel
        for a, b, pitch, vel in notes:
            self._push(self.time_at(start + a), Message(
                "note_on", channel=ch, note=int(pitch), velocity=int(vel)))
            self._push(self.time_at(start + b) - 1e-4, Message(
                "note_off", channel=ch, note=int(pitch)))
        self.answer_end = self.time_at(start + max(b for _, b, _, _ in notes))

    def phrase_tune(self, phrase: list, origin: float) -> Tune:
        on, off, pitch, vel = (np.array(col, dtype=np.float64) for col in zip(*sorted(phrase)))
        on, off = on - origin, off - origin
        spb = 60.0 / self.qpm
        track = Track("phrase", 0, False, pitch.astype(np.int16), vel.astype(np.int16), on, off,
                      on * spb, off * spb)
        return Tune([track], [TempoChange(0.0, self.qpm)],
                    [TimeSignature(0.0, self.cfg.beats_per_bar, 4)])

    # -- stopping --------------------------------------------------------------------
    def _cancel_answer(self, now: float) -> None:
        kept = [e for e in self.queue if not e[3]]
        heapq.heapify(kept)
        self.queue = kept
        for c, n in sorted(self.sounding):
            if c == self.cfg.out_channel:
                self._push(now, Message("note_off", channel=c, note=n), answer=False)

    def _panic(self, now: float) -> None:
        self.queue, self.loop, self.answer = [], False, []
        for c, n in sorted(self.sounding):
            self._push(now, Message("note_off", channel=c, note=n), answer=False)
        self._push(now, Message("control_change", channel=self.cfg.out_channel,
                                          control=123, value=0), answer=False)

    def close(self) -> list:
        """Messages that end every note this engine turned on (send them, then stop)."""
        self.queue = []
        offs = [Message("note_off", channel=c, note=n) for c, n in sorted(self.sounding)]
        self.sounding.clear()
        return offs
