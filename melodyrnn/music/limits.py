"""The ranges the music encodings' settings must lie in: the one home of these limits.

Each encoding's config checks itself against them when it is made (``__post_init__``), so a
setting read from a dataset's ``meta.json`` or a checkpoint -- files from anywhere -- meets the
same bounds as one typed on the command line, whose options take their ranges from here too
(a checkpoint with ``steps_per_quarter = 10**7`` would otherwise make ``generate`` loop over
billions of steps). Imports nothing but ``math``, so that the CLI can read it without loading numpy.
"""

from __future__ import annotations

import math

__all__ = ["STEPS_PER_QUARTER", "CHORALE_STEPS_PER_QUARTER", "PITCH", "KEY", "VOICES", "CHORALE_MAX_STEPS",
           "STEPS_PER_SECOND", "MAX_SHIFT_STEPS", "VELOCITY_BINS", "AT_LEAST_ONE", "check_ints",
           "check_positive"]

#: grid steps per quarter note (melody; 4 = 16ths, 12 allows triplets)
STEPS_PER_QUARTER = (1, 96)
#: the chorale's grid: a frame of every voice per step makes finer grids too long to learn
CHORALE_STEPS_PER_QUARTER = (1, 24)
#: MIDI pitches; major keys as the tonic's pitch class (0 = C)
PITCH, KEY = (0, 127), (0, 11)
#: the chorale's voices per frame, and its longest tune in steps
VOICES, CHORALE_MAX_STEPS = (1, 8), (1, 1 << 20)
#: performance events: time steps per second (100 = 10 ms), the longest TIME_SHIFT in steps,
#: velocity bins over 1..127
STEPS_PER_SECOND, MAX_SHIFT_STEPS, VELOCITY_BINS = (1, 1000), (1, 1000), (1, 127)
#: counts that filter tunes (min_notes...): at least one, no upper bound
AT_LEAST_ONE = (1, None)


def check_ints(config, ranges: dict[str, tuple[int, int | None]]) -> None:
    """``ValueError`` unless each field of ``config`` named in ``ranges`` is an integer (not
    a bool) within its ``(low, high)`` (``high`` None: no upper bound)."""
    for name, (low, high) in ranges.items():
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, not {type(value).__name__}")
        if value < low or (high is not None and value > high):
            raise ValueError(f"{name} = {value} is outside {low}..{'' if high is None else high}")


def check_positive(name: str, value) -> None:
    """``ValueError`` unless ``value`` is a finite number above zero."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number above 0, not {value!r}")
