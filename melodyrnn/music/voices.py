"""Continuing every voice of a polyphonic seed with a voice-frame (chorale) model.

The seed's voices (one per track of a chorale, or split by pitch from a piano part) prime
the model bar by bar; the continuation is decoded into one track per voice with the seed's
track names and programs. A finite-state grammar keeps every frame whole -- one token per
voice, then ``STEP``, or ``BAR`` at the end of a bar -- so no output can lose its voices; and
unless asked otherwise, the outer voices never move in parallel fifths or octaves.
"""

from __future__ import annotations

import math

import numpy as np

from melodyrnn.core.continuation import continue_ids
from melodyrnn.core.vocab import BOS, EOS
from melodyrnn.music.counterpoint import NoOuterParallels
from melodyrnn.music.encodings.chorale import BAR, HOLD, ON0, REST, STEP, ChoraleEncoding, end_step, window
from melodyrnn.music.generated import GenerateConfig, Generated, warn_duplicates
from melodyrnn.music.notes import KeySignature, Marker, TempoChange, TimeSignature, Tune
from melodyrnn.music.quantize import bar_steps

__all__ = ["POLYPHONIC", "model_for", "voice_grammar", "sounding_voices", "generate_voices", "VoiceWindow"]

POLYPHONIC = 3  # a seed whose usual texture has this many voices at once is polyphonic


def sounding_voices(tune: Tune) -> int:
    """How many pitched notes usually sound at once in ``tune``: the median, over the onsets,
    of the notes sounding at that moment (a chorale 4, a melody 1, melody and bass 2)."""
    tracks = [t for t in tune.tracks if not t.is_drum and len(t)]
    if not tracks:
        return 0
    start = np.concatenate([t.start_beats for t in tracks])
    end = np.concatenate([t.end_beats for t in tracks])
    at = np.unique(start) + 1e-6
    # notes sounding at t: those started by t minus those ended by t (O(n log n), any size)
    counts = np.searchsorted(np.sort(start), at, "right") - np.searchsorted(np.sort(end), at, "right")
    return int(np.median(counts))


def model_for(seed: Tune | None) -> tuple[str, str]:
    """The shipped model to continue ``seed`` with when none is named, and why: ``chorale``
    for a polyphonic seed (every voice continued), else ``default`` (the melody)."""
    n = sounding_voices(seed) if seed is not None else 0
    if n >= POLYPHONIC:
        return "chorale", (f"polyphonic seed ({n} voices sound at once): continuing every voice "
                           "with the chorale model (--model default continues the melody alone)")
    return "default", ""


def voice_grammar(enc: ChoraleEncoding, steps_per_bar: int, until_end: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(next_state, allowed) over the token position in the bar: voice slots take ON/HOLD/
    REST, the separator slot STEP, or BAR at a bar's last frame; state ``P`` (ended) only
    ``</s>``. With ``until_end`` the model may end the tune at a frame boundary."""
    V, frame = enc.config.voices, enc.frame
    P, n = steps_per_bar * frame, len(enc.vocab)
    position = np.arange(P)
    next_state = np.repeat(((position + 1) % P)[:, None], n, axis=1)  # (P, n): every id moves on
    next_state = np.concatenate([next_state, np.full((1, n), P)])  # (P + 1, n)
    next_state[0, BOS] = 0
    next_state[:, EOS] = P
    allowed = np.zeros((P + 1, n), bool)
    voice_slot = position % frame < V
    allowed[:P][voice_slot, REST] = True
    allowed[:P][voice_slot, HOLD] = True
    allowed[:P][voice_slot, ON0:] = True
    allowed[:P][~voice_slot & (position != P - 1), STEP] = True
    allowed[P - 1, BAR] = True
    if until_end:
        allowed[:P][position % frame == 0, EOS] = True
    allowed[P, EOS] = True
    return next_state, allowed


class VoiceWindow:
    """The seed bars that prime the model: their frames, and what the output keeps of the
    seed (voice names and programs, metre, key, tempo, MIDI resolution)."""

    def __init__(self, enc: ChoraleEncoding, seed: Tune | None, primer_bars: int,
                 from_bar: int | None) -> None:
        self.enc = enc
        self.frames, self.labels = np.zeros(0, np.int64), []
        self.first_bar = self.cut_bar = self.seed_bars = 0
        self.qpm, self.time_signature, self.keys, self.ticks_per_quarter = 120.0, (4, 4), [], 480
        if seed is None:
            self.steps_per_bar = bar_steps(4, 4, enc.config.steps_per_quarter)
            return
        voices, _, sources = enc.voices_of(seed)
        if not any(len(v) for v in voices):
            raise ValueError("the seed has no pitched notes")
        bar = self.steps_per_bar = enc.steps_per_bar(seed)
        self.seed_bars = -(-end_step(voices) // bar)
        cut = self.seed_bars if from_bar is None else from_bar - 1
        if not 0 <= cut <= self.seed_bars:
            raise ValueError(f"--from-bar {from_bar}: the seed has {self.seed_bars} bars")
        self.first_bar, self.cut_bar = max(0, cut - primer_bars) if primer_bars else 0, cut
        a, b = self.first_bar * bar, cut * bar
        self.frames = enc.encode_voices(window(voices, a, b), bar, b - a)
        programs = [t.program for t in seed.tracks if not t.is_drum and len(t)] or [0]
        self.labels = [(s.name, s.program) if s is not None else (f"Voice {k + 1}", programs[0])
                       for k, s in enumerate(sources[:enc.config.voices])]
        beat = a / enc.config.steps_per_quarter
        self.qpm = [t.qpm for t in seed.tempos if t.beat <= beat + 1e-9][-1] if seed.tempos else 120.0
        if seed.time_signatures:
            self.time_signature = (seed.time_signatures[0].numerator, seed.time_signatures[0].denominator)
        self.keys = [KeySignature(0.0, k.tonic, k.minor) for k in seed.key_signatures[:1]]
        self.ticks_per_quarter = seed.ticks_per_quarter

    @property
    def primer_ids(self) -> list[int]:
        return [BOS, *self.frames.tolist()]

    @property
    def primer_beats(self) -> float:
        return len(self.frames) / self.enc.frame / self.enc.config.steps_per_quarter

    def tune(self, ids: np.ndarray, begin: float) -> Tune:
        """The output: frames ``ids`` as one track per voice, with the seed's names,
        programs, metre and key, and a ``continuation`` marker at ``begin`` beats."""
        t = self.enc.decode_tune(ids, qpm=self.qpm, names=tuple(n for n, _ in self.labels),
                                 programs=tuple(p for _, p in self.labels))
        return Tune(t.tracks, [TempoChange(0.0, self.qpm)], [TimeSignature(0.0, *self.time_signature)],
                    self.keys, self.ticks_per_quarter,
                    [Marker(begin, "continuation")] if begin > 0 else [])


def generate_voices(model, enc: ChoraleEncoding, seed: Tune | None, cfg: GenerateConfig) -> list[Generated]:
    """``cfg.num_outputs`` continuations of every voice of ``seed`` (None: from nothing)."""
    if cfg.track is not None:
        raise ValueError(f"--track needs a melody model, not {enc.name!r}: every voice is continued")
    window = VoiceWindow(enc, seed, cfg.primer_bars, cfg.from_bar)
    bar_tokens = window.steps_per_bar * enc.frame
    steps = cfg.steps * enc.frame if cfg.steps else cfg.bars * bar_tokens
    grammar = voice_grammar(enc, window.steps_per_bar, cfg.until_end)
    rule = None if cfg.allow_parallels else NoOuterParallels(enc)
    out = continue_ids(model, window.primer_ids, cfg.num_outputs, steps, cfg.decode, cfg.seed,
                       None, bar_tokens, (cfg.phrase_bars * bar_tokens, cfg.max_plays), grammar, rule)
    warn_duplicates(out.ids, stacklevel=4)
    begin = 0.0 if cfg.continuation_only else window.primer_beats
    results = []
    for row, nats in zip(out.ids, out.nats.tolist()):
        row = row[:int(np.argmax(row == EOS))] if (row == EOS).any() else row
        new = int((row >= ON0).sum())
        ids = row if cfg.continuation_only else np.concatenate((window.frames, row))
        results.append(Generated(window.tune(ids, begin), nats / math.log(2) / new if new else math.inf,
                                 new, begin, voices=tuple(n for n, _ in window.labels),
                                 voice_window=(window.first_bar, window.cut_bar, window.seed_bars)))
    return results
