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
