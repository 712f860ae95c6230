"""Shared fixtures, and the system tools some tests need.

A test that needs FluidSynth (with a General MIDI SoundFont), Chromium or jackd carries the
marker ``needs_fluidsynth``, ``needs_chromium`` or ``needs_jack`` and is skipped, with the
reason, where the tool is missing; the detection is the product's own where it has one.
"""

import os
import shutil
from pathlib import Path

import pytest

from tunes import motif_tune



def wav_renderer_missing() -> str | None:
    """Why ``--render wav`` cannot run here (no FluidSynth or no SoundFont), or None."""
    from melodyrnn.music.render import check_wav_renderer

    try:
        check_wav_renderer()
    except ValueError as e:
        return str(e)
    return None


def chromium_path() -> str | None:
    """Debian's chromium (the report page and the studio page in a real browser)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def jack_missing() -> str | None:
    """Why a ``jackd -d dummy`` server cannot run here (no jackd or no python-rtmidi), or None."""
    if shutil.which("jackd") is None:  # the test as melodyrnn.live.jack.dummy_server finds it
        return "no jackd (Debian's jackd2; .ci/run installs it)"
    try:
        import rtmidi  # noqa: F401
    except ImportError:
        return "python-rtmidi is not installed (pip install 'melodyrnn[live]')"
    return None


_NEEDS = {
    "needs_fluidsynth": wav_renderer_missing,
    "needs_chromium": lambda: None if chromium_path() else
    "Debian's chromium is not installed (.ci/run installs it)",  # as the fixture `chromium`
    "needs_jack": jack_missing,
}


def pytest_configure(config):
    for name in _NEEDS:
        config.addinivalue_line("markers", f"{name}: skipped where the tool is missing")


def pytest_collection_modifyitems(config, items):
    reasons = {}
    for item in items:
        for name, missing in _NEEDS.items():
            if item.get_closest_marker(name) is not None:
                if name not in reasons:
                    reasons[name] = missing()
                if reasons[name]:
                    item.add_marker(pytest.mark.skip(reason=f"{name}: {reasons[name]}"))


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's chromium (tests using it carry ``needs_chromium``)."""
    path = chromium_path()
    if path is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real corpora ($MELODYRNN_DATA); tests using it are skipped without it."""
    root = os.environ.get("MELODYRNN_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("MELODYRNN_DATA is not set to the shared data folder")
    return Path(root)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A small melody dataset made from tunes composed in code (60 files)."""
    from melodyrnn.core.registry import get_encoding
    from melodyrnn.music.ingest.build import IngestConfig, run_ingest
    from melodyrnn.music.midi_io import write_midi

    root = tmp_path_factory.mktemp("tiny")
    (root / "midi").mkdir()
    for i in range(60):
        write_midi(motif_tune(i), root / "midi" / f"t{i:02d}.mid")
    run_ingest(IngestConfig(inputs=(str(root / "midi"),), output=str(root / "ds"),
                            encoding=get_encoding("melody").to_dict(), valid=0.15, test=0.15,
                            workers=1, progress=False))
    return root / "ds"


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    """A small LSTM trained for a few dozen steps on ``tiny_dataset`` (its best.pt)."""
    from melodyrnn.core.tasks import train
    from melodyrnn.core.trainer import TrainConfig

    run = tmp_path_factory.mktemp("run")
    train(tiny_dataset, run, dict(kind="lstm", hidden=32, layers=1, embedding=16, lookback=True),
          TrainConfig(batch_size=8, seq_len=32, lr=1e-2, epochs=3, warmup_steps=5),
          progress=False)
    return run / "best.pt"
