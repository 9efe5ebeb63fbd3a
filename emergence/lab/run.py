"""End to end: train the lab family, evaluate it with the harness, re-score, test, report.

:func:`run_lab` is what ``emergence lab run`` calls. The output folder holds everything:

==================================  ======================================================
``tasks/``, ``data/``               lm-eval task YAMLs and the test items (JSONL)
``models/<run>/<size>/step_N/``     checkpoints (``save_pretrained``) with ``scale.json``
``harness/<run>/<size>/step_N/``    harness output as written: ``results_*.json`` and
                                    ``samples_<task>_*.jsonl`` (``--log_samples``)
``checkpoints.csv``                 run, size, step, parameters, tokens, FLOPs
``scores.csv.gz``                   tidy per-item table re-scored under every metric
``curves_size.csv``                 per-scale values across size (final checkpoints, mean
                                    over runs, with the between-run sd)
``curves_step.csv``                 per-checkpoint values across training, per size
``verdicts_size.csv`` ...           verdict tables (per curve and per group)
``verdicts_size_runs.csv``          verdicts across size of each run on its own
``run_variance.csv``                between-run and item-level variance per size
``mirage.csv``                      observed vs p^L-predicted exact match per run, size, task
``figures/*.png``                   exact match beside edit distance and log-likelihood
``lab.json``                        command, preset, seeds, versions, timings of every
                                    session (a resumed run adds a session)
==================================  ======================================================

``<run>`` is ``seed<training seed>``: ``--seeds K`` trains K runs per size with training seeds
``SEED .. SEED+K-1`` (initialisation and data order); every run sees the same test items and
the same number of training steps. Training and evaluation skip what already exists, so an
interrupted run keeps its finished runs and sizes and a rerun resumes.
"""

from __future__ import annotations

import json
import platform
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .._defaults import N_BOOT
from .tasks import LL_SUFFIX, MC_SUFFIX, ArithmeticSuite, write_task_files

__all__ = [
    "Preset",
    "PRESETS",
    "FAMILY",
    "LabResult",
    "run_lab",
    "records_from_harness",
    "analyze_records",
    "analyze_table",
    "score_records",
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
    n_boot: int = N_BOOT
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
    """Result of :func:`run_lab` (or of :func:`analyze_table` / :func:`analyze_records`).

    Attributes
    ----------
    out : Path or None
        Output folder.
    table : DataFrame
        Tidy per-item table (:mod:`emergence.schema`) with the training run in ``run`` and an
        extra ``answer_len`` column.
    curves_size, curves_step : CurveSet
        Curves across size (final checkpoints, ``x="params"``) and across training
        (``x="tokens"``, one curve per size); with several runs per size each point is the mean
        over the runs and ``Curve.runs`` holds the per-run values.
    verdict_size, verdict_step : VerdictTable or None
        Verdicts of those curves (None when ``verdicts=False``).
    timings : dict
        Seconds per phase.
    curves_runs : CurveSet or None
        Curves across size of each run on its own (``Curve.run`` set).
    verdict_runs : DataFrame or None
        Group verdicts across size of each run on its own (column ``run``): does one training
        run per size reach the verdict of the mean?
    run_variance : DataFrame or None
        Between-run and item-level variance per size, task and metric
        (:func:`emergence.lab.variance.run_variance`).
    """

    out: Path | None
    table: pd.DataFrame
    curves_size: object
    curves_step: object
    verdict_size: object | None = None
    verdict_step: object | None = None
    timings: dict = field(default_factory=dict)
    curves_runs: object | None = None
    verdict_runs: pd.DataFrame | None = None
    run_variance: pd.DataFrame | None = None

    @property
    def runs(self) -> list[str]:
        """Run labels of the table."""
        return sorted(self.table["run"].dropna().unique().tolist())

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
        """Sizes, runs, checkpoints, items, verdict counts and between-run variance."""
        t = self.table
        lines = [
            f"lab: {t['model'].nunique()} sizes x {len(self.runs)} run(s), "
            f"{t['step'].nunique()} checkpoint steps, {t['task'].nunique()} tasks, "
            f"{len(t)} per-item scores",
            f"curves: {len(self.curves_size)} across size, {len(self.curves_step)} across steps",
        ]
        v = self.verdicts()
        if len(v):
            for (along, verdict), n in v.groupby(["along", "verdict"]).size().items():
                lines.append(f"  along {along}: {verdict}: {n}")
        if self.verdict_runs is not None and len(self.verdict_runs):
            agree = _run_agreement(self.verdict_runs, self.verdict_size)
            lines.append("verdicts of single runs across size (tasks where every run agrees "
                         f"with the mean of the runs): {agree}")
        if self.run_variance is not None and len(self.run_variance):
            from .variance import pooled_run_variance

            pooled = pooled_run_variance(self.run_variance)
            if len(pooled):
                lines.append("between-run share of the variance of one run's mean "
                             "(sizes pooled, median over tasks):")
                for r in pooled.groupby("metric")["share_between"].median().items():
                    lines.append(f"  {r[0]}: {r[1]:.2f}")
        if self.timings:
            lines.append("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                     self.timings.items()))
        return "\n".join(lines)


def _run_agreement(per_run: pd.DataFrame, mean_vt) -> str:
    if mean_vt is None or not len(mean_vt.groups):
        return "n/a"
    ref = mean_vt.verdicts()[["task", "verdict"]].rename(columns={"verdict": "of_mean"})
    m = per_run[["task", "verdict"]].merge(ref, on="task", how="left")
    same = (m["verdict"] == m["of_mean"]).groupby(m["task"]).all()
    return f"{int(same.sum())} of {len(same)}"


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
        training run, copied to every record; default ``"seed0"``).

    Returns
    -------
    DataFrame
        Records (:mod:`emergence.records`) with target log-likelihoods of the generative tasks
        attached from their ``_ll`` companions (within each run), ``family``, ``run`` and
        ``nonembedding_params``. Records of different runs share (model, step, task, item):
        validate and score them one run at a time (:func:`score_records` does).
    """
    from ..io.samples import read_samples

    frames = []
    for row in scales.itertuples(index=False):
        rec = read_samples(
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
        rec["run"] = str(getattr(row, "run", run_label(0)))
        frames.append(rec)
    if not frames:
        raise ValueError(f"{out}: no finished harness runs under harness/.")
    rec = pd.concat(frames, ignore_index=True)
    return _attach_companions(rec)


def _by_run(records: pd.DataFrame):
    runs = records["run"] if "run" in records.columns else pd.Series(run_label(0),
                                                                     index=records.index)
    for run, part in records.groupby(runs.astype(str), sort=True):
        yield run, part.drop(columns="run", errors="ignore")


def _attach_companions(rec: pd.DataFrame) -> pd.DataFrame:
    from ..scoring import attach_loglik

    parts = []
    for run, part in _by_run(rec):
        tasks = set(part["task"])
        for t in sorted(tasks):
            if t + LL_SUFFIX in tasks:
                part = attach_loglik(part, to_task=t, from_task=t + LL_SUFFIX)
        parts.append(part.assign(run=run))
    return pd.concat(parts, ignore_index=True)


def score_records(records: pd.DataFrame, *, lengths: pd.DataFrame | None = None) -> pd.DataFrame:
    """Re-score lab records (one run at a time) into the tidy table with a ``run`` column.

    Parameters
    ----------
    records : DataFrame
        From :func:`records_from_harness` (``run`` optional: one run when absent).
    lengths : DataFrame, optional
        ``task``, ``item``, ``answer_len`` (added to the table).

    Returns
    -------
    DataFrame
        Tidy table under every applicable metric (characters as tokens), with ``run``,
        ``nonembedding_params`` and, with ``lengths``, ``answer_len``.
    """
    from ..schema import validate
    from ..scoring import rescore

    parts = []
    for run, part in _by_run(records):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = rescore(part, tokenizer="characters", family=FAMILY)
        ne = part.drop_duplicates(["model"]).set_index("model")["nonembedding_params"]
        sc["nonembedding_params"] = sc["model"].map(ne).astype("float64")
        parts.append(sc.assign(run=run))
    table = validate(pd.concat(parts, ignore_index=True))
    if lengths is not None:
        table = table.merge(lengths, on=["task", "item"], how="left")
    return table


def analyze_table(
    table: pd.DataFrame,
    *,
    seed: int = 0,
    verdicts: bool = True,
    n_boot: int = N_BOOT,
    progress: bool = False,
) -> LabResult:
    """Curves across size and steps, verdicts and between-run variance of a scored lab table.

    The curves and verdicts come from the analysis layer (:func:`emergence.analysis.analyze`,
    one section across size, one across steps and one across size per training run). With
    several training runs per size (column ``run``), the curves hold the mean over the runs at
    each point with the per-run values in ``Curve.runs`` (the figures draw each run faintly),
    every run is also judged on its own across size, and :func:`~emergence.lab.variance.run_variance`
    measures the between-run variance of each size's mean beside its item-level variance.

    Parameters
    ----------
    table : DataFrame
        Tidy lab table (:func:`score_records`, or :func:`emergence.lab.load_bundled`).
    seed : int, default=0
        Seed of the verdict bootstraps.
    verdicts : bool, default=True
        Test the curves (``False``: curves and variances only).
    n_boot : int, default=999
        Bootstrap replicates of every test.
    progress : bool, default=False

    Returns
    -------
    LabResult

    Examples
    --------
    >>> from emergence.lab import load_bundled
    >>> t = load_bundled()
    >>> res = analyze_table(t[t["task"] == "add_2d"], verdicts=False)
    >>> sorted(c.metric for c in res.curves_size)
    ['exact_match', 'target_loglik', 'token_edit_distance']
    >>> res.run_variance.columns[:6].tolist()
    ['family', 'task', 'metric', 'model', 'params', 'step']
    """
    from ..analysis import Section, analyze
    from ..curves import CurveSet
    from .variance import run_variance

    t0 = time.perf_counter()
    if "run" not in table.columns or table["run"].isna().all():
        table = table.assign(run=run_label(0))
    main = table[_main_mask(table)]
    # runs of one size share the steps but not exactly the tokens (line lengths are random):
    # place each checkpoint at the mean over its runs
    steps = main.assign(tokens=main.groupby(["model", "step"])["tokens"].transform("mean"))
    runs = sorted(main["run"].dropna().astype(str).unique())
    common = {"min_scales": 2, "verdicts": verdicts, "lines": False}
    sections = [Section("size", main, x="params", along="size", runs="mean", **common),
                Section("step", steps, x="tokens", along="step", runs="mean", **common)]
    sections += [Section(f"size, {run}", main[main["run"] == run], x="params", along="size",
                         runs="separate", **common) for run in runs]
    an = analyze(sections, seed=seed, n_boot=n_boot, progress=progress)
    size, step, *per_run = an.sections
    # each curve beside the same curve of the other runs, as extract_curves(runs="separate") orders
    order = sorted((k, r) for r, sa in enumerate(per_run) for k in range(len(sa.curves)))
    curves_runs = CurveSet([per_run[r].curves[k] for k, r in order],
                           pd.concat([sa.curve_set.excluded for sa in per_run], ignore_index=True))
    vruns = None
    if verdicts:
        parts = [sa.assessment.verdicts().assign(run=run) for run, sa in zip(runs, per_run,
                                                                             strict=True)
                 if sa.assessment is not None]
        vruns = pd.concat(parts, ignore_index=True) if parts else None
    rv = run_variance(main)
    timings = {"analysis_s": time.perf_counter() - t0}
    return LabResult(None, table, size.curve_set, step.curve_set, size.assessment,
                     step.assessment, timings, curves_runs=curves_runs, verdict_runs=vruns,
                     run_variance=rv)


def analyze_records(
    records: pd.DataFrame,
    *,
    lengths: pd.DataFrame | None = None,
    seed: int = 0,
    verdicts: bool = True,
    n_boot: int = N_BOOT,
    progress: bool = False,
) -> LabResult:
    """Re-score records (:func:`score_records`) and analyse them (:func:`analyze_table`).

    Parameters
    ----------
    records : DataFrame
        Per-item records of the lab (from :func:`records_from_harness`).
    lengths : DataFrame, optional
        ``task``, ``item``, ``answer_len`` (added to the table).
    seed, verdicts, n_boot, progress
        As in :func:`analyze_table`.

    Returns
    -------
    LabResult
        With the re-scoring time in ``timings["rescore_s"]``.
    """
    t0 = time.perf_counter()
    table = score_records(records, lengths=lengths)
    rescore_s = time.perf_counter() - t0
    res = analyze_table(table, seed=seed, verdicts=verdicts, n_boot=n_boot, progress=progress)
    res.timings["rescore_s"] = rescore_s
    return res


def mirage_table(records: pd.DataFrame, *, seed: int = 0, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Mirage check (exact match ~ p^L, edit distance ~ L(1-p)) per run and generative task.

    Runs :func:`emergence.mirage.mirage_check` on the final checkpoints of each training run with
    characters as tokens.

    Parameters
    ----------
    records : DataFrame
        Lab records with target log-likelihoods attached (:func:`records_from_harness`).
    seed : int, default=0
    n_boot : int, default=999

    Returns
    -------
    DataFrame
        The per-size tables of every run and task stacked, with ``run``, ``task`` and
        ``consistent`` (every simultaneous interval covers 0) columns.
    """
    from ..mirage import mirage_check

    parts = []
    for run, rec in _by_run(records):
        last = rec["step"] == rec.groupby("model")["step"].transform("max")
        final = rec[last]
        gen_tasks = sorted(set(final.loc[final["output_type"] == "generate_until", "task"]))
        for task in gen_tasks:
            res = mirage_check(final, task=task, tokenizer="characters", x="params",
                               n_boot=n_boot, seed=seed)
            parts.append(res.to_frame().assign(run=run, task=task, consistent=res.consistent))
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
        6 sizes (4k-340k parameters, 83x), 6 checkpoints each, 5 tasks plus multiple
        choice, 3 runs per size.
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
    # one session per call: an interrupted and resumed run adds its sessions' times up
    meta.setdefault("sessions", []).append(
        {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seeds": n_runs,
         "command": command})
    timings = {"train_s": 0.0, "eval_s": 0.0}

    cpu_start = time.process_time()

    def save() -> None:
        timings["wall_s"] = time.perf_counter() - t_start
        timings["cpu_s"] = time.process_time() - cpu_start
        meta["timings"] = {k: round(v, 1) for k, v in timings.items()}
        meta["sessions"][-1].update(
            ended=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta["timings"])
        meta_path.write_text(json.dumps(meta, indent=2))

    save()

    from tqdm.auto import tqdm

    scales = []
    jobs = [(ts, sz) for ts in run_seeds for sz in preset.sizes]
    bar = tqdm(jobs, desc="runs x sizes", unit="size", disable=not progress)
    for train_seed, (name, n_layer, n_embd, n_head) in bar:
        run = run_label(train_seed)
        bar.set_postfix(run=run, size=name)
        cfg = models.TrainConfig(tokens=preset.tokens, checkpoints=preset.checkpoints,
                                 batch_size=preset.batch_size, lr=preset.lr, seed=train_seed,
                                 budget_seed=seed, threads=threads)
        size = models.Architecture(name, n_layer, n_embd, n_head)
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
        save()
    bar.close()
    save()
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
    if res.verdict_runs is not None:
        res.verdict_runs.to_csv(out / "verdicts_size_runs.csv", index=False)
    res.run_variance.to_csv(out / "run_variance.csv", index=False)
    mirage_table(rec, seed=seed).to_csv(out / "mirage.csv", index=False)
    if figures:
        t = time.perf_counter()
        from .figures import write_figures

        write_figures(res, out / "figures")
        timings["figures_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t_start
    save()
    return LabResult(out, res.table, res.curves_size, res.curves_step, res.verdict_size,
                     res.verdict_step, timings, curves_runs=res.curves_runs,
                     verdict_runs=res.verdict_runs, run_variance=res.run_variance)
