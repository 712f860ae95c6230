"""Generation seeded with a tune: the music layer over :mod:`melodyrnn.core.continuation`.

The seed's melody track (chosen from the music, :mod:`melodyrnn.music.tracks`) is cut to a
window of bars (:mod:`melodyrnn.music.seeds`) and encoded as the primer; the model continues
it. Each output holds the primer bars, unchanged, then the continuation, with the seed's
tempo, time signature, program and typical velocity, and a key signature: the seed's,
``--key``'s, or one inferred from the notes. By default new notes stay within the pitch
range the model saw in training, and no 4-bar phrase is played more than twice, primer
included: a tune may repeat its A part, but greedy and beam decoders no longer loop it.
"""

from __future__ import annotations

import math
import os

import numpy as np

from melodyrnn.core.continuation import continue_ids
from melodyrnn.music.encodings.base import makes_tunes
from melodyrnn.music.encodings.chorale import ChoraleEncoding
from melodyrnn.music.encodings.melody import FIRST_NOTE_ON, NOTE_OFF, MelodyEncoding
from melodyrnn.music.keys import infer_key, key_name, parse_key, scale_pitch_classes
from melodyrnn.core.loading import load_for_sampling
from melodyrnn.music.notes import KeySignature, Marker, Track, Tune
from melodyrnn.music.quantize import Melody
from melodyrnn.music.generated import MAX_BARS, MAX_OUTPUTS, GenerateConfig, Generated, warn_duplicates
from melodyrnn.music.seeds import SeedWindow, primer_window, seed_window
from melodyrnn.music.voices import generate_voices
from melodyrnn.core.vocab import BOS, EOS, PAD

__all__ = ["GenerateConfig", "Generated", "generate", "parse_key", "training_pitch_range",
           "sampling_constraints", "melody_grammar", "MAX_BARS", "MAX_OUTPUTS"]


def training_pitch_range(ckpt: dict, enc: MelodyEncoding) -> tuple[int, int] | None:
    """Lowest and highest pitch of the model's training notes, widened by its training
    transposition; None for checkpoints that do not record their training ids."""
    counts = ckpt.get("train_id_counts")
    if not counts:
        return None
    n_pitches = enc.config.max_pitch - enc.config.min_pitch + 1
    seen = np.flatnonzero(np.asarray(counts[FIRST_NOTE_ON:FIRST_NOTE_ON + n_pitches]) > 0)
    if not seen.size:
        return None
    train = ckpt.get("train_config") or {}
    shift = int((train.get("augment") or {}).get("transpose") or 0)
    low, high = enc.config.min_pitch + int(seen[0]), enc.config.min_pitch + int(seen[-1])
    return max(low - shift, enc.config.min_pitch), min(high + shift, enc.config.max_pitch)


def _allowed(enc: MelodyEncoding, key: tuple[int, bool] | None, span: tuple[int, int],
             until_end: bool = False) -> np.ndarray:
    """Ids the melody may use: events, the notes that fit key and range, and the end
    token when the model may end the tune."""
    allowed = np.ones(len(enc.vocab), bool)
    allowed[[PAD, BOS] if until_end else [PAD, BOS, EOS]] = False
    pitches = np.arange(enc.config.min_pitch, enc.config.max_pitch + 1)
    ok = (pitches >= span[0]) & (pitches <= span[1])
    if key is not None:
        ok &= np.isin(pitches % 12, scale_pitch_classes(*key))
    if not ok.any():
        raise ValueError("no pitch satisfies --key and --pitch-range together")
    allowed[FIRST_NOTE_ON:FIRST_NOTE_ON + pitches.shape[0]] = ok
    return allowed


def sampling_constraints(enc: MelodyEncoding, ckpt: dict, key: tuple[int, bool] | None = None,
                         pitch_range: tuple[int, int] | None = None, until_end: bool = False
                         ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """What :func:`generate` lets a melody model (``enc``, its checkpoint ``ckpt``) play:
    the allowed ids (notes in ``key`` and ``pitch_range``, by default the model's training
    range; the end token with ``until_end``) and the melody grammar."""
    span = pitch_range or training_pitch_range(ckpt, enc) or (enc.config.min_pitch, enc.config.max_pitch)
    return _allowed(enc, key, span, until_end), melody_grammar(len(enc.vocab))


def melody_grammar(vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Melody events as a grammar of three states (silent, sounding, ended): NOTE_OFF only
    while a note sounds, so that no two continuations differ only in redundant NOTE_OFFs;
    after the end token only end tokens (a tune that ended stays ended)."""
    next_state = np.repeat([[0], [1], [2]], vocab_size, axis=1)  # (3, V): events keep it
    next_state[:2, FIRST_NOTE_ON:] = 1
    next_state[:2, NOTE_OFF] = 0
    next_state[:, EOS] = 2
    allowed = np.ones((3, vocab_size), bool)
    allowed[0, NOTE_OFF] = False
    allowed[2] = False
    allowed[2, EOS] = True
    return next_state, allowed


def _seed_key(seed: Tune | None, window: SeedWindow) -> tuple[tuple[int, bool] | None, str]:
    """The key of the seed: its key signature at the window, or inferred from all of its
    pitched notes (the typed primer's notes when there is no seed)."""
    if window.context.key_signatures:
        ks = window.context.key_signatures[0]
        return (ks.tonic, ks.minor), "seed"
    tracks = [t for t in seed.tracks if not t.is_drum] if seed is not None else [window.notes]
    if not any(len(t) for t in tracks):
        return None, ""
    pitch = np.concatenate([t.pitch for t in tracks])
    dur = np.concatenate([t.end_beats - t.start_beats for t in tracks])
    key = infer_key(pitch, dur)
    return key, "inferred" if key else ""


def _output_tune(window: SeedWindow, cont: Melody, begin: float, spq: int,
                 key: tuple[int, bool] | None) -> Tune:
    """The primer bars (the seed's own notes) then ``cont`` from ``begin`` beats on;
    ``begin`` 0 means the continuation alone."""
    source, context = window.notes, window.context
    velocity = int(np.median(source.velocity)) if len(source) else 90
    cols = {"pitch": cont.pitch.astype(np.int16), "velocity": np.full(len(cont), velocity, np.int16),
            "start_beats": cont.start_steps / spq + begin, "end_beats": cont.end_steps / spq + begin}
    if begin > 0:
        cols = {k: np.concatenate([getattr(source, k), v]) for k, v in cols.items()}
    track = Track(source.name, source.program, False, **cols,
                  start_seconds=context.beats_to_seconds(cols["start_beats"]),
                  end_seconds=context.beats_to_seconds(cols["end_beats"]))
    keys = context.key_signatures
    if key is not None and (not keys or (keys[0].tonic, keys[0].minor) != key):
        keys = [KeySignature(0.0, *key)]
    markers = [Marker(begin, "continuation")] if begin > 0 else []
    return Tune([track], context.tempos, context.time_signatures, keys, context.ticks_per_quarter,
                markers)


EVENTS_PER_BAR = 48  # event encodings (performance): events per bar when ``steps`` is not set


def _generate_events(model, enc, seed: Tune | None, cfg: GenerateConfig) -> list[Generated]:
    """Generation for event encodings without a step grid: ``cfg.steps`` events (default
    ``cfg.bars * EVENTS_PER_BAR``) after the seed's events, decoded at the seed's tempo."""
    primer_ids = [BOS]
    if seed is not None:
        encoded = enc.encode_tunes([seed])
        if not encoded.n_sequences:
            raise ValueError(f"the seed has no notes the {enc.name!r} encoding can use")
        primer_ids = [int(i) for i in encoded.sequence(0)[:-1]]  # no end token
    steps = cfg.steps or cfg.bars * EVENTS_PER_BAR
    allowed = np.ones(len(enc.vocab), bool)
    allowed[[PAD, BOS, EOS]] = False  # the length asked for, and only real events
    out = continue_ids(model, primer_ids, cfg.num_outputs, steps, cfg.decode, cfg.seed, allowed)
    warn_duplicates(out.ids)
    qpm = seed.tempos[0].qpm if seed is not None else 120.0
    primed_tune = enc.decode_tune(primer_ids, qpm=qpm)
    begin = 0.0 if cfg.continuation_only else primed_tune.end_beats
    primed = len(primed_tune.tracks[0])
    results = []
    for row, nats in zip(out.ids, out.nats.tolist()):
        ids = row if cfg.continuation_only else np.concatenate((primer_ids[1:], row))
        tune = enc.decode_tune(np.concatenate(([BOS], ids)), qpm=qpm)
        new = len(tune.tracks[0]) - (0 if cfg.continuation_only else primed)
        results.append(Generated(tune, nats / math.log(2) / new if new else math.inf, new, begin))
    return results


def generate(checkpoint, seed: Tune | None = None, primer: list[int] | None = None,
             cfg: GenerateConfig | None = None) -> list[Generated]:
    """New tunes continuing ``seed`` (a tune), or ``primer`` pitches, or nothing;
    ``checkpoint`` is anything :func:`melodyrnn.core.loading.load_with_checkpoint` takes.

    Raises
    ------
    ValueError
        For unusable settings (``--greedy`` with several outputs, an empty key and range,
        a bar outside the seed) or a seed without pitched notes.
    """
    cfg = cfg or GenerateConfig()
    if cfg.decode.sampling.greedy and cfg.decode.beam_size == 1 and cfg.num_outputs > 1:
        raise ValueError("--greedy has one answer, so every output would be the same: use "
                         "--num-outputs 1, or --beam-size N for the N best continuations")
    model, enc, ckpt = load_for_sampling(checkpoint)
    if not makes_tunes(enc):
        name = f"{checkpoint}" if isinstance(checkpoint, (str, os.PathLike)) else "the model"
        raise ValueError(f"{name} is a text model (the {enc.name!r} encoding): it makes no tunes; "
                         "complete text with --prompt TEXT")
    if not isinstance(enc, MelodyEncoding):
        if primer or cfg.key or cfg.pitch_range:
            raise ValueError(f"--primer, --key and --pitch-range need a melody model, not {enc.name!r}")
        if isinstance(enc, ChoraleEncoding):
            return generate_voices(model, enc, seed, cfg)
        return _generate_events(model, enc, seed, cfg)
    spq = enc.config.steps_per_quarter
    window = (seed_window(seed, spq, cfg.primer_bars, cfg.from_bar, cfg.track) if seed is not None
              else primer_window(primer, spq))
    primer_ids = enc.encode(window.melody)[:-1].tolist()  # <s> + events, no end token
    bar = window.melody.steps_per_bar
    chosen = parse_key(cfg.key) if cfg.key else None
    key, source = (chosen, "--key") if chosen else _seed_key(seed, window)
    allowed, grammar = sampling_constraints(enc, ckpt, chosen, cfg.pitch_range, cfg.until_end)
    out = continue_ids(model, primer_ids, cfg.num_outputs, cfg.steps or cfg.bars * bar, cfg.decode,
                       cfg.seed, allowed, bar, (cfg.phrase_bars * bar, cfg.max_plays), grammar)
    warn_duplicates(out.ids)
    begin = 0.0 if cfg.continuation_only else window.primer_beats
    results = []
    for row, nats in zip(out.ids, out.nats.tolist()):
        cont = enc.decode(np.concatenate(([BOS], row)))
        own_key, own_source = key, source
        if own_key is None and len(cont):  # nothing to go by but the new notes
            own_key, own_source = infer_key(cont.pitch, cont.end_steps - cont.start_steps), "inferred"
        tune = _output_tune(window, cont, begin, spq, own_key)
        bits = nats / math.log(2) / len(cont) if len(cont) else math.inf
        results.append(Generated(tune, bits, len(cont), begin, window,
                                 key_name(*own_key) if own_key else "", own_source if own_key else "",
                                 cont))
    return results
