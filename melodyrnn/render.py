"""Listen and look: a MIDI file to audio through FluidSynth, a tune to a piano-roll PNG.

Both are optional extras: FluidSynth and a General MIDI SoundFont come from the system
(Debian: ``apt-get install fluidsynth fluid-soundfont-gm``), matplotlib from
``pip install 'melodyrnn[render]'``. Missing pieces give a clear ``ValueError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .atomic import atomic_path
from .notes import Tune

__all__ = ["render_wav", "piano_roll_png", "find_soundfont", "check_wav_renderer"]

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/default.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2")


def find_soundfont(explicit: str | None = None) -> Path:
    """A General MIDI SoundFont: ``explicit``, $MELODYRNN_SOUNDFONT, or a system one."""
    for candidate in (explicit, os.environ.get("MELODYRNN_SOUNDFONT"), *SOUNDFONTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ValueError("no General MIDI SoundFont found: apt-get install fluid-soundfont-gm, "
                     "or set MELODYRNN_SOUNDFONT")


def check_wav_renderer(soundfont: str | None = None) -> tuple[str, Path]:
    """(fluidsynth executable, SoundFont), or a ValueError saying what to install."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise ValueError("--render wav needs FluidSynth: apt-get install fluidsynth fluid-soundfont-gm")
    return exe, find_soundfont(soundfont)


def render_wav(midi_path: str | os.PathLike, wav_path: str | os.PathLike,
               soundfont: str | None = None, sample_rate: int = 44100) -> Path:
    """Synthesise a MIDI file to a WAV file with FluidSynth."""
    exe, font = check_wav_renderer(soundfont)
    wav_path = Path(wav_path)
    with atomic_path(wav_path) as tmp:
        proc = subprocess.run([exe, "-ni", "-F", str(tmp), "-r", str(sample_rate), str(font),
                               str(midi_path)], capture_output=True, text=True)
        if proc.returncode != 0 or not tmp.stat().st_size:
            raise ValueError(f"fluidsynth failed: {(proc.stderr or proc.stdout).strip()[:200]}")
    return wav_path


def piano_roll_png(tune: Tune, png_path: str | os.PathLike, split_beats: float | None = None,
                   title: str = "") -> Path:
    """Draw the tune's notes as a piano roll; notes from ``split_beats`` on in another colour."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("--render png needs matplotlib: pip install 'melodyrnn[render]'") from None
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    for track in tune.tracks:
        for p, a, b in zip(track.pitch, track.start_beats, track.end_beats):
            new = split_beats is not None and a >= split_beats - 1e-9
            ax.add_patch(plt.Rectangle((a, p - 0.4), b - a, 0.8,
                                       color="#d95f02" if new else "#1b9e77"))
    pitches = [int(p) for t in tune.tracks for p in t.pitch] or [60]
    ax.set_xlim(0, max(tune.end_beats, 1.0))
    ax.set_ylim(min(pitches) - 2, max(pitches) + 2)
    if split_beats is not None:
        ax.axvline(split_beats, color="k", lw=0.8, ls="--")
    ax.set_xlabel("beats")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or "primer (green) and continuation (orange)")
    fig.tight_layout()
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png_path
