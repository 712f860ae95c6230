"""The learning-rate schedules and the transposition augmentation, by hand."""

import math

import numpy as np
import pytest

from melodyrnn.core.registry import get_encoding
from melodyrnn.music.encodings.melody import FIRST_NOTE_ON
from melodyrnn.music.encodings.base import TransposeAugmenter
from melodyrnn.core.trainer import TrainConfig, _lr_at


def test_warmup_then_cosine_to_the_floor():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    assert _lr_at(cfg, 0, 110) == pytest.approx(1e-4)  # (0 + 1) / 10 of the rate
    assert _lr_at(cfg, 9, 110) == pytest.approx(1e-3)
    assert _lr_at(cfg, 10, 110) == pytest.approx(1e-3)  # the top of the cosine
    assert _lr_at(cfg, 60, 110) == pytest.approx(1e-4 + 0.9e-3 * 0.5)  # half way: the mean
    assert _lr_at(cfg, 110, 110) == pytest.approx(1e-4)  # the floor, lr * min_lr_ratio
    rates = [_lr_at(cfg, s, 110) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))  # never rises after warm-up


def test_constant_and_plateau_keep_the_rate_after_warmup():
    for schedule in ("constant", "plateau"):
        cfg = TrainConfig(lr=2e-3, warmup_steps=4, schedule=schedule)
        assert _lr_at(cfg, 1, 100) == pytest.approx(1e-3)
        assert {_lr_at(cfg, s, 100) for s in range(4, 100)} == {2e-3}
    no_warmup = TrainConfig(lr=1e-3, warmup_steps=0, min_lr_ratio=0.0)
    assert _lr_at(no_warmup, 0, 100) == pytest.approx(1e-3)
    assert _lr_at(no_warmup, 50, 100) == pytest.approx(0.5e-3 * (1 + math.cos(math.pi / 2)))


def test_transposition_shifts_only_pitches_and_stays_in_range():
    enc = get_encoding("melody", min_pitch=48, max_pitch=83)
    aug = TransposeAugmenter(enc, 3)
    # NO_EVENT, NOTE_OFF, then the window's lowest pitch + 1 (49) and its top (83)
    seq = np.array([1, 3, 4, FIRST_NOTE_ON + 1, 3, FIRST_NOTE_ON + 35, 2])
    assert enc.pitch_span(seq) == (-1, 0)  # one semitone down is possible, none up
    choices = {aug.choose(seq, np.random.default_rng(s)) for s in range(200)}
    assert choices == {-1, 0}
    shifted = aug.apply(seq, -1)
    assert shifted.tolist() == [1, 3, 4, FIRST_NOTE_ON, 3, FIRST_NOTE_ON + 34, 2]
    free = np.array([1, FIRST_NOTE_ON + 10, 2])
    assert {aug.choose(free, np.random.default_rng(s)) for s in range(300)} == set(range(-3, 4))


def test_transposition_is_the_music_encodings_augmenter():
    """TrainConfig only carries the options; the encoding decides what they mean."""
    with pytest.raises(ValueError, match="no augmentation 'transpose'"):
        get_encoding("char").augmenter(transpose=2)
    assert get_encoding("char").augmenter() is None
    assert get_encoding("melody").augmenter(transpose=0) is None
    assert isinstance(get_encoding("performance").augmenter(transpose=2), TransposeAugmenter)
    with pytest.raises(ValueError, match="0..12"):
        get_encoding("melody").augmenter(transpose=13)
    with pytest.raises(ValueError, match="no augmentation 'reverse'"):
        get_encoding("melody").augmenter(transpose=1, reverse=True)
