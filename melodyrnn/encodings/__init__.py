"""Encodings: invertible maps between tunes and token ids, one module each."""

from .base import EncodedBatch, Encoding
from .melody import MelodyConfig, MelodyEncoding
from .performance import PerformanceConfig, PerformanceEncoding
from .registry import available_encodings, encoding_from_dict, get_encoding
from .text import CharConfig, CharEncoding, WordConfig, WordEncoding

__all__ = ["Encoding", "EncodedBatch", "MelodyConfig", "MelodyEncoding", "PerformanceConfig",
           "PerformanceEncoding", "CharConfig", "CharEncoding", "WordConfig", "WordEncoding",
           "available_encodings", "encoding_from_dict", "get_encoding"]
