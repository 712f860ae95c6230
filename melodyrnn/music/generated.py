"""What generation is asked for and what it gives back: :class:`GenerateConfig` (the
``melodyrnn generate`` options) and :class:`Generated` (one output), shared by melody
(:mod:`melodyrnn.music.compose`) and voice (:mod:`melodyrnn.music.voices`) generation."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from melodyrnn.core.continuation import DecodeConfig
from melodyrnn.music.copies import bar_contents
from melodyrnn.music.notes import Tune
from melodyrnn.music.quantize import Melody
from melodyrnn.music.seeds import SeedWindow

__all__ = ["GenerateConfig", "Generated", "warn_duplicates", "MAX_BARS", "MAX_OUTPUTS", "MAX_WORK",
           "STEPS_PER_BAR"]

MAX_BARS = 1024  # one output's new bars (--bars)
MAX_OUTPUTS = 1000  # outputs of one call (--num-outputs)
#: the work budget of one call, in bar-hypotheses: bars x num_outputs x beam_size x
#: branch_factor (what a decoder runs the model on). Measured with the default model on 2
#: CPU cores shared with other jobs (load 6): beam 256 x 32 bars (8192) 21 s, 256 x 16 11 s;
#: 1000 sampled outputs of 16 bars (16000: over, though sampled rows are cheaper) 8 s; beam
#: 256 x 64 bars (16384) took 55 s before the beam kept back-pointers. Few long outputs are
#: bounded by MAX_BARS instead (4 x 1024 bars: 90 s at load 6).
MAX_WORK = 8192
#: --steps counts as bars of this many steps in the budget (a 4/4 bar at 4 steps a quarter)
STEPS_PER_BAR = 16


@dataclass(frozen=True)
class GenerateConfig:
    """Settings of :func:`generate` (the ``melodyrnn generate`` options).

    ``primer_bars`` bars of the seed (0: all of it) before bar ``from_bar`` (None: after
    its end) prime the model; ``max_plays`` > 0 lets no run of ``phrase_bars`` bars be
    played more than that many times, primer included (a phrase may return, not loop);
    ``pitch_range`` None keeps to the model's training range;
    ``until_end`` lets the model end the tune with its end token (at most ``bars``);
    ``allow_parallels`` (voice models) lets the outer voices move in parallel fifths and
    octaves, which :class:`~melodyrnn.music.counterpoint.NoOuterParallels` otherwise rules out.

    Raises ``ValueError`` (one line) for sizes out of range and for work over the budget
    :data:`MAX_WORK`; the CLI, the studio and the Python API all build this class, so all
    refuse alike.
    """

    num_outputs: int = 4
    bars: int = 16
    steps: int = 0
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    seed: int = 0
    continuation_only: bool = False
    key: str | None = None
    pitch_range: tuple[int, int] | None = None
    track: str | None = None
    primer_bars: int = 8
    from_bar: int | None = None
    phrase_bars: int = 4
    max_plays: int = 2
    until_end: bool = False
    allow_parallels: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.num_outputs <= MAX_OUTPUTS:
            raise ValueError(f"num_outputs must be 1..{MAX_OUTPUTS}")
        if not 1 <= self.bars <= MAX_BARS or not 0 <= self.steps <= MAX_BARS * 96:
            raise ValueError(f"bars must be 1..{MAX_BARS} (steps at most {MAX_BARS * 96})")
        if self.decode.beam_size * self.decode.branch_factor * self.num_outputs > 4096:
            raise ValueError("num_outputs x beam_size x branch_factor must be at most 4096")
        bars = -(-self.steps // STEPS_PER_BAR) if self.steps else self.bars
        d = self.decode
        work = bars * self.num_outputs * d.beam_size * d.branch_factor
        if work > MAX_WORK:
            steps = f" ({self.steps} steps as bars of {STEPS_PER_BAR})" if self.steps else ""
            raise ValueError(f"too much work for one call: bars x num_outputs x beam_size x branch_factor"
                             f" = {bars}{steps} x {self.num_outputs} x {d.beam_size} x {d.branch_factor}"
                             f" = {work}, over the budget of {MAX_WORK}")


@dataclass
class Generated:
    """One output: the tune, and the continuation's bits/note under the model.

    ``continuation_beats`` is where the new part starts in ``tune``; ``window`` says which
    seed track and bars primed it; ``key`` names the key signature written and
    ``key_source`` where it came from (``seed``, ``--key`` or ``inferred``);
    ``continuation`` is the new part on the model's grid (steps from its start, melody
    models).
    """

    tune: Tune
    bits_per_note: float
    notes: int
    continuation_beats: float = 0.0
    window: SeedWindow | None = None
    key: str = ""
    key_source: str = ""
    continuation: Melody | None = None
    #: voice models: the output's voices (its track names, top first) and which seed bars
    #: primed it: (first bar, continuation bar, seed bars), 0-based
    voices: tuple[str, ...] = ()
    voice_window: tuple[int, int, int] | None = None

    def bars(self) -> tuple[list[tuple], list[tuple]]:
        """Bar contents (:func:`melodyrnn.music.copies.bar_contents`) of the primer and of the
        continuation, on the model's grid (melody models only)."""
        p, c = self.window.melody, self.continuation
        bar = p.steps_per_bar
        return (bar_contents(p.pitch, p.start_steps, p.end_steps, bar, p.length_steps // bar),
                bar_contents(c.pitch, c.start_steps, c.end_steps, bar, -(-c.length_steps // bar)))


def warn_duplicates(rows: np.ndarray, stacklevel: int = 3) -> None:
    seen: dict[bytes, int] = {}
    for k, row in enumerate(rows):
        first = seen.setdefault(row.tobytes(), k)
        if first != k:
            warnings.warn(f"output {k} is identical to output {first} (raise --temperature, or "
                          "use --beam-size N for N distinct outputs)", stacklevel=stacklevel)
