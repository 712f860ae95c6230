"""Renders: WAV peak normalisation, bar lines of piano rolls, the soundfont option."""

import wave

import numpy as np
import pytest

from melodyrnn.music.render import bar_lines, find_soundfont, normalise_wav, render_wav

from tunes import track, tune


def _write(path, samples, rate=8000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())


def _peak_dbfs(path):
    with wave.open(str(path), "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
    return 20 * np.log10(np.abs(x).max() / 32767)


def test_wav_is_normalised_to_minus_one_dbfs(tmp_path):
    quiet = (1000 * np.sin(np.arange(8000) / 5)).astype(int)  # about -30 dBFS
    _write(tmp_path / "a.wav", np.repeat(quiet, 2))
    gain = normalise_wav(tmp_path / "a.wav")
    assert gain == pytest.approx(32767 * 10 ** (-1 / 20) / np.abs(quiet).max(), rel=1e-6)
    assert _peak_dbfs(tmp_path / "a.wav") == pytest.approx(-1.0, abs=0.01)
    _write(tmp_path / "silent.wav", np.zeros(100, int))
    assert normalise_wav(tmp_path / "silent.wav") == 1.0


def test_bar_lines_follow_the_time_signatures():
    t = tune(track([(60, 0, 1)]), ts=((0.0, 6, 8), (6.0, 2, 4)))
    bars, beats = bar_lines(t, 10.0)
    assert bars == [0.0, 3.0, 6.0, 8.0]  # two bars of 6/8 (3 quarters), then 2/4
    assert beats == [1.5, 4.5, 7.0, 9.0]  # 6/8 beats in dotted quarters


def test_a_missing_soundfont_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="--soundfont"):
        find_soundfont(str(tmp_path / "none.sf2"))


@pytest.mark.needs_fluidsynth
def test_fluidsynth_render_peaks_near_minus_one_dbfs(tmp_path):
    from melodyrnn.music.midi_io import write_midi

    write_midi(tune(track([(60 + i, i * 0.5, i * 0.5 + 0.5) for i in range(8)])), tmp_path / "t.mid")
    render_wav(tmp_path / "t.mid", tmp_path / "t.wav", sample_rate=16000)
    assert _peak_dbfs(tmp_path / "t.wav") == pytest.approx(-1.0, abs=0.05)
