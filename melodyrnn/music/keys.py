"""Keys and pitch names: parse a key name, infer a key from notes (Krumhansl-Schmuckler),
name it; name a pitch (C4 = 60) and read a name or MIDI number back.

Plain functions over pitch arrays; no files, no MIDI library.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["parse_key", "key_name", "pitch_name", "parse_pitch", "infer_key",
           "scale_pitch_classes", "MAJOR_SCALE", "MINOR_SCALE"]

_TONICS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor
# Krumhansl & Kessler (1982) probe-tone ratings, tonic first
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
# spelling of key names as musicians write them (flats for F, Bb, Eb...; minor keys likewise)
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_NOTE = re.compile(r"([A-Ga-g])(#{1,2}|b{1,2})?(-1|\d)")  # a note name: D4, F#4, Bb3, C-1
_PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def parse_key(text: str) -> tuple[int, bool]:
    """A key name as ``(tonic pitch class, minor)``.

    'D' -> (2, False), 'F#m' / 'f# minor' -> (6, True), 'Bb' -> (10, False).

    Raises
    ------
    ValueError
        When ``text`` is not a key name.
    """
    m = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*(m|min|minor|maj|major)?\s*", text)
    if not m:
        raise ValueError(f"--key {text!r}: expected a key such as D, Bb, F#m or A minor")
    tonic = (_TONICS[m.group(1).upper()] + {"#": 1, "b": -1, "": 0}[m.group(2)]) % 12
    mode = m.group(3) or ""
    return tonic, mode.startswith("m") and not mode.startswith("maj")


def pitch_name(pitch: int) -> str:
    """60 -> 'C4', 66 -> 'F#4' (scientific pitch notation, sharps)."""
    return f"{_PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def parse_pitch(token: str) -> int:
    """'62' -> 62, 'D4' -> 62, 'F#4' -> 66, 'Bb3' -> 58 (C4 = 60, scientific pitch).

    Raises
    ------
    ValueError
        For anything that is not a MIDI number 0-127 or a note name in that range.
    """
    if token.isdigit():
        pitch = int(token)
    else:
        m = _NOTE.fullmatch(token)
        if not m:
            raise ValueError(f"--primer: {token!r} is neither a MIDI pitch (0-127) nor a note "
                             "name such as D4, F#4 or Bb3")
        accidental = m.group(2) or ""
        pitch = (12 * (int(m.group(3)) + 1) + _TONICS[m.group(1).upper()]
                 + accidental.count("#") - accidental.count("b"))
    if not 0 <= pitch <= 127:
        raise ValueError(f"--primer: {token} is outside the MIDI range 0-127 (C-1 to G9)")
    return pitch


def key_name(tonic: int, minor: bool) -> str:
    """(2, False) -> 'D major', (9, True) -> 'A minor'."""
    return f"{(_MINOR_NAMES if minor else _MAJOR_NAMES)[tonic % 12]} {'minor' if minor else 'major'}"


def scale_pitch_classes(tonic: int, minor: bool) -> np.ndarray:
    """Pitch classes of the key's scale (natural minor for minor keys)."""
    return (np.asarray(MINOR_SCALE if minor else MAJOR_SCALE) + tonic) % 12


def infer_key(pitch: np.ndarray, weight: np.ndarray | None = None) -> tuple[int, bool] | None:
    """The key whose Krumhansl-Kessler profile best correlates with the notes.

    Parameters
    ----------
    pitch : ndarray of int
        MIDI pitches.
    weight : ndarray of float, optional
        Per-note weights, usually durations in beats (default: 1 per note).

    Returns
    -------
    (tonic, minor) or None when there are no notes (or only one pitch class, which
    fits many keys equally).
    """
    pitch = np.asarray(pitch, np.int64)
    if pitch.size == 0:
        return None
    w = np.ones(pitch.shape[0]) if weight is None else np.maximum(np.asarray(weight, float), 1e-3)
    hist = np.bincount(pitch % 12, weights=w, minlength=12)
    if np.count_nonzero(hist) < 2:
        return None
    best, best_r = None, -np.inf
    for minor, profile in ((False, _KK_MAJOR), (True, _KK_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(hist, np.roll(profile, tonic))[0, 1]
            if r > best_r + 1e-12:
                best, best_r = (tonic, minor), r
    return best
