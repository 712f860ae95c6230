"""Encodings: invertible maps between tunes and token ids, one module each."""

from .base import EncodedBatch, Encoding
from .melody import MelodyConfig, MelodyEncoding
from .performance import PerformanceConfig, PerformanceEncoding
from .registry import available_encodings, encoding_from_dict, get_encoding

__all__ = ["Encoding", "EncodedBatch", "MelodyConfig", "MelodyEncoding", "PerformanceConfig",
           "PerformanceEncoding", "available_encodings", "encoding_from_dict", "get_encoding"]
