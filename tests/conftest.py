"""Shared fixtures: the committed subset of the published tables and figure clean-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
#: Committed subset of the published tables (see its PROVENANCE.md); tests read nothing outside
#: the repository.
PUBLISHED_SUBSET = REPO / "tests" / "data" / "published"


@pytest.fixture(scope="session")
def published_subset() -> Path:
    """Folder laid out like the published tables (pythia-v1/, obsscaling/), inside the repository:
    the five obsscaling tables whole and all 336 Pythia files cut to ten tasks."""
    return PUBLISHED_SUBSET


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
