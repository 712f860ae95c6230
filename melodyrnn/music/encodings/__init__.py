"""Music encodings: invertible maps between tunes and token ids, one module each."""

from melodyrnn.music.encodings.base import MusicEncoding
from melodyrnn.music.encodings.melody import MelodyConfig, MelodyEncoding
from melodyrnn.music.encodings.performance import PerformanceConfig, PerformanceEncoding

__all__ = ["MusicEncoding", "MelodyConfig", "MelodyEncoding", "PerformanceConfig", "PerformanceEncoding"]
