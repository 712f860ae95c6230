"""An example melodyrnn plugin.

``pitches``: one token per note, its MIDI pitch (every note one beat long when decoded).
``relu-rnn``: an Elman network with ReLU instead of tanh, as a model kind.
"""

from dataclasses import dataclass

import numpy as np
from torch import nn

from melodyrnn.core.encoding import EncodedBatch, concat_ragged
from melodyrnn.core.vocab import BOS, EOS, Vocabulary
from melodyrnn.music.encodings.base import MusicEncoding
from melodyrnn.music.notes import TempoChange, Track, Tune, TuneBatch

FIRST = 3  # ids 0-2 are <pad>, <s>, </s>


@dataclass(frozen=True)
class PitchesConfig:
    min_notes: int = 4


class PitchesEncoding(MusicEncoding):
    name = "pitches"
    config_class = PitchesConfig

    def _build_vocab(self):
        return Vocabulary.from_names(f"PITCH_{p}" for p in range(128))

    def encode_tunes(self, tunes):
        if isinstance(tunes, TuneBatch):
            tunes = [tunes.tune(i) for i in range(tunes.n_tunes)]
        seqs, which, notes = [], [], []
        for i, tune in enumerate(tunes):
            tracks = [t for t in tune.tracks if not t.is_drum and len(t)]
            if not tracks:
                continue
            start = np.concatenate([t.start_beats for t in tracks])
            pitch = np.concatenate([t.pitch for t in tracks])[np.argsort(start, kind="stable")]
            if len(pitch) >= self.config.min_notes:
                seqs.append(np.concatenate(([BOS], FIRST + pitch.astype(np.int64), [EOS])))
                which.append(i)
                notes.append(len(pitch))
        tokens, offsets = concat_ragged(seqs)
        n = len(seqs)
        return EncodedBatch(tokens, offsets, np.array(which, np.int64), np.array(notes, np.int64),
                            np.zeros(n, np.int64))

    def decode_tune(self, ids, qpm=120.0, **kwargs):
        ids = np.asarray(ids, np.int64)
        ids = ids[: np.argmax(ids == EOS)] if (ids == EOS).any() else ids
        pitch = ids[ids >= FIRST] - FIRST
        beats = np.arange(len(pitch), dtype=np.float64)
        track = Track("pitches", 0, False, pitch.astype(np.int16), np.full(len(pitch), 90, np.int16),
                      beats, beats + 1, beats * 60 / qpm, (beats + 1) * 60 / qpm)
        return Tune([track], [TempoChange(0.0, qpm)])


class ReluRNN(nn.Module):
    """nn.GRU's interface: forward(x, h) -> (outputs, h)."""

    def __init__(self, input_size, hidden, layers, dropout):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden, layers, nonlinearity="relu", batch_first=True,
                          dropout=dropout)

    def forward(self, x, h):
        return self.rnn(x, h)


def relu_rnn(input_size, hidden, layers, dropout):
    return ReluRNN(input_size, hidden, layers, dropout)
