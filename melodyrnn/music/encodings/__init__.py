"""Music encodings: invertible maps between tunes and token ids, one module each."""

from melodyrnn.music.encodings.base import MusicEncoding
from melodyrnn.music.encodings.chorale import ChoraleConfig, ChoraleEncoding
from melodyrnn.music.encodings.melody import MelodyConfig, MelodyEncoding
from melodyrnn.music.encodings.performance import PerformanceConfig, PerformanceEncoding

__all__ = ["MusicEncoding", "ChoraleConfig", "ChoraleEncoding", "MelodyConfig", "MelodyEncoding",
           "PerformanceConfig", "PerformanceEncoding"]
