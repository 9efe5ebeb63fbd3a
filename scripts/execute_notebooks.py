"""Execute the notebooks in place so that the committed copies show their outputs.

Usage::

    python scripts/execute_notebooks.py [notebooks/01_pythia_rescale.ipynb ...]

CI executes the same notebooks under ``pytest --nbmake`` (without writing them back).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or sorted((REPO / "notebooks").glob("*.ipynb"))
    for f in files:
        t = time.time()
        nb = nbformat.read(f, as_version=4)
        NotebookClient(nb, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(f.parent)}}).execute()
        nbformat.write(nb, f)
        print(f"{f.name}: executed in {time.time() - t:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
