"""Shared fixtures: the committed subset of the published tables, a guard against reading the data
folder beside the repository, and figure clean-up."""

from __future__ import annotations

import importlib.util
import os
import sys
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


@pytest.fixture(scope="session")
def calibration():
    """``benchmarks/calibration.py`` as a module (``benchmarks/`` is not a package)."""
    if "calibration" in sys.modules:
        return sys.modules["calibration"]
    spec = importlib.util.spec_from_file_location("calibration",
                                                  REPO / "benchmarks" / "calibration.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["calibration"] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


#: The published data beside the checkout (``../shared``) that tests must not read: a fresh clone
#: has nothing there.
_BESIDE = str(REPO.parent / "shared")
_reads_beside: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], str | Path):
        path = os.path.abspath(args[0])
        if path == _BESIDE or path.startswith(_BESIDE + os.sep):
            _reads_beside.append(path)


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def _reads_only_the_repository(request):
    n = len(_reads_beside)
    yield
    if len(_reads_beside) > n:
        pytest.fail(f"{request.node.nodeid} read {_reads_beside[n]}, outside the repository. Tests "
                    "read only files inside it: tests/data/ (fixture published_subset), "
                    "tests/fixtures/ or the bundled data (emergence.datasets).", pytrace=False)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
