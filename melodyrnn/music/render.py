"""Listen and look: a MIDI file to audio through FluidSynth, a tune to a piano-roll PNG.

Both are optional extras: FluidSynth and a General MIDI SoundFont come from the system
(Debian: ``apt-get install fluidsynth fluid-soundfont-gm``), matplotlib from
``pip install 'melodyrnn[render]'``. Missing pieces give a clear ``ValueError``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from melodyrnn.core.atomic import atomic_path
from melodyrnn.music.keys import MAJOR_SCALE, pitch_name
from melodyrnn.music.notes import Tune

__all__ = ["render_wav", "piano_roll_png", "find_soundfont", "check_wav_renderer", "normalise_wav",
           "bar_lines"]

PEAK_DBFS = -1.0  # rendered audio is scaled to this peak

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/default.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2")


def find_soundfont(explicit: str | None = None) -> Path:
    """A General MIDI SoundFont: ``explicit`` (which must exist), $MELODYRNN_SOUNDFONT, or a
    system one."""
    if explicit:
        if not Path(explicit).is_file():
            raise ValueError(f"--soundfont {explicit}: no such file")
        with open(explicit, "rb") as f:
            head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise ValueError(f"--soundfont {explicit}: not a SoundFont (.sf2) file")
        return Path(explicit)
    for candidate in (os.environ.get("MELODYRNN_SOUNDFONT"), *SOUNDFONTS):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ValueError("no General MIDI SoundFont found: apt-get install fluid-soundfont-gm, "
                     "or pass --soundfont FILE")


def check_wav_renderer(soundfont: str | None = None) -> tuple[str, Path]:
    """(fluidsynth executable, SoundFont), or a ValueError saying what to install."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise ValueError("--render wav needs FluidSynth: apt-get install fluidsynth fluid-soundfont-gm")
    return exe, find_soundfont(soundfont)


def render_wav(midi_path: str | os.PathLike, wav_path: str | os.PathLike,
               soundfont: str | None = None, sample_rate: int = 44100) -> Path:
    """Synthesise a MIDI file to a 16-bit WAV file with FluidSynth, peak at -1 dBFS."""
    exe, font = check_wav_renderer(soundfont)
    wav_path = Path(wav_path)
    with atomic_path(wav_path) as tmp:
        # absolute paths: a name such as "-F" can never be read as an option
        args = [exe, "-ni", "-F", str(Path(tmp).resolve()), "-T", "wav", "-O", "s16", "-r",
                str(sample_rate), str(Path(font).resolve()), str(Path(midi_path).resolve())]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise ValueError("fluidsynth did not finish in 10 minutes") from None
        if proc.returncode != 0 or not tmp.exists() or not tmp.stat().st_size:
            raise ValueError(f"fluidsynth failed: {(proc.stderr or proc.stdout).strip()[:200]}")
        normalise_wav(tmp)
    return wav_path


def normalise_wav(path: str | os.PathLike, peak_dbfs: float = PEAK_DBFS) -> float:
    """Scale a 16-bit WAV file in place so that its peak is ``peak_dbfs``; returns the gain
    applied (1.0 for silence). FluidSynth's default gain peaks 18-29 dB lower."""
    with wave.open(str(path), "rb") as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    if params.sampwidth != 2:
        raise ValueError(f"{path}: expected 16-bit samples, got {8 * params.sampwidth}-bit")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    peak = np.abs(samples).max() if samples.size else 0.0
    if peak == 0:
        return 1.0
    gain = 32767 * 10 ** (peak_dbfs / 20) / peak
    out = np.clip(np.rint(samples * gain), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(out.tobytes())
    return float(gain)


def bar_lines(tune: Tune, end_beats: float) -> tuple[list[float], list[float]]:
    """(bar starts, beats) in quarter-note beats up to ``end_beats``, from the tune's time
    signatures (compound meters such as 6/8 beat in dotted quarters)."""
    bars, beats = [], []
    sigs = tune.time_signatures or []
    for i, ts in enumerate(sigs):
        stop = sigs[i + 1].beat if i + 1 < len(sigs) else end_beats
        unit = 4.0 / ts.denominator
        if ts.denominator == 8 and ts.numerator % 3 == 0 and ts.numerator > 3:
            unit *= 3
        t = ts.beat
        while t < stop - 1e-9:
            bars.append(t)
            beats += [t + k * unit for k in range(1, int(round(ts.bar_beats / unit)))]
            t += ts.bar_beats
    return bars, [b for b in beats if b < end_beats]


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
    end = max(tune.end_beats, 1.0)
    bars, beats = bar_lines(tune, end)
    for b in bars:
        ax.axvline(b, color="#777777", lw=0.6, zorder=0)
    for b in beats:
        ax.axvline(b, color="#dddddd", lw=0.4, zorder=0)
    ax.set_xlim(0, end)
    low, high = min(pitches) - 1, max(pitches) + 1
    ax.set_ylim(low - 0.5, high + 0.5)
    every = 1 if high - low <= 24 else 2
    ticks = [p for p in range(low, high + 1) if p % 12 in MAJOR_SCALE][::every]  # the naturals
    ax.set_yticks(ticks, [pitch_name(p) for p in ticks], fontsize=7)
    label_every = max(1, len(bars) // 24)
    ax.set_xticks(bars[::label_every], [str(i + 1) for i in range(0, len(bars), label_every)],
                  fontsize=7)
    if split_beats is not None:
        ax.axvline(split_beats, color="k", lw=1.2, ls="--")
    ax.set_xlabel("bar")
    ax.set_ylabel("pitch")
    ax.set_title(title or "primer (green) and continuation (orange)")
    fig.tight_layout()
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png_path
