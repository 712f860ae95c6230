"""Generated tunes written to disk: ``STEM-K.mid`` (atomic), with its piano roll and its audio
beside it when asked; the one writer that ``melodyrnn generate`` and the pipeline share."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from melodyrnn.music.midi_io import write_midi
from melodyrnn.music.render import piano_roll_png, render_wav

__all__ = ["RENDERS", "output_paths", "write_outputs"]

RENDERS = ("png", "wav")


def output_paths(folder: str | os.PathLike, stem: str, n: int) -> list[Path]:
    """Where :func:`write_outputs` puts ``n`` outputs named after ``stem``."""
    return [Path(folder) / f"{stem}-{k}.mid" for k in range(n)]


def write_outputs(results: Iterable, folder: str | os.PathLike, stem: str, *,
                  render: Iterable[str] = (), soundfont: str | None = None,
                  sample_rate: int = 44100) -> list[Path]:
    """Write each :class:`~melodyrnn.music.compose.Generated` as ``FOLDER/STEM-K.mid``, plus
    ``.png`` (the piano roll, the new part in another colour) and ``.wav`` (FluidSynth at
    ``sample_rate`` Hz) for the renders asked for; returns the MIDI paths."""
    render = set(render)
    unknown = sorted(render - set(RENDERS))
    if unknown:
        raise ValueError(f"unknown render {unknown[0]!r}; choose from {', '.join(RENDERS)}")
    results = list(results)
    targets = output_paths(folder, stem, len(results))
    Path(folder).mkdir(parents=True, exist_ok=True)
    for target, r in zip(targets, results):
        write_midi(r.tune, target)
        if "png" in render:
            piano_roll_png(r.tune, target.with_suffix(".png"), r.continuation_beats, target.stem)
        if "wav" in render:
            render_wav(target, target.with_suffix(".wav"), soundfont, sample_rate=sample_rate)
    return targets
