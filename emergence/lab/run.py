"""End to end: train the lab family, evaluate it with the harness, re-score, test, report.

:func:`run_lab` is what ``emergence lab run`` calls. The output folder holds everything:

============================  ============================================================
``tasks/``, ``data/``         lm-eval task YAMLs and the test items (JSONL)
``models/<size>/step_N/``     checkpoints (``save_pretrained``) with ``scale.json``
``harness/<size>/step_N/``    harness output as written: ``results_*.json`` and
                              ``samples_<task>_*.jsonl`` (``--log_samples``)
``scores.csv.gz``             tidy per-item table re-scored under every metric
``curves_size.csv``           per-scale values across size (final checkpoints)
``curves_step.csv``           per-checkpoint values across training, per size
``verdicts_size.csv`` ...     verdict tables (per curve and per group)
``mirage.csv``                observed vs p^L-predicted exact match per size and task
``figures/*.png``             exact match beside edit distance and log-likelihood
``lab.json``                  preset, seed, versions, timings
============================  ============================================================

Training and evaluation skip what already exists, so an interrupted run keeps its finished sizes
and a rerun resumes.
"""

from __future__ import annotations

import json
import platform
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .tasks import LL_SUFFIX, MC_SUFFIX, ArithmeticSuite, write_task_files

__all__ = [
    "Preset",
    "PRESETS",
    "FAMILY",
    "LabResult",
    "run_lab",
    "records_from_harness",
    "analyze_records",
    "MAIN_METRICS",
    "mirage_table",
    "run_label",
    "train_seeds",
]

#: Family name of the lab models in every table.
FAMILY = "lab-gpt2"

#: Metrics the curves, verdicts and figures use, per kind of task.
MAIN_METRICS: dict[str, tuple[str, ...]] = {
    "generate_until": ("exact_match", "token_edit_distance", "target_loglik"),
    "multiple_choice": ("multiple_choice_grade", "brier_score", "target_loglik"),
}


@dataclass(frozen=True)
class Preset:
    """A lab configuration: model sizes, training recipe, tasks and evaluation size.

    ``sizes`` holds ``(name, n_layer, n_embd, n_head)`` tuples; ``checkpoints`` are fractions of
    the per-size token budget ``tokens``; ``seeds`` is the number of independent training runs
    per size (different initialisation and data order, same items and token budget).
    """

    name: str
    sizes: tuple[tuple[str, int, int, int], ...]
    tokens: int
    checkpoints: tuple[float, ...]
    tasks: tuple[str, ...]
    mc_task: str
    n_test: int
    batch_size: int = 64
    lr: float = 2e-3
    eval_batch_size: int = 64
    n_boot: int = 999
    seeds: int = 1


PRESETS: dict[str, Preset] = {
    "small": Preset(
        name="small",
        sizes=(("L1-W16", 1, 16, 2), ("L1-W32", 1, 32, 2), ("L2-W48", 2, 48, 2)),
        tokens=150_000,
        checkpoints=(0.5, 1.0),
        tasks=("add_2d", "mul_2x1"),
        mc_task="add_2d",
        n_test=40,
        n_boot=199,
    ),
    "paper": Preset(
        name="paper",
        sizes=(
            ("L1-W16", 1, 16, 2),
            ("L1-W24", 1, 24, 2),
            ("L2-W32", 2, 32, 2),
            ("L2-W48", 2, 48, 2),
            ("L3-W64", 3, 64, 4),
            ("L3-W96", 3, 96, 4),
        ),
        tokens=3_000_000,
        checkpoints=(1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0),
        tasks=("add_2d", "add_3d", "add_4d", "mul_2x1", "mul_2x2"),
        mc_task="add_3d",
        n_test=200,
        seeds=3,
    ),
}


@dataclass(frozen=True)
class LabResult:
    """Result of :func:`run_lab` (or of :func:`analyze_records`).

    Attributes
    ----------
    out : Path or None
        Output folder.
    table : DataFrame
        Tidy per-item table (:mod:`emergence.schema`) with an extra ``answer_len`` column.
    curves_size, curves_step : CurveSet
        Curves across size (final checkpoints, ``x="params"``) and across training
        (``x="tokens"``, one curve per size).
    verdict_size, verdict_step : VerdictTable or None
        Verdicts (None when ``verdicts=False``).
    timings : dict
        Seconds per phase.
    """

    out: Path | None
    table: pd.DataFrame
    curves_size: object
    curves_step: object
    verdict_size: object | None = None
    verdict_step: object | None = None
    timings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy per-item table."""
        return self.table.copy()

    def verdicts(self) -> pd.DataFrame:
        """Group verdicts across size and across steps in one table (column ``along``)."""
        parts = []
        for along, vt in (("size", self.verdict_size), ("step", self.verdict_step)):
            if vt is not None and len(vt.groups):
                parts.append(vt.verdicts().assign(along=along))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def summary(self) -> str:
        """Sizes, checkpoints, items, and verdict counts."""
        t = self.table
        lines = [
            f"lab: {t['model'].nunique()} sizes, {t['step'].nunique()} checkpoint steps, "
            f"{t['task'].nunique()} tasks, {len(t)} per-item scores",
            f"curves: {len(self.curves_size)} across size, {len(self.curves_step)} across steps",
        ]
        v = self.verdicts()
        if len(v):
            for (along, verdict), n in v.groupby(["along", "verdict"]).size().items():
                lines.append(f"  along {along}: {verdict}: {n}")
        if self.timings:
            lines.append("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                     self.timings.items()))
        return "\n".join(lines)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    from importlib.metadata import PackageNotFoundError, version

    for pkg in ("emergence-audit", "torch", "transformers", "tokenizers", "lm_eval", "datasets",
                "numpy", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _suite(preset: Preset, seed: int) -> ArithmeticSuite:
    return ArithmeticSuite.build(list(preset.tasks), n_test=preset.n_test, seed=seed,
                                 mc_task=preset.mc_task)


def answer_lengths(suite: ArithmeticSuite) -> pd.DataFrame:
    """Answer length (tokens) of every test item: columns ``task``, ``item``, ``answer_len``."""
    rows = []
    for task, docs in suite.test.items():
        base = task[: -len(MC_SUFFIX)] if task.endswith(MC_SUFFIX) else task
        for i, d in enumerate(docs):
            for t in (task,) if task != base else (task, task + LL_SUFFIX):
                rows.append({"task": t, "item": str(i), "answer_len": int(d["L"])})
    return pd.DataFrame(rows)


def records_from_harness(out: str | Path, scales: pd.DataFrame) -> pd.DataFrame:
    """Read every finished harness folder under ``out/harness`` into per-item records.

    Parameters
    ----------
    out : path
        The lab output folder.
    scales : DataFrame
        One row per checkpoint: ``model``, ``step``, ``params``, ``nonembedding_params``,
        ``tokens``, ``flops``, ``path`` (the harness folder) and optionally ``run`` (the
        training run, copied to every record).

    Returns
    -------
    DataFrame
        Records (:mod:`emergence.io.records`) with target log-likelihoods of the generative tasks
        attached from their ``_ll`` companions, ``family`` and ``nonembedding_params``.
    """
    from ..io.samples import load_samples
    from ..scoring import attach_loglik

    frames = []
    for row in scales.itertuples(index=False):
        rec = load_samples(
            row.path,
            model=row.model,
            step=int(row.step),
            params=float(row.params),
            tokens=float(row.tokens),
            flops=float(row.flops),
            family=FAMILY,
            tokenizer=list,
        )
        rec["nonembedding_params"] = float(row.nonembedding_params)
        if "run" in scales.columns:
            rec["run"] = str(row.run)
        frames.append(rec)
    if not frames:
        raise ValueError(f"{out}: no finished harness runs under harness/.")
    rec = pd.concat(frames, ignore_index=True)
    tasks = set(rec["task"])
    for t in sorted(tasks):
        if t + LL_SUFFIX in tasks:
            rec = attach_loglik(rec, to_task=t, from_task=t + LL_SUFFIX)
    return rec


def analyze_records(
    records: pd.DataFrame,
    *,
    lengths: pd.DataFrame | None = None,
    seed: int = 0,
    verdicts: bool = True,
    n_boot: int = 999,
    progress: bool = False,
) -> LabResult:
    """Re-score records, build curves across size and steps, and run the verdicts.

    Parameters
    ----------
    records : DataFrame
        Per-item records of the lab (from :func:`records_from_harness` or the bundled data).
    lengths : DataFrame, optional
        ``task``, ``item``, ``answer_len`` (added to the table).
    seed : int, default=0
        Seed of the verdict bootstraps.
    verdicts : bool, default=True
    n_boot : int, default=999
    progress : bool, default=False

    Returns
    -------
    LabResult

    Examples
    --------
    >>> from emergence.lab import load_bundled
    >>> rec = load_bundled(records=True)
    >>> rec = rec[rec["task"].isin(["add_2d", "add_2d_ll"])]
    >>> res = analyze_records(rec, verdicts=False)
    >>> len(res.curves_size), res.curves_size.curves[0].n_scales
    (3, 7)
    """
    from ..scoring import rescore
    from ..tidy import extract_curves

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = rescore(records, tokenizer="characters", family=FAMILY)
    ne = records.drop_duplicates(["model"]).set_index("model")["nonembedding_params"]
    table["nonembedding_params"] = table["model"].map(ne).astype("float64")
    if lengths is not None:
        table = table.merge(lengths, on=["task", "item"], how="left")
    keep = _main_mask(table)
    main = table[keep]
    curves_size = extract_curves(main, x="params", along="size", on_mismatch="error")
    curves_step = extract_curves(main, x="tokens", along="step", on_mismatch="error")
    timings = {"rescore_s": time.perf_counter() - t0}
    vs = vstep = None
    if verdicts:
        from ..verdict import assess

        t1 = time.perf_counter()
        vs = assess(curves_size, seed=seed, n_boot=n_boot, progress=progress)
        vstep = assess(curves_step, seed=seed, n_boot=n_boot, progress=progress)
        timings["verdict_s"] = time.perf_counter() - t1
    return LabResult(None, table, curves_size, curves_step, vs, vstep, timings)


def mirage_table(records: pd.DataFrame, *, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Mirage check (exact match ~ p^L, edit distance ~ L(1-p)) per generative task, across size.

    Runs :func:`emergence.mirage.mirage_check` on the final checkpoints with characters as tokens.

    Parameters
    ----------
    records : DataFrame
        Lab records with target log-likelihoods attached (:func:`records_from_harness`).
    seed : int, default=0
    n_boot : int, default=1000

    Returns
    -------
    DataFrame
        The per-size tables of every task stacked, with ``task`` and ``consistent`` (every
        simultaneous interval covers 0) columns.

    Examples
    --------
    >>> from emergence.lab import load_bundled
    >>> rec = load_bundled(records=True)
    >>> t = mirage_table(rec[rec["task"] == "add_2d"], n_boot=200)
    >>> t["task"].unique().tolist(), len(t)
    (['add_2d'], 7)
    """
    from ..mirage import mirage_check

    last = records["step"] == records.groupby("model")["step"].transform("max")
    final = records[last]
    gen_tasks = sorted(set(final.loc[final["output_type"] == "generate_until", "task"]))
    parts = []
    for task in gen_tasks:
        res = mirage_check(final, task=task, tokenizer="characters", x="params",
                           n_boot=n_boot, seed=seed)
        parts.append(res.to_frame().assign(task=task, consistent=res.consistent))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _main_mask(table: pd.DataFrame) -> pd.Series:
    """Rows used for curves: generative and multiple-choice tasks under the main metrics."""
    is_ll = table["task"].str.endswith(LL_SUFFIX)
    is_mc = table["task"].str.endswith(MC_SUFFIX)
    gen_ok = ~is_ll & ~is_mc & table["metric"].isin(MAIN_METRICS["generate_until"])
    mc_ok = is_mc & table["metric"].isin(MAIN_METRICS["multiple_choice"])
    return gen_ok | mc_ok


def run_label(train_seed: int) -> str:
    """The ``run`` label of a training run: ``"seed<training seed>"``.

    Examples
    --------
    >>> run_label(2)
    'seed2'
    """
    return f"seed{int(train_seed)}"


def train_seeds(seed: int, seeds: int) -> list[int]:
    """Training seeds of ``seeds`` runs per size under the base ``seed``: ``seed, seed+1, ...``.

    Examples
    --------
    >>> train_seeds(0, 3)
    [0, 1, 2]
    """
    if int(seeds) < 1:
        raise ValueError(f"`seeds` must be at least 1 (runs per size); got {seeds}.")
    return [int(seed) + k for k in range(int(seeds))]


def run_lab(
    preset: str | Preset = "small",
    out: str | Path = "lab-out",
    *,
    seed: int = 0,
    seeds: int | None = None,
    threads: int = 1,
    verdicts: bool = True,
    figures: bool = True,
    progress: bool = True,
    command: str | None = None,
) -> LabResult:
    """Train, evaluate with lm-evaluation-harness, re-score, test and write the lab report.

    Parameters
    ----------
    preset : {"small", "paper"} or Preset, default="small"
        ``small``: 3 sizes, 2 checkpoints, 2 tasks, 1 run per size (a few minutes). ``paper``:
        6 sizes (4k-340k parameters), 6 checkpoints each, 5 tasks plus multiple choice, 3
        runs per size.
    out : path, default="lab-out"
        Output folder (created; existing checkpoints and harness runs are reused).
    seed : int, default=0
        Seed of the test items, the harness, the verdict bootstraps and the first training run.
    seeds : int, optional
        Independent training runs per size (default: the preset's). Run ``k`` uses training seed
        ``seed + k`` (initialisation and data order); every run sees the same test items and the
        same number of training steps. Each run is recorded in the ``run`` column
        (``"seed<training seed>"``).
    threads : int, default=1
        torch CPU threads.
    verdicts, figures : bool, default=True
    progress : bool, default=True
        tqdm progress bars.
    command : str, optional
        The command line that started the run, kept in ``lab.json``.

    Returns
    -------
    LabResult

    Examples
    --------
    >>> res = run_lab("small", "lab-small", seed=0, seeds=2)        # doctest: +SKIP
    >>> print(res.summary())                                        # doctest: +SKIP
    """
    from . import harness, models

    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}.")
        preset = PRESETS[preset]
    n_runs = preset.seeds if seeds is None else int(seeds)
    run_seeds = train_seeds(seed, n_runs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    suite = _suite(preset, seed)
    names = write_task_files(suite, out)
    meta_path = out / "lab.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta.update({"preset": asdict(preset), "seed": seed, "seeds": n_runs,
                 "train_seeds": run_seeds, "threads": threads, "versions": _versions(),
                 "tasks": names})
    if command:
        meta["command"] = command
    meta_path.write_text(json.dumps(meta, indent=2))

    from tqdm.auto import tqdm

    timings = {"train_s": 0.0, "eval_s": 0.0}
    scales = []
    jobs = [(ts, sz) for ts in run_seeds for sz in preset.sizes]
    bar = tqdm(jobs, desc="runs x sizes", unit="size", disable=not progress)
    for train_seed, (name, n_layer, n_embd, n_head) in bar:
        run = run_label(train_seed)
        bar.set_postfix(run=run, size=name)
        cfg = models.TrainConfig(tokens=preset.tokens, checkpoints=preset.checkpoints,
                                 batch_size=preset.batch_size, lr=preset.lr, seed=train_seed,
                                 budget_seed=seed, threads=threads)
        size = models.ModelSize(name, n_layer, n_embd, n_head)
        t = time.perf_counter()
        ckpts = models.train_size(size, suite, cfg, out / "models" / run, progress=progress)
        timings["train_s"] += time.perf_counter() - t
        t = time.perf_counter()
        for ck in tqdm(ckpts, desc=f"evaluate {run} {name}", unit="ckpt", leave=False,
                       disable=not progress):
            hdir = out / "harness" / run / name / ck.name
            harness.evaluate_checkpoint(ck, out / "tasks", names, hdir,
                                        batch_size=preset.eval_batch_size, threads=threads,
                                        seed=seed)
            sc = models.read_scale(ck)
            scales.append({"model": name, "run": run, "step": sc["step"],
                           "params": sc["params"],
                           "nonembedding_params": sc["nonembedding_params"],
                           "tokens": sc["tokens"], "flops": sc["flops"], "path": str(hdir)})
        timings["eval_s"] += time.perf_counter() - t
        timings["train_eval_wall_s"] = time.perf_counter() - t_start
        meta["timings"] = {k: round(v, 1) for k, v in timings.items()}
        meta_path.write_text(json.dumps(meta, indent=2))
    bar.close()
    meta["timings"] = {k: round(v, 1) for k, v in timings.items()}
    meta_path.write_text(json.dumps(meta, indent=2))
    scales_df = pd.DataFrame(scales)
    scales_df.drop(columns="path").to_csv(out / "checkpoints.csv", index=False)

    rec = records_from_harness(out, scales_df)
    res = analyze_records(rec, lengths=answer_lengths(suite), seed=seed, verdicts=verdicts,
                          n_boot=preset.n_boot, progress=progress)
    timings.update(res.timings)
    res.table.to_csv(out / "scores.csv.gz", index=False)
    res.curves_size.to_frame().to_csv(out / "curves_size.csv", index=False)
    res.curves_step.to_frame().to_csv(out / "curves_step.csv", index=False)
    if res.verdict_size is not None:
        res.verdict_size.to_frame().to_csv(out / "verdicts_size_curves.csv", index=False)
        res.verdict_size.verdicts().to_csv(out / "verdicts_size.csv", index=False)
    if res.verdict_step is not None:
        res.verdict_step.to_frame().to_csv(out / "verdicts_step_curves.csv", index=False)
        res.verdict_step.verdicts().to_csv(out / "verdicts_step.csv", index=False)
    mirage_table(rec, seed=seed).to_csv(out / "mirage.csv", index=False)
    if figures:
        t = time.perf_counter()
        from .figures import write_figures

        write_figures(res, out / "figures")
        timings["figures_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    meta["timings"] = {k: round(v, 1) for k, v in timings.items()}
    meta.setdefault("runs", []).append({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                        **meta["timings"]})
    meta_path.write_text(json.dumps(meta, indent=2))
    return LabResult(out, res.table, res.curves_size, res.curves_step, res.verdict_size,
                     res.verdict_step, timings)
