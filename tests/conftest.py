"""Shared fixtures: the published data folder and figure clean-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = Path(os.environ.get("EMERGENCE_PUBLISHED", REPO.parent / "shared" / "data" / "published"))


@pytest.fixture(scope="session")
def published() -> Path:
    """Folder of the published tables (pythia-v1/, obsscaling/)."""
    if not (PUBLISHED / "pythia-v1").is_dir():
        pytest.fail(f"published data not found at {PUBLISHED}; set EMERGENCE_PUBLISHED")
    return PUBLISHED


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
