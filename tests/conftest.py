import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real corpora ($MELODYRNN_DATA); tests using it are skipped without it."""
    root = os.environ.get("MELODYRNN_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip("MELODYRNN_DATA is not set to the shared data folder")
    return Path(root)


def _motif_tune(seed: int):
    """Eight bars of 4/4: a two-bar motif, repeated with small random changes."""
    import numpy as np

    from melodyrnn.music.notes import TempoChange, TimeSignature, Track, Tune

    rng = np.random.default_rng(seed)
    motif = 60 + rng.choice([0, 2, 4, 5, 7, 9], size=8)
    pitches = np.concatenate([motif + (12 if i == 2 else 0) for i in range(4)])
    pitches[rng.integers(0, 32)] += 2
    start = np.arange(32) * 1.0
    track = Track("lead", 0, False, pitches.astype(np.int16), np.full(32, 90, np.int16),
                  start, start + 0.75, start / 2, (start + 0.75) / 2)
    return Tune([track], [TempoChange(0.0, 120.0)], [TimeSignature(0.0, 4, 4)])


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A small melody dataset made from tunes composed in code (60 files)."""
    from melodyrnn.core.registry import get_encoding
    from melodyrnn.music.ingest.build import IngestConfig, run_ingest
    from melodyrnn.music.midi_io import write_midi

    root = tmp_path_factory.mktemp("tiny")
    (root / "midi").mkdir()
    for i in range(60):
        write_midi(_motif_tune(i), root / "midi" / f"t{i:02d}.mid")
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
