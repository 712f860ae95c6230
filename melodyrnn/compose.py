"""Generation seeded with a tune: the music layer over :mod:`melodyrnn.continuation`.

A seed's melody track is encoded as the primer; the model continues it; the output keeps
the seed's tempo, time signature, program and typical velocity, with the primer notes
unchanged (or only the continuation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from .continuation import DecodeConfig, continue_ids
from .encodings.melody import FIRST_NOTE_ON, MelodyEncoding
from .loading import load_model
from .notes import Track, Tune
from .quantize import ExtractConfig, Melody, bar_steps, extract_melodies
from .vocab import BOS, EOS, PAD

__all__ = ["GenerateConfig", "Generated", "generate", "pick_melody_track", "parse_key"]

_TONICS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class GenerateConfig:
    """Settings of :func:`generate` (the ``melodyrnn generate`` options)."""

    num_outputs: int = 4
    bars: int = 16
    steps: int = 0
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    seed: int = 0
    continuation_only: bool = False
    key: str | None = None
    pitch_range: tuple[int, int] | None = None
    track: str | None = None


@dataclass
class Generated:
    """One output: the tune, and the continuation's bits/note under the model."""

    tune: Tune
    bits_per_note: float
    notes: int
    continuation_beats: float = 0.0  # where the new part starts in ``tune``


def parse_key(text: str) -> tuple[int, bool]:
    """'D' -> (2, False), 'F#m' / 'f# minor' -> (6, True), 'Bb' -> (10, False)."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*(m|min|minor|maj|major)?\s*", text)
    if not m:
        raise ValueError(f"--key {text!r}: expected a key such as D, Bb, F#m or A minor")
    tonic = (_TONICS[m.group(1).upper()] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    return tonic, (m.group(3) or "").startswith("m") and not (m.group(3) or "").startswith("maj")


def pick_melody_track(tune: Tune, track: str | None = None) -> Track:
    """The seed's melody track: by index or name, else the non-drum track with most notes
    (ties: higher mean pitch)."""
    tracks = [t for t in tune.tracks if not t.is_drum and len(t)]
    if not tracks:
        raise ValueError("the seed has no notes outside drum tracks")
    if track is None:
        return max(tracks, key=lambda t: (len(t), float(t.pitch.mean())))
    if track.isdigit():
        if int(track) >= len(tune.tracks):
            raise ValueError(f"--track {track}: the seed has {len(tune.tracks)} tracks")
        return tune.tracks[int(track)]
    named = [t for t in tune.tracks if t.name == track]
    if not named:
        raise ValueError(f"--track {track!r}: no such track; tracks are "
                         + ", ".join(repr(t.name) for t in tune.tracks))
    return named[0]


def _allowed(enc: MelodyEncoding, cfg: GenerateConfig) -> torch.Tensor:
    """Ids the melody may use: events and the notes that fit key and range."""
    allowed = torch.ones(len(enc.vocab), dtype=torch.bool)
    allowed[[PAD, BOS, EOS]] = False
    pitches = np.arange(enc.config.min_pitch, enc.config.max_pitch + 1)
    ok = np.ones(pitches.shape[0], bool)
    if cfg.key:
        tonic, minor = parse_key(cfg.key)
        ok &= np.isin((pitches - tonic) % 12, _MINOR if minor else _MAJOR)
    if cfg.pitch_range:
        ok &= (pitches >= cfg.pitch_range[0]) & (pitches <= cfg.pitch_range[1])
    if not ok.any():
        raise ValueError("no pitch satisfies --key and --pitch-range together")
    allowed[FIRST_NOTE_ON:FIRST_NOTE_ON + pitches.shape[0]] = torch.from_numpy(ok)
    return allowed


def _seed_melody(enc: MelodyEncoding, seed: Tune | None, primer: list[int] | None,
                 track: str | None) -> tuple[Melody, Tune, Track | None]:
    spq = enc.config.steps_per_quarter
    if seed is not None:
        chosen = pick_melody_track(seed, track)
        one = Tune([chosen], seed.tempos, seed.time_signatures)
        whole = ExtractConfig(spq, gap_bars=1e9, min_notes=1, min_unique_pitches=1)
        (melody,), _ = extract_melodies(one, whole)
        return melody, seed, chosen
    context = Tune()
    bar = bar_steps(4, 4, spq)
    if not primer:
        return Melody(np.zeros(0), np.zeros(0), np.zeros(0), steps_per_quarter=spq,
                      steps_per_bar=bar), context, None
    start = np.arange(len(primer)) * spq  # one quarter note per primer pitch
    melody = Melody(np.asarray(primer), start, start + spq, steps_per_quarter=spq,
                    steps_per_bar=bar)
    beats = start / spq
    notes = Track("melody", 0, False, melody.pitch, np.full(len(primer), 90, np.int16), beats,
                  beats + 1.0, context.beats_to_seconds(beats), context.beats_to_seconds(beats + 1))
    return melody, context, notes


def _output_tune(context: Tune, source: Track | None, cont: Melody, begin_beats: float,
                 spq: int) -> Tune:
    """A one-track tune: the seed's notes (``source``, unchanged) then the continuation
    ``cont`` from ``begin_beats`` on; ``begin_beats`` 0 means the continuation alone."""
    velocity = int(np.median(source.velocity)) if source is not None and len(source) else 90
    cols = {"pitch": cont.pitch.astype(np.int16), "velocity": np.full(len(cont), velocity, np.int16),
            "start_beats": cont.start_steps / spq + begin_beats,
            "end_beats": cont.end_steps / spq + begin_beats}
    if source is not None and begin_beats > 0:  # the seed's own notes, unchanged
        cols = {k: np.concatenate([getattr(source, k), v]) for k, v in cols.items()}
    track = Track(source.name if source is not None else "melody",
                  source.program if source is not None else 0, False, **cols,
                  start_seconds=context.beats_to_seconds(cols["start_beats"]),
                  end_seconds=context.beats_to_seconds(cols["end_beats"]))
    return Tune([track], context.tempos, context.time_signatures, context.key_signatures,
                context.ticks_per_quarter)


EVENTS_PER_BAR = 48  # event encodings (performance): events per bar when ``steps`` is not set


def _generate_events(model, enc, seed: Tune | None, primer, cfg: GenerateConfig) -> list[Generated]:
    """Generation for event encodings without a step grid: ``cfg.steps`` events (default
    ``cfg.bars * EVENTS_PER_BAR``) after the seed's events, decoded at the seed's tempo."""
    if primer or cfg.key or cfg.pitch_range:
        raise ValueError(f"--primer, --key and --pitch-range need a melody model, not {enc.name!r}")
    primer_ids = [BOS]
    if seed is not None:
        encoded = enc.encode_tunes([seed])
        if not encoded.n_sequences:
            raise ValueError(f"the seed has no notes the {enc.name!r} encoding can use")
        primer_ids = [int(i) for i in encoded.sequence(0)[:-1]]  # no end token
    steps = cfg.steps or cfg.bars * EVENTS_PER_BAR
    out = continue_ids(model, primer_ids, cfg.num_outputs, steps, cfg.decode, cfg.seed)
    qpm = seed.tempos[0].qpm if seed is not None else 120.0
    primed_tune = enc.decode_tune(primer_ids, qpm=qpm)
    begin = 0.0 if cfg.continuation_only else primed_tune.end_beats
    primed = len(primed_tune.tracks[0])
    results = []
    for row, nats in zip(out.ids.numpy(), out.nats.tolist()):
        ids = row if cfg.continuation_only else np.concatenate((primer_ids[1:], row))
        tune = enc.decode_tune(np.concatenate(([BOS], ids)), qpm=qpm)
        new = len(tune.tracks[0]) - (0 if cfg.continuation_only else primed)
        results.append(Generated(tune, nats / math.log(2) / new if new else math.inf, new, begin))
    return results


def generate(checkpoint, seed: Tune | None = None, primer: list[int] | None = None,
             cfg: GenerateConfig = GenerateConfig()) -> list[Generated]:
    """New tunes continuing ``seed`` (a tune), or ``primer`` pitches, or nothing;
    ``checkpoint`` is anything :func:`melodyrnn.loading.load_model` takes."""
    model, enc = load_model(checkpoint)
    if not isinstance(enc, MelodyEncoding):
        return _generate_events(model, enc, seed, primer, cfg)
    melody, context, source = _seed_melody(enc, seed, primer, cfg.track)
    primer_ids = enc.encode(melody)[:-1].tolist()  # <s> + events, no end token
    steps = cfg.steps or cfg.bars * melody.steps_per_bar
    out = continue_ids(model, primer_ids, cfg.num_outputs, steps, cfg.decode, cfg.seed,
                       _allowed(enc, cfg), melody.steps_per_bar)
    spq = enc.config.steps_per_quarter
    # the continuation starts where the primer's events end
    begin = 0.0 if cfg.continuation_only else (melody.offset_steps + melody.length_steps) / spq
    results = []
    for row, nats in zip(out.ids.numpy(), out.nats.tolist()):
        cont = enc.decode(np.concatenate(([BOS], row)))
        notes = len(cont)
        results.append(Generated(_output_tune(context, source, cont, begin, spq),
                                 nats / math.log(2) / notes if notes else math.inf, notes, begin))
    return results

