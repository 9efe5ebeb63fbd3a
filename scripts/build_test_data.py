"""Build the committed test subset of the published tables in tests/data/published/.

Usage::

    python scripts/build_test_data.py --root /path/to/shared/data/published [--out tests/data/published]

``--root`` is a folder laid out like the published data (``pythia-v1/pythia-SIZE/SHOTS/*.json`` and
``obsscaling/*.csv``; see ``scripts/build_benchmarks_data.py`` for where they come from). The
script writes:

* ``obsscaling/*.csv``: the five Observational Scaling Laws tables, copied unchanged (80 kB in all,
  so the tests rebuild the bundled ``obsscaling-*`` tables exactly);
* ``pythia-v1/**/*.json``: every one of the 336 Pythia result files, with ``results`` and
  ``versions`` cut down to the tasks in :data:`PYTHIA_TASKS` (in their original order) and
  ``config`` unchanged, written as the originals are (``json.dumps(obj, indent=2)``, no trailing
  newline). Keeping every file keeps every checkpoint and the item counts recovered from the
  stderr (a median over all files of a task) equal to those of the bundled ``pythia-v1`` table;
* ``PROVENANCE.md``: source repositories, commits and licenses, what was cut and how, and the
  sha256 of every original file and of every file written.

The output is deterministic: running the script twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_benchmarks_data import SOURCES  # noqa: E402

from emergence._validation import sha256_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

#: Tasks kept in each Pythia file: the six with the test-set sizes the reader must recover from
#: the stderr, two more accuracy tasks, one MMLU subject and one CrowS-Pairs task (zero-shot
#: files only; it has other metrics than accuracy).
PYTHIA_TASKS = (
    "lambada_openai",
    "piqa",
    "arc_easy",
    "arc_challenge",
    "winogrande",
    "sciq",
    "logiqa",
    "wsc",
    "hendrycksTest-abstract_algebra",
    "crows_pairs_english",
)


def cut_pythia(obj: dict) -> dict:
    """The result file ``obj`` with only the tasks of :data:`PYTHIA_TASKS` (original key order)."""
    out = {}
    for key, value in obj.items():
        if key in ("results", "versions"):
            value = {t: v for t, v in value.items() if t in PYTHIA_TASKS}
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", required=True,
                    help="folder holding pythia-v1/ and obsscaling/ (the published tables)")
    ap.add_argument("--out", default=str(REPO / "tests" / "data" / "published"))
    args = ap.parse_args(argv)
    root, out = Path(args.root), Path(args.out)
    pythia = sorted((root / "pythia-v1").rglob("*.json"))
    obs = sorted((root / "obsscaling").glob("*.csv"))
    if not pythia or not obs:
        sys.exit(f"{root}: expected pythia-v1/**/*.json and obsscaling/*.csv under --root")
    for sub in ("pythia-v1", "obsscaling"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    rows = []  # (relative path, original sha256, written sha256, content)
    for f in obs:
        rel = f.relative_to(root)
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
        rows.append((rel.as_posix(), sha256_file(f), sha256_file(dst), "whole file"))
    for f in pythia:
        rel = f.relative_to(root)
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        obj = json.loads(f.read_text(encoding="utf-8"))
        cut = cut_pythia(obj)
        dst.write_text(json.dumps(cut, indent=2), encoding="utf-8")
        rows.append((rel.as_posix(), sha256_file(f), sha256_file(dst),
                     f"{len(cut['results'])} of {len(obj['results'])} tasks"))
    (out / "PROVENANCE.md").write_text(provenance(rows), encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{len(rows)} files written to {out} ({size / 1e3:.0f} kB)")


def provenance(rows: list[tuple[str, str, str, str]]) -> str:
    """Text of PROVENANCE.md for the written files."""
    py, obs = SOURCES["pythia-v1"], SOURCES["obsscaling"]
    n_py = sum(r[0].startswith("pythia-v1/") for r in rows)
    lines = [
        "# Test data: a committed subset of the published tables",
        "",
        "The tests read these files instead of the published tables themselves, so a fresh clone "
        "runs the test suite with nothing beside it. Built by",
        "",
        "    python scripts/build_test_data.py --root <folder with pythia-v1/ and obsscaling/>",
        "",
        "which is deterministic (a second run gives byte-identical files). Do not edit by hand.",
        "",
        "## Sources",
        "",
        f"- `obsscaling/`: {obs['paper']}. Repository {obs['repository']}, commit "
        f"{obs['commit']}, folder `{obs['folder']}`. License: {obs['license']}.",
        f"- `pythia-v1/`: {py['paper']}. Repository {py['repository']}, commit {py['commit']}, "
        f"folder `{py['folder']}`. License: {py['license']}.",
        "",
        "Both licenses allow redistribution with attribution (this file).",
        "",
        "## What was kept and how",
        "",
        "- `obsscaling/*.csv`: all five files, copied unchanged (the committed sha256 equals the "
        "original).",
        f"- `pythia-v1/**/*.json`: all {n_py} files (8 sizes; 27 zero-shot and 15 five-shot "
        "checkpoints each). In each, `results` and `versions` keep only these tasks, in the "
        "file's order: " + ", ".join(f"`{t}`" for t in PYTHIA_TASKS) + " (`crows_pairs_english` "
        "is in the zero-shot files only); `config` is unchanged; the file is written as the "
        "original is (`json.dumps(obj, indent=2)`). Every value is the original's.",
        "",
        "The tests check that every original sha256 below equals the one recorded for the bundled "
        "data in `benchmarks_data/PROVENANCE.json`, that every file here matches its committed "
        "sha256, and that the tables rebuilt from these files equal the bundled tables (the "
        "`obsscaling-*` tables whole, the `pythia-v1` table on the kept tasks).",
        "",
        "## Files",
        "",
        "| file | original sha256 | committed sha256 | kept |",
        "|---|---|---|---|",
    ]
    lines += [f"| {p} | {a} | {b} | {k} |" for p, a, b, k in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
