"""Bundled real data: compact tidy copies of published per-scale tables.

=====================  =====================================================================
name                   content
=====================  =====================================================================
pythia-v1              Pythia suite (Biderman et al. 2023), lm-eval v0.3: 8 sizes x 27
                       zero-shot and 15 five-shot checkpoints, ~87 tasks.
obsscaling-base        Observational Scaling Laws (Ruan et al. 2024): 148 base models x 8
                       benchmarks, with family, size, tokens and FLOPs.
obsscaling-emergent    The same paper's BIG-bench "emergent" tasks (2-shot) for 84 models,
                       joined with the model metadata of obsscaling-base.
lab-gpt2               The model lab's GPT-2 family (6 sizes x 3 training runs x 6
                       checkpoints) on arithmetic: lm-evaluation-harness per-item logs,
                       re-scored when bundled (column ``run``).
=====================  =====================================================================

The copies are built from the published files by ``scripts/build_benchmarks_data.py`` (which
calls :func:`build`); provenance (repository, commit, license, sha256 of every source file and
every bundled file) is in ``PROVENANCE.json`` beside them.

Chance levels are declared per task, with their source, in ``chance.csv`` beside the data
(:func:`declared_chance`); :func:`load` puts them in a ``chance`` column of the accuracy rows,
so curves of a bundled dataset say ``chance_source="declared"``. The lab dataset needs none:
its per-item logs give the number of choices. Nothing is inferred from a task's name.

Examples
--------
>>> from emergence import datasets
>>> sorted(datasets.names())
['lab-gpt2', 'obsscaling-base', 'obsscaling-emergent', 'pythia-v1']
>>> df = datasets.load("obsscaling-emergent")
>>> int(df["model"].nunique())
84
>>> float(declared_chance("obsscaling-base").set_index("task").loc["HellaSwag", "chance"])
0.25
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd

from ._exceptions import EmergenceError
from ._validation import sha256_file
from .io.lm_eval import read_lm_eval
from .io.tables import infer_n_items, read_table
from .registry import find_metric_info
from .schema import COLUMNS, validate
from .sizes import moe_size

__all__ = ["names", "load", "info", "describe", "build", "data_dir", "declared_chance", "lab_dir",
           "load_lab", "verify_lab", "DATASETS"]

#: The model lab's bundled per-item table (emergence.lab.load_bundled); files in lab/.
LAB = "lab-gpt2"

#: name -> (file, description)
DATASETS: dict[str, tuple[str, str]] = {
    "pythia-v1": (
        "pythia-v1.csv.gz",
        "Pythia suite (Biderman et al. 2023) lm-eval v0.3 results: 8 sizes (70M-12B), 27 "
        "zero-shot and 15 five-shot checkpoints each, ~87 tasks",
    ),
    "obsscaling-base": (
        "obsscaling-base.csv.gz",
        "Observational Scaling Laws (Ruan et al. 2024): 148 base models, 8 benchmarks, "
        "with family, parameters, tokens and FLOPs",
    ),
    "obsscaling-emergent": (
        "obsscaling-emergent.csv.gz",
        "Observational Scaling Laws: BIG-bench tasks called emergent by Wei et al. (2022), "
        "2-shot, 84 models (exact match and BLEU for IPA transliteration)",
    ),
    LAB: (
        "lab/scores.csv.gz",
        "Model lab: 6 GPT-2 sizes (4k-340k parameters) x 3 training runs x 6 checkpoints "
        "trained on arithmetic, evaluated per item with lm-evaluation-harness 0.4.13, re-scored "
        "under exact match, edit distance and log-likelihood",
    ),
}

_OBS_META = {
    "family": "Model Family",
    "params": "Model Size (B)",
    "tokens": "Pretraining Data Size (T)",
    "flops": "FLOPs (1E21)",
}
_OBS_UNITS = {"params": 1e9, "tokens": 1e12, "flops": 1e21}


def data_dir() -> Path:
    """Folder holding the bundled files (``benchmarks_data/`` of the source tree).

    The folder beside this source tree comes first (a checkout reads its own data even when
    another checkout is installed in editable mode), then the installed package data.
    """
    p = Path(__file__).resolve().parent.parent / "benchmarks_data"
    if (p / "PROVENANCE.json").exists():
        return p
    try:
        p = Path(str(resources.files("emergence.benchmarks_data")))
        if (p / "PROVENANCE.json").exists():
            return p
    except ModuleNotFoundError:
        pass
    raise EmergenceError(
        "bundled data not found: reinstall the package (pip install .) or build it with "
        "python scripts/build_benchmarks_data.py."
    )


def names() -> list[str]:
    """Names of the bundled datasets."""
    return list(DATASETS)


def info() -> pd.DataFrame:
    """One row per bundled dataset: name, description, rows, models, tasks, source, sha256."""
    prov = _provenance()
    rows = []
    for name, (fname, desc) in DATASETS.items():
        entry = prov["outputs"].get(fname, {})
        if name == LAB:
            entry = _lab_entry()
        rows.append(
            {
                "name": name,
                "description": desc,
                "rows": entry.get("rows"),
                "models": entry.get("models"),
                "tasks": entry.get("tasks"),
                "source": entry.get("source"),
                "sha256": entry.get("sha256"),
            }
        )
    return pd.DataFrame(rows)


def describe() -> str:
    """Human-readable list of the datasets (used by ``emergence datasets``)."""
    lines = []
    for r in info().itertuples():
        rows = f"{r.rows:>7} rows" if isinstance(r.rows, int) else f"{r.rows:>12}"
        lines.append(f"{r.name:<22} {rows}  {r.models:>4} models  {r.tasks:>3} tasks")
        lines.append(f"    {r.description}")
        lines.append(f"    source: {r.source}")
    return "\n".join(lines)


def _lab_entry() -> dict:
    d = lab_dir()
    prov = json.loads((d / "PROVENANCE.json").read_text(encoding="utf-8"))
    ck = pd.read_csv(d / "checkpoints.csv")
    return {
        "rows": "per-item",
        "models": int(ck["model"].nunique()) if "model" in ck else None,
        "tasks": len(prov.get("preset", {}).get("tasks", [])),
        "source": f"{prov.get('command', 'emergence lab run --preset paper')} "
        f"({prov.get('run_date', '')[:10]}), this repository",
        "sha256": prov.get("files", {}).get("scores.csv.gz", {}).get("sha256"),
    }


def lab_dir() -> Path:
    """Folder of the bundled lab data (``benchmarks_data/lab``)."""
    d = data_dir() / "lab"
    if not (d / "PROVENANCE.json").exists():
        raise EmergenceError(
            f"bundled lab data not found ({d / 'PROVENANCE.json'}); reinstall the package or "
            "rebuild it with python scripts/build_lab_data.py --run <lab output folder>."
        )
    return d


def verify_lab(folder: str | Path, files: list[str] | None = None) -> None:
    """Check the sha256 of lab bundle files against the ``PROVENANCE.json`` beside them.

    Raises
    ------
    EmergenceError
        A file is listed in ``PROVENANCE.json`` and its content changed.
    """
    d = Path(folder)
    prov = json.loads((d / "PROVENANCE.json").read_text(encoding="utf-8"))
    listed = prov.get("files", {})
    for name in files if files is not None else list(listed):
        want = listed.get(name, {}).get("sha256")
        if want and sha256_file(d / name) != want:
            raise EmergenceError(
                f"{d / name}: sha256 does not match PROVENANCE.json; the file was changed. "
                "Rebuild it with scripts/build_lab_data.py or restore it."
            )


def load_lab(*, verify: bool = True, path: str | Path | None = None) -> pd.DataFrame:
    """The lab's tidy per-item table: ``scores.csv.gz`` joined with ``checkpoints.csv``.

    Reads and joins; nothing is re-scored (the bundle holds scores). ``path`` points at another
    bundle folder built by ``scripts/build_lab_data.py``.
    """
    d = Path(path) if path is not None else lab_dir()
    if verify:
        verify_lab(d, ["scores.csv.gz", "checkpoints.csv"])
    sc = pd.read_csv(d / "scores.csv.gz",
                     dtype={"run": "string", "model": "string", "task": "string",
                            "metric": "string", "item": "string", "value": "float64",
                            "step": "int64", "answer_len": "int64", "note": "string",
                            "n_choices": "Int64", "target_tokens": "Int64"},
                     keep_default_na=False,
                     na_values={c: [""] for c in ("value", "note", "n_choices", "target_tokens")})
    ck = pd.read_csv(d / "checkpoints.csv", dtype={"run": "string", "model": "string"})
    scale = ["params", "nonembedding_params", "tokens", "flops"]
    df = sc.merge(ck[["run", "model", "step", *scale]], on=["run", "model", "step"],
                  how="left", validate="many_to_one")
    if df["params"].isna().any():
        bad = df.loc[df["params"].isna(), ["run", "model", "step"]].drop_duplicates()
        raise EmergenceError(f"{d / 'checkpoints.csv'}: no row for checkpoint(s) "
                             f"{bad.head(3).to_dict('records')} of scores.csv.gz.")
    df["family"] = LAB
    df["shots"] = 0
    df["source"] = "lab/scores.csv.gz"
    df["answer_len"] = df["answer_len"].astype("Int64")
    return validate(df, name=str(d / "scores.csv.gz"))


def _provenance() -> dict:
    with open(data_dir() / "PROVENANCE.json", encoding="utf-8") as fh:
        return json.load(fh)


def load(name: str, *, verify: bool = True) -> pd.DataFrame:
    """Load a bundled dataset as a tidy table.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    verify : bool, default=True
        Check the file's sha256 against ``PROVENANCE.json``.

    Returns
    -------
    DataFrame
        Tidy table (see :mod:`emergence.schema`).
    """
    if name not in DATASETS:
        raise EmergenceError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}.")
    if name == LAB:
        return load_lab(verify=verify)
    fname = DATASETS[name][0]
    path = data_dir() / fname
    if verify:
        want = _provenance()["outputs"][fname]["sha256"]
        got = sha256_file(path)
        if got != want:
            raise EmergenceError(
                f"{path}: checksum {got[:12]}... does not match PROVENANCE.json ({want[:12]}...). "
                "Rebuild with python scripts/build_benchmarks_data.py."
            )
    dtypes = {c: d for c, (d, _) in COLUMNS.items() if d == "string"}
    df = pd.read_csv(path, dtype=dtypes)
    return validate(_with_chance(df, name), name=str(path))


def declared_chance(name: str) -> pd.DataFrame:
    """Chance levels declared for a bundled dataset's tasks: ``task, chance, source``.

    A task listed with NaN chance is one whose chance level is stated to be unknown (the
    source says why). Tasks not listed have none declared.

    Examples
    --------
    >>> t = declared_chance("pythia-v1").set_index("task")
    >>> float(t.loc["piqa", "chance"]), t.loc["piqa", "source"][:4]
    (0.5, 'PIQA')
    """
    if name not in DATASETS:
        raise EmergenceError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}.")
    tab = pd.read_csv(data_dir() / "chance.csv", dtype={"dataset": str, "task": str, "source": str})
    return tab[tab["dataset"] == name].drop(columns="dataset").reset_index(drop=True)


def _with_chance(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Put the declared chance of each task in a ``chance`` column (accuracy-like rows only)."""
    tab = declared_chance(name).dropna(subset=["chance"])
    if not len(tab):
        return df
    latents = {m: getattr(find_metric_info(m), "latent", None) for m in df["metric"].unique()}
    applies = df["metric"].map(latents).isin(["multiple_choice", "exact_match"])
    chance = df["task"].map(dict(zip(tab["task"], tab["chance"], strict=True)))
    return df.assign(chance=chance.where(applies).astype("float64"))


def _relative_source(df: pd.DataFrame, root: Path) -> pd.DataFrame:
    prefix = str(root) + "/"
    df["source"] = df["source"].astype(str).str.replace(prefix, "", regex=False)
    return df


def build_pythia(root: str | Path) -> pd.DataFrame:
    """Tidy table of ``<root>/pythia-v1`` (all sizes, checkpoints, shots and tasks)."""
    root = Path(root)
    df = read_lm_eval(root / "pythia-v1")
    return _relative_source(df, root)


def build_obsscaling_base(root: str | Path) -> pd.DataFrame:
    """Tidy table of ``<root>/obsscaling/base_llm_benchmark_eval.csv``.

    Mixture-of-experts models get total and active parameters from
    :data:`emergence.sizes.MOE_SIZES` (the source column mixes the two conventions).
    """
    root = Path(root)
    cols = {"model": "Model", **_OBS_META}
    df = read_table(root / "obsscaling" / "base_llm_benchmark_eval.csv", layout="wide",
                    columns=cols, metric="acc", units=_OBS_UNITS)
    return _relative_source(_infer_counts(_apply_corrections(_fix_moe(df))), root)


def build_obsscaling_emergent(root: str | Path) -> pd.DataFrame:
    """Tidy table of the emergent-capability CSV joined with the base table's metadata."""
    root = Path(root)
    obs = root / "obsscaling"
    df = read_table(
        obs / "base_llm_emergent_capability_eval.csv",
        layout="wide",
        columns={"model": "Model"},
        column_pattern=r"(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|exact_match|bleu)",
        metadata=obs / "base_llm_benchmark_eval.csv",
        metadata_columns=_OBS_META,
        on="Model",
        units=_OBS_UNITS,
    )
    return _relative_source(_infer_counts(_apply_corrections(_fix_moe(df))), root)


def _infer_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Set ``n_items`` where every accuracy of a task is a multiple of 1/n (see infer_n_items)."""
    for (_task, metric), idx in df.groupby(["task", "metric"]).groups.items():
        if metric == "bleu":
            continue
        n = infer_n_items(df.loc[idx, "value"].to_numpy(float))
        if n is not None:
            df.loc[idx, "n_items"] = n
    return df


#: Corrections of published metadata: model -> (column, corrected value, note).
CORRECTIONS: dict[str, list[tuple[str, float, str]]] = {
    "cerebras/btlm-3b-8k-base": [
        ("tokens", 627e9, "tokens corrected: the source lists 627 T; BTLM-3B-8K was trained on "
                          "627B tokens (model card)"),
        ("flops", 11.286e21, "FLOPs corrected: the source lists 11286e21 (1000x, from the token "
                             "count); 6 x 3e9 x 627e9 = 1.13e22"),
    ],
}


def _apply_corrections(df: pd.DataFrame) -> pd.DataFrame:
    for model, fixes in CORRECTIONS.items():
        m = df["model"] == model
        if not m.any():
            continue
        notes = []
        for col, value, note in fixes:
            df.loc[m, col] = value
            notes.append(note)
        text = "; ".join(notes)
        df.loc[m, "note"] = df.loc[m, "note"].fillna(text).where(df.loc[m, "note"].isna(),
                                                                 df.loc[m, "note"] + "; " + text)
    return df


def _fix_moe(df: pd.DataFrame) -> pd.DataFrame:
    for model in df["model"].unique():
        sizes = moe_size(str(model))
        if sizes is not None:
            m = df["model"] == model
            df.loc[m, "params"] = sizes[0]
            df.loc[m, "active_params"] = sizes[1]
    return df


_BUILDERS = {
    "pythia-v1": build_pythia,
    "obsscaling-base": build_obsscaling_base,
    "obsscaling-emergent": build_obsscaling_emergent,
}


def build(name: str, root: str | Path) -> pd.DataFrame:
    """Build dataset ``name`` from the published files under ``root``.

    ``root`` is the folder holding ``pythia-v1/`` and ``obsscaling/`` (in this repository's
    layout: ``../shared/data/published``).
    """
    if name not in _BUILDERS:
        raise EmergenceError(f"unknown dataset {name!r}; available: {', '.join(_BUILDERS)}.")
    return _BUILDERS[name](root)
