"""Calibration of the verdicts on model families with a known truth, and of the break tests.

Grid (default)::

    python benchmarks/calibration.py --quick            # a few minutes
    python benchmarks/calibration.py --full --jobs 2    # the README table (hours)
    python benchmarks/calibration.py --truths hinge_x3 --scales 8 12 --items 200 \\
        --nuisances none scatter --families 100 --n-boot 199

Each cell of the grid (truth x number of scales x number of items x nuisance) simulates F model
families with :func:`emergence.simulate.simulate_family` (per-item exact match, token edit
distance and target log-likelihood, or accuracy, log-likelihood and Brier score for
multiple-choice items; per-scale exact match for the aggregate-only cells), runs each family
through ``extract_curves`` + ``emergence.verdict.assess(curves, seed=..., n_boot=B)`` and counts

- the share of each verdict (``vt.verdicts()["verdict"]``),
- per metric, the share of families whose break tests reject at alpha = 0.05 (every
  ``*_pvalue`` column of ``vt.to_frame()``: the size of each test on smooth truths, its power on
  hinges and steps), and the share of curves whose break counts for the verdict.

Truths (see :mod:`emergence.simulate` for the formulas): smooth ``power_law`` (the Mirage model),
``power_law_floor``, ``logistic``, ``flat``, ``flat_floor`` (constant exact match 0.002: zeros
and the odd small value), ``saturating``; genuine ``hinge_x1.5``/``hinge_x3``/``hinge_x5``
(slope of ln CE multiplied by the factor after the middle of the range) and ``step_0.5``/
``step_1`` (ln CE drops by 0.5 or 1 there); and ``schaeffer``: the issue's exact case (power law,
L = 5, 10 scales 1e7..1e11, 500 items, exact match and token edit distance), one extra cell.
Nuisances: ``none``; ``scatter`` (model-to-model sd 0.25 on ln CE); ``scatter_0.1`` (sd 0.1,
comparable to the item noise); ``overdispersion`` (item x
model sd 0.3); ``heterogeneous`` (item difficulty sd 1 on ln CE and target lengths 1..8 tokens);
``uneven`` (random log-spacing of the scales); ``mc4`` (4-choice items: chance floor 0.25,
``n_choices`` written per item, chance not declared otherwise); ``runs3`` (three training runs
per scale, each with its own scatter sd 0.25, averaged by ``extract_curves(..., runs="mean")``);
``aggregate`` / ``aggregate_no_n`` (per-scale exact match rounded to 3 decimals, as published
tables give it, with or without the item count); ``scatter_declared`` (the ``scatter`` families,
with the true sd 0.25 declared to ``assess(..., scatter_sd=0.25)`` instead of estimated).

Results are appended per cell to a CSV (one row per counted quantity), tagged with the settings and
a hash of the ``emergence`` sources: an interrupted run resumes where it stopped, and a run on
changed code starts afresh in the same file. The markdown tables (verdict shares, sizes, the
issue's targets checked with a binomial tolerance for the Monte Carlo error) go to stdout and to
``--md``.

What any test could reach (no simulation; seconds)::

    python benchmarks/calibration.py --power-bounds [--scales 8 12] [--results CSV ...] [--md FILE]

For each genuine truth and number of evenly spaced scales (log10 params 7 to 11, as the grid):
the closest smooth curve of the calibration's smooth families (power law, power law with an
irreducible floor, per-token logistic; least squares over their parameters), and its distance
in noise sds, ``delta``, for two kinds of data:

- ln CE with model-to-model scatter sd 0.25 or 0.1 (the per-item metrics; item noise left out,
  which only lowers what a test can reach); ``distance`` is on ln CE;
- aggregate exact match alone from 200 items with ``L = 5`` (binomial noise at the truth, no
  scatter; ``L`` unknown to the smooth families).

Columns:

- ``np_bound``: ``Phi(delta - z_0.95)``, the power of the Neyman-Pearson test of that closest
  smooth curve against the truth with the noise known. No test that holds its size on that
  smooth curve has more power under that noise;
- ``f_1df`` and ``f_2df``: the power of the Gaussian F test at noncentrality ``delta^2`` with the
  noise scale estimated from the same scales, one break parameter (location known) or two (slope
  change and location), the residual degrees of freedom the scales less those and the closest
  family's parameters (2, or 3 with a floor): exact for a null linear in its parameters near the
  closest curve and a known break column, a guide to what estimating the scatter from the scales
  costs when the location is searched;
- ``grid_*``: the same against the latent test's own null grid (each shape's eta linear in log
  scale, floors as fractions of the truth's smallest CE; for aggregate exact match, whose target
  lengths the test does not know, on ``-ln(exact match)``), which the test must hold its size on,
  so its power cannot exceed ``grid_np_bound`` either;
- with ``--results`` (CSVs of grid runs): ``measured`` and ``measured_2``, the share of families
  the verdicts called candidates in the matching cells (scatter estimated and declared; aggregate
  with and without item counts), for every item count the CSVs hold.

Link-scale table (the break tests called directly on binomial curves, as before)::

    python benchmarks/calibration.py --link-scale [--curves 2000] [--power-curves 500] [--n-boot 499]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one thread per process: the grid runs in processes

import argparse  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import emergence  # noqa: E402
from emergence.curves import extract_curves  # noqa: E402
from emergence.simulate import simulate_aggregate, simulate_family  # noqa: E402

ALPHA = 0.05
RESULTS = Path(__file__).resolve().parent / "results"

#: label -> (truth, shape, smooth, metrics or None for the item type's default)
TRUTH_SPECS: dict[str, tuple[str, dict, bool, tuple[str, ...] | None]] = {
    "power_law": ("power_law", {}, True, None),
    "power_law_floor": ("power_law_floor", {}, True, None),
    "logistic": ("logistic", {}, True, None),
    "flat": ("flat", {}, True, None),
    "flat_floor": ("flat", {"p": 0.002 ** 0.2}, True, None),
    "saturating": ("saturating", {}, True, None),
    "hinge_x1.5": ("hinge", {"factor": 1.5}, False, None),
    "hinge_x3": ("hinge", {"factor": 3.0}, False, None),
    "hinge_x5": ("hinge", {"factor": 5.0}, False, None),
    "step_0.5": ("step", {"jump": 0.5}, False, None),
    "step_1": ("step", {"jump": 1.0}, False, None),
    "schaeffer": ("power_law", {}, True, ("exact_match", "token_edit_distance")),
}

#: label -> (simulate_family keyword arguments, aggregate-only: None or with item counts)
NUISANCES: dict[str, tuple[dict, bool | None]] = {
    "none": ({}, None),
    "scatter": ({"scatter_sd": 0.25}, None),
    "scatter_0.1": ({"scatter_sd": 0.1}, None),
    "overdispersion": ({"overdispersion": 0.3}, None),
    "heterogeneous": ({"item_sd": 1.0, "target_tokens": tuple(range(1, 9))}, None),
    "uneven": ({"spacing": "random"}, None),
    "mc4": ({"n_choices": 4}, None),
    "runs3": ({"n_runs": 3, "scatter_sd": 0.25}, None),
    "aggregate": ({}, True),
    "aggregate_no_n": ({}, False),
    "scatter_declared": ({"scatter_sd": 0.25}, None),
}

#: label -> keyword arguments of ``assess`` (facts the analyst declares)
DECLARED: dict[str, dict] = {
    "scatter_declared": {"scatter_sd": 0.25},
}

#: The issue's exact Mirage case: one extra cell in every preset.
SCHAEFFER_CELL = ("schaeffer", 10, 500, "none")

PRESETS = {
    # a few minutes on 2 cores: the targets' cells (8 scales, 200 items) under every nuisance,
    # plus the clean case at 12 scales and 1,000 items
    "quick": dict(families=20, n_boot=199, cells=lambda: [
        *itertools.product(
            [t for t in TRUTH_SPECS if t != "schaeffer"], [8], [200], list(NUISANCES)),
        *itertools.product([t for t in TRUTH_SPECS if t != "schaeffer"], [12], [1000], ["none"]),
        SCHAEFFER_CELL]),
    "full": dict(families=100, n_boot=199, cells=lambda: [
        *itertools.product([t for t in TRUTH_SPECS if t != "schaeffer"], [5, 8, 12],
                           [50, 200, 1000], list(NUISANCES)),
        SCHAEFFER_CELL]),
}

CSV_COLS = ["cell", "truth", "smooth", "n_scales", "n_items", "nuisance", "families", "n_boot",
            "seed", "code", "quantity", "metric", "name", "count", "n", "share", "seconds"]


@dataclass(frozen=True)
class Cell:
    """One cell of the grid."""

    truth: str
    n_scales: int
    n_items: int
    nuisance: str

    @property
    def id(self) -> str:
        return f"{self.truth}|{self.n_scales}|{self.n_items}|{self.nuisance}"

    @property
    def smooth(self) -> bool:
        return TRUTH_SPECS[self.truth][2]


def code_hash() -> str:
    """Hash of the ``emergence`` package sources in use (results of other code are not reused)."""
    h = hashlib.sha256()
    root = Path(emergence.__file__).resolve().parent
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def family_seed(cell: Cell, index: int, seed: int) -> np.random.SeedSequence:
    """Seed of family ``index`` of ``cell``: independent of the order cells run in."""
    return np.random.SeedSequence([int(seed), zlib.crc32(cell.id.encode()), int(index)])


def simulate_cell_family(cell: Cell, index: int, seed: int) -> pd.DataFrame:
    """The tidy table of one simulated family of ``cell``."""
    truth, shape, _, metrics = TRUTH_SPECS[cell.truth]
    kw, aggregate = NUISANCES[cell.nuisance]
    ss = family_seed(cell, index, seed)
    common = dict(n_scales=cell.n_scales, n_items=cell.n_items, shape=shape, seed=ss,
                  family=f"f{index}", task="sim")
    if aggregate is None:
        return simulate_family(truth, metrics=metrics, **common, **kw)
    return simulate_aggregate(truth, metrics=["exact_match"], with_n_items=aggregate,
                              decimals=3, **common, **kw)


def run_family(cell: Cell, index: int, n_boot: int, seed: int) -> dict:
    """Verdict and per-metric p-values of one family (errors are caught and counted)."""
    from emergence.verdict import assess

    df = simulate_cell_family(cell, index, seed)
    aseed = int(family_seed(cell, index, seed).generate_state(1)[0] % (2**31))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # replicate runs: averaged per scale, their spread kept for the statistics
            runs = {"runs": "mean"} if "run" in df.columns else {}
            vt = assess(extract_curves(df, x="params", **runs), seed=aseed, n_boot=n_boot,
                        progress=False, **DECLARED.get(cell.nuisance, {}))
    except Exception as e:  # a crash is a result to count, not a reason to stop the grid
        return {"verdict": f"error: {type(e).__name__}", "rows": []}
    v = vt.verdicts()["verdict"].tolist()
    rows = vt.to_frame().to_dict("records")
    return {"verdict": v[0] if len(v) == 1 else f"{len(v)} groups", "rows": rows}


def _p_columns(row: dict) -> list[str]:
    return [c for c in row if c.endswith("_pvalue") or c.endswith("_pvalue_two_sided")]


def run_cell(cell: Cell, families: int, n_boot: int, seed: int, code: str = "") -> pd.DataFrame:
    """Run ``families`` families of ``cell``; one long row per counted quantity."""
    from emergence.verdict import VERDICTS

    t0 = time.process_time()
    res = [run_family(cell, i, n_boot, seed) for i in range(families)]
    out: list[dict] = []

    def add(quantity: str, metric: str, name: str, count: int, n: int) -> None:
        out.append(dict(quantity=quantity, metric=metric, name=name, count=int(count), n=int(n),
                        share=count / n if n else np.nan))

    verdicts = pd.Series([r["verdict"] for r in res])
    for v in dict.fromkeys([*VERDICTS, *verdicts]):
        add("verdict", "", v, int((verdicts == v).sum()), families)
    rows = pd.DataFrame([row for r in res for row in r["rows"]])
    if len(rows):
        for metric, g in rows.groupby("metric", sort=True):
            for st, k in g["status"].value_counts().items():
                add("status", str(metric), str(st), int(k), len(g))
            for c in _p_columns(g.iloc[0].to_dict()):
                p = pd.to_numeric(g[c], errors="coerce")
                ok = p.notna()
                add("reject", str(metric), c, int((p[ok] <= ALPHA).sum()), int(ok.sum()))
            if "break_counts" in g:  # among the curves that were tested
                bc = g.loc[g["status"] == "ok", "break_counts"].dropna().astype(bool)
                add("counted", str(metric), "break_counts", int(bc.sum()), len(bc))
    df = pd.DataFrame(out)
    for k, v in dict(cell=cell.id, truth=cell.truth, smooth=cell.smooth, n_scales=cell.n_scales,
                     n_items=cell.n_items, nuisance=cell.nuisance, families=families,
                     n_boot=n_boot, seed=seed, code=code,
                     seconds=round(time.process_time() - t0, 2)).items():
        df[k] = v
    return df[CSV_COLS]


def load_results(path: Path, *, families: int, n_boot: int, seed: int, code: str) -> pd.DataFrame:
    """Rows of ``path`` made with these settings and this code (empty if none)."""
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame(columns=CSV_COLS)
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    df["metric"] = df["metric"].fillna("")
    keep = ((df["families"] == families) & (df["n_boot"] == n_boot) & (df["seed"] == seed)
            & (df["code"].astype(str) == code))
    return df[keep].reset_index(drop=True)


def run_grid(cells: list[Cell], *, families: int, n_boot: int, seed: int, jobs: int,
             out: Path, progress: bool = True) -> pd.DataFrame:
    """Run every cell not yet in ``out`` (appending as cells finish); return all matching rows."""
    code = code_hash()
    done = set(load_results(out, families=families, n_boot=n_boot, seed=seed, code=code)["cell"])
    todo = [c for c in cells if c.id not in done]
    out.parent.mkdir(parents=True, exist_ok=True)

    def append(df: pd.DataFrame) -> None:
        header = not out.exists() or out.stat().st_size == 0
        df.to_csv(out, mode="a", header=header, index=False)

    bar = tqdm(total=len(todo) * families, desc="calibration", unit="family",
               disable=not progress, mininterval=5)
    if todo and jobs > 1:
        ex = ProcessPoolExecutor(max_workers=jobs)
        futs = [ex.submit(run_cell, c, families, n_boot, seed, code) for c in todo]
        try:
            for f in as_completed(futs):
                append(f.result())
                bar.update(families)
        except KeyboardInterrupt:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown()
    else:
        for c in todo:
            append(run_cell(c, families, n_boot, seed, code))
            bar.update(families)
    bar.close()
    res = load_results(out, families=families, n_boot=n_boot, seed=seed, code=code)
    ids = {c.id for c in cells}
    return res[res["cell"].isin(ids)].reset_index(drop=True)


# ---------------------------------------------------------------------------- targets and tables

#: break tests whose size is checked on smooth truths (the straight-line "naive" test and the
#: slowdown tests are not break tests of the smooth null)
SIZE_TESTS = ("pblrt_pvalue", "pblrt_pvalue_two_sided", "curv_pvalue", "davies_pvalue", "supf_pvalue")
CANDIDATE = "candidate genuine transition"


def _binom_exceeds(count: int, n: int, bound: float) -> float:
    """One-sided binomial p-value of 'the true share is above ``bound``'."""
    return float(stats.binom.sf(count - 1, n, bound)) if n else 1.0


def _binom_below(count: int, n: int, bound: float) -> float:
    """One-sided binomial p-value of 'the true share is below ``bound``'."""
    return float(stats.binom.cdf(count, n, bound)) if n else 1.0


def check_targets(res: pd.DataFrame, *, tol: float = 0.01) -> pd.DataFrame:
    """The issue's "Done when" thresholds, cell by cell.

    A cell fails a threshold when a one-sided exact binomial test says the true share is on the
    wrong side of it at level ``tol`` (so a cell of F families is not failed for Monte Carlo
    error alone); ``share`` is the observed point estimate.

    Targets: smooth truths, candidate share <= 0.10 in every cell and <= 0.05 with >= 8 scales
    and >= 200 items; hinges with factor >= 3, candidate share >= 0.80 with >= 8 scales and
    >= 200 items (cells with item counts: not ``aggregate_no_n``); the break tests of
    :data:`SIZE_TESTS` reject 0.05 +/- 0.015 of smooth families under every nuisance; the
    ``schaeffer`` cell is "metric artifact" or "no transition" (share >= 0.95).
    """
    out = []
    v = res[res["quantity"] == "verdict"]
    for cid, g in v.groupby("cell", sort=False):
        r0 = g.iloc[0]
        n = int(r0["families"])
        cand = int(g.loc[g["name"] == CANDIDATE, "count"].sum())
        big = r0["n_scales"] >= 8 and r0["n_items"] >= 200
        base = dict(cell=cid, truth=r0["truth"], n_scales=r0["n_scales"], n_items=r0["n_items"],
                    nuisance=r0["nuisance"], metric="", test="verdict", count=cand, n=n,
                    share=cand / n)
        if r0["truth"] == "schaeffer":
            good = int(g.loc[g["name"].isin(["metric artifact", "no transition"]), "count"].sum())
            out.append({**base, "target": "artifact or no transition >= 0.95", "count": good,
                        "share": good / n, "pvalue": _binom_below(good, n, 0.95)})
        elif bool(r0["smooth"]):
            out.append({**base, "target": "candidate <= 0.10",
                        "pvalue": _binom_exceeds(cand, n, 0.10)})
            if big:
                out.append({**base, "target": "candidate <= 0.05",
                            "pvalue": _binom_exceeds(cand, n, 0.05)})
        elif r0["truth"] in ("hinge_x3", "hinge_x5") and big and r0["nuisance"] != "aggregate_no_n":
            out.append({**base, "target": "candidate >= 0.80",
                        "pvalue": _binom_below(cand, n, 0.80)})
    rj = res[(res["quantity"] == "reject") & res["name"].isin(SIZE_TESTS) & res["smooth"]]
    for _, r in rj.iterrows():
        k, n = int(r["count"]), int(r["n"])
        if n == 0:
            continue
        p = min(_binom_exceeds(k, n, 0.065), _binom_below(k, n, 0.035))
        out.append(dict(cell=r["cell"], truth=r["truth"], n_scales=r["n_scales"],
                        n_items=r["n_items"], nuisance=r["nuisance"], metric=r["metric"],
                        test=r["name"], count=k, n=n, share=k / n,
                        target="size 0.05 +/- 0.015", pvalue=p))
    df = pd.DataFrame(out)
    if len(df):
        df["ok"] = df["pvalue"] > tol
    return df


def verdict_table(res: pd.DataFrame) -> pd.DataFrame:
    """Share of each verdict per cell (rows truth x nuisance x scales x items)."""
    v = res[res["quantity"] == "verdict"]
    tab = v.pivot_table(index=["truth", "nuisance", "n_scales", "n_items"], columns="name",
                        values="share", aggfunc="first", sort=False).fillna(0.0)
    fam = v.groupby(["truth", "nuisance", "n_scales", "n_items"], sort=False)["families"].first()
    tab["families"] = fam
    return _order(tab.reset_index())


def size_table(res: pd.DataFrame, *, smooth: bool = True) -> pd.DataFrame:
    """Share of families with p <= 0.05, per cell, metric and test (size on smooth truths)."""
    r = res[(res["quantity"].isin(["reject", "counted"])) & (res["smooth"] == smooth)]
    if r.empty:
        return pd.DataFrame(columns=["truth", "nuisance", "n_scales", "n_items", "metric"])
    tab = r.pivot_table(index=["truth", "nuisance", "n_scales", "n_items", "metric"],
                        columns="name", values="share", aggfunc="first", sort=False)
    return _order(tab.reset_index())


def _order(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:  # e.g. a grid where every curve was underpowered: nothing was tested
        return df.reset_index(drop=True)
    tr = {t: i for i, t in enumerate(TRUTH_SPECS)}
    nu = {t: i for i, t in enumerate(NUISANCES)}
    key = df["truth"].map(tr).fillna(99) * 1e6 + df["nuisance"].map(nu).fillna(99) * 1e4
    key = key + df["n_scales"] * 100 + np.log10(df["n_items"])
    return df.iloc[np.argsort(key.to_numpy(), kind="mergesort")].reset_index(drop=True)


def to_markdown(df: pd.DataFrame, digits: int = 2) -> str:
    """A plain markdown table (no extra dependency)."""
    cols = list(df.columns)

    def fmt(v) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines)


def report(res: pd.DataFrame, *, families: int, n_boot: int, seed: int, seconds: float) -> str:
    """Markdown: verdict shares, sizes, and the targets that fail."""
    from emergence.verdict import VERDICTS

    vt = verdict_table(res)
    vcols = [c for c in [*VERDICTS] if c in vt] + [
        c for c in vt.columns if c not in VERDICTS and c not in
        ("truth", "nuisance", "n_scales", "n_items", "families")]
    vt = vt[["truth", "nuisance", "n_scales", "n_items", *vcols, "families"]]
    st = size_table(res)
    tests = [c for c in ("pblrt_pvalue", "pblrt_pvalue_two_sided", "curv_pvalue", "naive_pvalue",
                         "decel_pvalue", "decel_curv_pvalue", "davies_pvalue", "supf_pvalue",
                         "break_counts") if c in st]
    tests += [c for c in st.columns if c not in tests and c not in
              ("truth", "nuisance", "n_scales", "n_items", "metric")]
    st = st[["truth", "nuisance", "n_scales", "n_items", "metric", *tests]]
    pw = size_table(res, smooth=False)
    pw = pw[[c for c in ["truth", "nuisance", "n_scales", "n_items", "metric", *tests]
             if c in pw]]
    chk = check_targets(res)
    fails = chk[~chk["ok"]] if len(chk) else chk
    cpu = res.drop_duplicates("cell")["seconds"].sum()
    parts = [
        f"Calibration grid: {res['cell'].nunique()} cells, {families} families per cell, "
        f"B = {n_boot}, alpha = {ALPHA}, seed {seed}, code {res['code'].iloc[0] if len(res) else ''}"
        f"; {cpu:.0f} s CPU in the cells, {seconds:.0f} s wall for this run.",
        "", "### Share of each verdict", "", to_markdown(vt),
        "", "### Size: share of smooth families with p <= 0.05 (per metric and test)", "",
        to_markdown(st) if len(st) else "No smooth truths in this run.",
        "", "### Power: share of families with a genuine break with p <= 0.05", "",
        to_markdown(pw) if len(pw) else "No genuine truths in this run.",
        "", f"### Targets (issue's 'Done when'): {int(chk['ok'].sum()) if len(chk) else 0} of "
        f"{len(chk)} checks pass", "",
        "A check fails when a one-sided exact binomial test (level 0.01) puts the true share on "
        "the wrong side of the threshold.", "",
        to_markdown(fails[["target", "truth", "nuisance", "n_scales", "n_items", "metric", "test",
                           "count", "n", "share", "pvalue"]], digits=3) if len(fails)
        else "All checks pass.",
    ]
    return "\n".join(parts)


def parse_cells(args) -> list[Cell]:
    if args.truths or args.scales or args.items or args.nuisances:
        truths = args.truths or [t for t in TRUTH_SPECS if t != "schaeffer"]
        cells = list(itertools.product(truths, args.scales or [8], args.items or [200],
                                       args.nuisances or ["none"]))
    else:
        cells = PRESETS[args.preset]["cells"]()
    bad = [c for c in cells if c[0] not in TRUTH_SPECS or c[3] not in NUISANCES]
    if bad:
        raise SystemExit(f"unknown truth or nuisance in {bad[:3]}; truths: {list(TRUTH_SPECS)}, "
                         f"nuisances: {list(NUISANCES)}")
    # a truth with its own generative metrics (schaeffer: exact match and edit distance) has no
    # multiple-choice version: those cells are left out, and said so
    clash = [c for c in cells if c[3] == "mc4" and TRUTH_SPECS[c[0]][3] is not None]
    if clash:
        print(f"left out {len(clash)} cell(s) with generative metrics only under mc4: "
              f"{sorted({c[0] for c in clash})}", file=sys.stderr)
        cells = [c for c in cells if c not in clash]
    return [Cell(*c) for c in cells]


def grid_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="calibration.py", description=__doc__.split("\n")[0])
    pre = ap.add_mutually_exclusive_group()
    pre.add_argument("--quick", dest="preset", action="store_const", const="quick")
    pre.add_argument("--full", dest="preset", action="store_const", const="full")
    ap.add_argument("--truths", nargs="+", help=f"subset of {list(TRUTH_SPECS)}")
    ap.add_argument("--scales", nargs="+", type=int)
    ap.add_argument("--items", nargs="+", type=int)
    ap.add_argument("--nuisances", nargs="+", help=f"subset of {list(NUISANCES)}")
    ap.add_argument("--families", type=int, help="families per cell (preset: quick 20, full 100)")
    ap.add_argument("--n-boot", type=int, help="bootstrap replicates per test (default 199)")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--jobs", type=int, default=1, help="processes")
    ap.add_argument("--out", type=Path, help="CSV of results (appended; resumes)")
    ap.add_argument("--md", type=Path, help="write the markdown tables here too")
    ap.set_defaults(preset="quick")
    args = ap.parse_args(argv)
    preset = PRESETS[args.preset]
    families = args.families or preset["families"]
    n_boot = args.n_boot or preset["n_boot"]
    cells = parse_cells(args)
    out = args.out or RESULTS / f"calibration-{args.preset}.csv"
    t0 = time.time()
    res = run_grid(cells, families=families, n_boot=n_boot, seed=args.seed, jobs=args.jobs,
                   out=out)
    md = report(res, families=families, n_boot=n_boot, seed=args.seed, seconds=time.time() - t0)
    print(md)
    if args.md:
        args.md.write_text(md + "\n")


# ------------------------------------------------------- link-scale table (binomial curves)

X = np.linspace(8, 11, 10)
N = 200
ALPHA = 0.05
PSI = 9.5

NULLS = {
    # name: (metric, chance, null model, link, link-scale line)
    "linear": ("acc", float("nan"), "linear", "identity", 0.2 + 0.15 * (X - 8)),
    "gompertz": ("exact_match", float("nan"), "gompertz", "mirage", 6.3 - 0.7 * X),
    "chance_sigmoid": ("acc", 0.25, "chance_sigmoid", "chance_logit", -9.0 + 0.9 * X),
}


def _probs(link, chance, z):
    from emergence.curve_models import get_link

    lk = get_link(link, chance if np.isfinite(chance) else 0.0)
    return np.clip(lk.inverse(z), 0, 1)


def run_case(name, z, n_curves, n_boot, rng, scatter=0.0):
    from emergence.curve_models import get_link
    from emergence.stats.bootstrap import improvement_sign, pblrt_test
    from emergence.stats.davies import davies_test
    from emergence.stats.supf import supf_test

    metric, chance, null, link, _ = NULLS[name]
    rej = np.zeros(6)
    lk = get_link(link, chance if np.isfinite(chance) else 0.0)
    dav_alt = "greater" if improvement_sign(link, True) > 0 else "less"
    for _ in range(n_curves):
        zz = z + (rng.normal(0, scatter, X.size) if scatter else 0.0)
        k = rng.binomial(N, _probs(link, chance, zz))
        y = k / N
        seed = int(rng.integers(2**31))
        kw = dict(x=X, y=y, n_items=N, metric=metric, chance=chance, null=null, n_boot=n_boot)
        a = pblrt_test(**kw, seed=seed)
        a2 = pblrt_test(**kw, direction="both", seed=seed)
        b = pblrt_test(**kw, alternative="curvature", seed=seed + 1)
        dc = pblrt_test(**kw, direction="decelerating", seed=seed + 3)
        # what the verdict counts: the accelerating break, unless a significant slowdown fits
        # the curve better (the best break of either sign decelerates)
        pa = a.pvalue
        counted = pa <= ALPHA and not (dc.pvalue <= ALPHA
                                       and a.any_direction == "decelerating")
        zl = lk.forward(lk.adjust(y, N))
        c = davies_test(X, zl, alternative=dav_alt)
        d = supf_test(X, zl, n_boot=n_boot, seed=seed + 2)
        rej += np.r_[np.array([a.pvalue, a2.pvalue, b.pvalue, c.pvalue, d.pvalue]) <= ALPHA,
                     counted]
    return rej / n_curves


def link_scale_main(argv: list[str]) -> None:
    """The link-scale size and power table (binomial curves, the tests called directly)."""
    from emergence.stats.bootstrap import improvement_sign

    ap = argparse.ArgumentParser(prog="calibration.py --link-scale")
    ap.add_argument("--curves", type=int, default=2000)
    ap.add_argument("--power-curves", type=int, default=500)
    ap.add_argument("--n-boot", type=int, default=499)
    ap.add_argument("--seed", type=int, default=20240501)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    lines = ["| null | alternative | curves | PB-LRT break (one-sided) | PB-LRT break (two-sided) "
             "| PB-LRT curvature (one-sided) | Davies (one-sided) | sup-F (two-sided) "
             "| break counted by the verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    cases = []
    for name, (_, _, _, _, z) in NULLS.items():
        cases.append((name, "none (size)", z, args.curves, 0.0))
    cases.append(("gompertz", "none, model scatter sd 0.3 (size)", NULLS["gompertz"][4],
                  args.curves, 0.3))
    for name, (_, _, _, link, z) in NULLS.items():
        # effect sizes on the link scale, scaled to the link's units
        unit = {"identity": 0.05, "mirage": 0.5, "chance_logit": 0.5}[link]
        sign = improvement_sign(link, True)  # ln(-ln y) falls as accuracy rises
        for g in (1, 2):
            cases.append((name, f"accelerating step {g * unit:g}",
                          z + sign * g * unit * (X > PSI), args.power_curves, 0.0))
        for dlt in (1, 2):
            cases.append((name, f"accelerating hinge {dlt * 2 * unit:g}/decade",
                          z + sign * dlt * 2 * unit * np.maximum(X - PSI, 0),
                          args.power_curves, 0.0))
        cases.append((name, f"decelerating step {2 * unit:g}",
                      z - sign * 2 * unit * (X > PSI), args.power_curves, 0.0))
        cases.append((name, f"decelerating hinge {4 * unit:g}/decade",
                      z - sign * 4 * unit * np.maximum(X - PSI, 0), args.power_curves, 0.0))
    for name, alt, z, n, sc in tqdm(cases, desc="calibration", mininterval=30):
        r = run_case(name, z, n, args.n_boot, rng, scatter=sc)
        lines.append(f"| {name} | {alt} | {n} | " + " | ".join(f"{v:.3f}" for v in r) + " |")
        print(lines[-1], flush=True)
    print()
    print(f"10 scales (log10 params 8..11), {N} items per scale, B = {args.n_boot}, "
          f"alpha = {ALPHA}; effects on the link scale at log10 params = {PSI} "
          f"(identity: accuracy units; mirage: ln(-ln y) units, negative = accuracy up; "
          f"chance_logit: logit units). Seed {args.seed}; {time.time() - t0:.0f} s.")
    print("\n".join(lines))


# --- what any test could reach: distance from each genuine truth to the smooth families --------

#: smooth families: ln CE of parameters p and log10 params x, and starting values for the fit
#: (the number of parameters is that of each start)
_SMOOTH_FAMILIES = {
    "power law": (lambda p, x: p[0] + p[1] * x, [[10.0, -1.0]]),
    "power law + floor": (lambda p, x: np.logaddexp(p[2], p[0] + p[1] * x),
                          [[10.0, -1.0, -6.0], [10.0, -1.0, -3.0], [10.0, -1.0, -1.5]]),
    "per-token logistic": (lambda p, x: np.log(np.logaddexp(0.0, -(p[0] + p[1] * x))),
                           [[a, b] for a in (-20.0, -12.0, -8.0, -4.0, 0.0) for b in
                            (0.3, 1.0, 2.0, 4.0)]),
}


def _closest(resid, families) -> tuple[str, float, int]:
    """The family (name -> (curve of parameters, starts)) whose least-squares fit makes the sum
    of squares of ``resid(curve)`` smallest (Levenberg-Marquardt from every start): its name,
    that sum and its number of parameters."""
    from scipy.optimize import least_squares

    best = ("", np.inf, 0)
    for name, (f, starts) in families.items():
        for p0 in starts:
            with np.errstate(all="ignore"):
                r = least_squares(lambda p, f=f: resid(f(p)), p0, method="lm")
            ss = float(np.sum(r.fun ** 2))
            if np.isfinite(ss) and ss < best[1]:
                best = (name, ss, len(p0))
    return best


def closest_smooth(m: np.ndarray, x: np.ndarray) -> tuple[str, float, int]:
    """The calibration's smooth family closest to ``ln CE = m`` at ``x`` (least squares on
    ln CE): its name, the residual sum of squares and its number of parameters."""
    fams = {k: (lambda p, f=f: f(p, x), st) for k, (f, st) in _SMOOTH_FAMILIES.items()}
    return _closest(lambda c: c - m, fams)


def closest_grid(m: np.ndarray, x: np.ndarray, kind: str = "loglik",
                 resid=None) -> tuple[str, float, int]:
    """The latent test's own null closest to ``ln CE = m``: each shape ``(nu, e)`` of its grid
    (:func:`emergence.stats.latent.default_shapes`) with ``eta(CE)`` linear in ``x`` and the floor
    ``e * min(CE)`` of the truth, least squares on ln CE (or on ``resid(ln CE)``, the residuals
    of the data the test sees)."""
    from emergence.stats.latent import _shape_ce, _shape_eta_all, default_shapes

    ce = np.exp(m)[None, :]
    fams = {}
    for nu, e in default_shapes(kind):
        eta, _, Es = _shape_eta_all(ce, [(nu, e)])   # the test's own link and floor
        E = float(Es[0, 0])
        b, a = np.polyfit(x, eta[0, 0], 1)
        fams[f"nu={nu:g}, floor {e:g} min CE"] = (
            lambda p, nu=nu, E=E: np.log(np.maximum(_shape_ce(p[0] + p[1] * x, nu, E), 1e-300)),
            [[a, b]])
    return _closest((lambda c: c - m) if resid is None else resid, fams)


def closest_smooth_em(em: np.ndarray, x: np.ndarray, n: int) -> tuple[str, float, int]:
    """The smooth family closest to exact match ``em`` at ``x`` seen through ``n`` items and
    an unknown target length ``L`` (exact match ``exp(-L CE)``; for the power laws ``L`` is part
    of the coefficients): binomial standard deviations at the truth."""
    sd = np.sqrt(np.maximum(em * (1 - em), 1.0 / n) / n)
    fams = {
        "power law": (lambda p: np.exp(-np.exp(p[0] + p[1] * x)),
                      [[5.0, -0.5], [10.0, -1.0], [15.0, -1.5]]),
        "power law + floor": (lambda p: np.exp(-np.exp(p[2]) - np.exp(p[0] + p[1] * x)),
                              [[c, b, f] for c in (5.0, 10.0) for b in (-0.8, -1.2)
                               for f in (-6.0, -3.0, -1.5)]),
        "per-token logistic, any L": (
            lambda p: np.exp(-np.exp(p[2]) * np.logaddexp(0.0, -(p[0] + p[1] * x))),
            [[a, b, lg] for a in (-12.0, -8.0, -4.0) for b in (0.5, 1.0, 2.0)
             for lg in (0.0, 1.6, 3.0)]),
    }
    return _closest(lambda c: (c - em) / sd, fams)


def _powers(d2: float, S: int, k: int, alpha: float) -> dict:
    """Neyman-Pearson power with the noise known, and the F tests' with it estimated (1 and 2
    break parameters), at squared standardized distance ``d2`` with ``k`` null parameters."""
    delta = float(np.sqrt(d2))
    out = dict(delta=delta, np_bound=float(stats.norm.cdf(delta - stats.norm.ppf(1 - alpha))))
    for d1 in (1, 2):
        d2f = S - k - d1
        crit = stats.f.ppf(1 - alpha, d1, d2f)
        # (scipy's noncentral F is wrong at noncentrality 0: the central F there)
        out[f"f_{d1}df"] = float(stats.ncf.sf(crit, d1, d2f, d2) if d2 > 1e-10
                                 else stats.f.sf(crit, d1, d2f))
    return out


def power_bounds(truths=None, scales=(8, 12), sds=(0.25, 0.1), alpha: float = ALPHA,
                 x_range=(7.0, 11.0), n_items: int = 200, aggregate: bool = True) -> pd.DataFrame:
    """Power any test could reach on each truth of :data:`TRUTH_SPECS` (default: the genuine
    ones; see the module docstring, ``--power-bounds``): one row per truth x scales x scatter sd
    on ln CE (per-item metrics; item noise left out), and with ``aggregate`` one per truth x
    scales for exact match alone from ``n_items`` items with ``L = 5`` (no scatter; binomial
    noise at the truth, ``L`` unknown to the null)."""
    from emergence.simulate import latent_log_ce

    if truths is None:
        truths = [t for t, spec in TRUTH_SPECS.items() if not spec[2]]
    rows = []
    for label in truths:
        truth, shape, _, _ = TRUTH_SPECS[label]
        for S in scales:
            x = np.linspace(*x_range, S)
            m = latent_log_ce(truth, x, shape=shape, x_range=x_range)
            name, rss, k = closest_smooth(m, x)
            gname, grss, gk = closest_grid(m, x)
            for sd in sds:
                row = dict(truth=label, data=f"ln CE, scatter sd {sd:g}", n_scales=S,
                           closest=name, distance=float(np.sqrt(rss)),
                           **_powers(rss / sd ** 2, S, k, alpha))
                g = _powers(grss / sd ** 2, S, gk, alpha)
                row.update(grid_closest=gname, grid_delta=g["delta"],
                           grid_np_bound=g["np_bound"], grid_f_2df=g["f_2df"])
                rows.append(row)
            if aggregate:
                em = np.exp(-5.0 * np.exp(m))
                name, d2, k = closest_smooth_em(em, x, n_items)
                row = dict(truth=label, data=f"aggregate exact match, {n_items} items",
                           n_scales=S, closest=name, distance=np.nan,
                           **_powers(d2, S, k, alpha))
                # the test sees exact match with the target lengths unknown: one token per
                # answer, so its grid's shapes act on -ln(exact match) = 5 CE
                sd = np.sqrt(np.maximum(em * (1 - em), 1.0 / n_items) / n_items)
                gname, gd2, gk = closest_grid(
                    np.log(5.0) + m, x, "exact_match",
                    resid=lambda lnce, em=em, sd=sd: (np.exp(-np.exp(lnce)) - em) / sd)
                g = _powers(gd2, S, gk, alpha)
                row.update(grid_closest=gname, grid_delta=g["delta"],
                           grid_np_bound=g["np_bound"], grid_f_2df=g["f_2df"])
                rows.append(row)
    return pd.DataFrame(rows)


#: bounds rows' data -> calibration nuisances whose measured shares go beside them
_MEASURED = {
    "ln CE, scatter sd 0.25": (("scatter", "scatter estimated"),
                               ("scatter_declared", "scatter declared")),
    "ln CE, scatter sd 0.1": (("scatter_0.1", "scatter estimated"),),
    "aggregate exact match": (("aggregate", "with n"), ("aggregate_no_n", "no n")),
}


def measured_beside(bounds: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """``bounds`` (:func:`power_bounds`) with the share of families called a candidate genuine
    transition in the calibration ``results`` (rows of :data:`CSV_COLS`; for a cell run on
    several codes, the last code's rows): per row, the cells of the same truth and number of
    scales under the matching nuisances, every item count found (``"54/100"``, ``"32/40;
    1000 items: 39/40"``); empty where the results have no such cell."""
    res = results.copy()
    res["code"] = res["code"].astype(str)
    last = res.groupby("cell")["code"].last()
    res = res[res["code"].to_numpy() == last.reindex(res["cell"]).to_numpy()]
    ver = res[res["quantity"] == "verdict"]
    tot = ver.groupby("cell")["count"].sum()
    cand = ver[ver["name"] == CANDIDATE].groupby("cell")["count"].sum().reindex(tot.index,
                                                                               fill_value=0)
    out = bounds.copy()
    for col in ("measured", "measured_2"):
        out[col] = ""
    for i, r in out.iterrows():
        key = next((k for k in _MEASURED if str(r["data"]).startswith(k)), None)
        if key is None:
            continue
        for col, (nuis, label) in zip(("measured", "measured_2"), _MEASURED[key], strict=False):
            cells = sorted((c for c in tot.index if c.split("|")[0] == r["truth"]
                            and c.split("|")[1] == str(r["n_scales"]) and c.split("|")[3] == nuis),
                           key=lambda c: int(c.split("|")[2]))
            if cells:
                parts = [f"{int(cand[c])}/{int(tot[c])}" if j == 0 else
                         f"{c.split('|')[2]} items: {int(cand[c])}/{int(tot[c])}"
                         for j, c in enumerate(cells)]
                out.loc[i, col] = f"{label}: " + "; ".join(parts)
    return out


def bounds_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description="power any test could reach on the genuine truths")
    ap.add_argument("--scales", nargs="+", type=int, default=[8, 12])
    ap.add_argument("--results", nargs="+", type=Path,
                    help="calibration CSVs (--out of grid runs): the measured share of "
                    "candidates beside each bound")
    ap.add_argument("--md", type=Path, help="write the markdown table here too")
    args = ap.parse_args(argv)
    tab = power_bounds(scales=tuple(args.scales))
    if args.results:
        missing = [str(p) for p in args.results if not p.exists()]
        if missing:
            ap.error(f"--results: no such file: {', '.join(missing)}")
        res = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""])
                         for p in args.results], ignore_index=True)
        tab = measured_beside(tab, res)
    md = to_markdown(tab, digits=3)
    print(md)
    if args.md:
        args.md.write_text(md + "\n")


def main() -> None:
    argv = sys.argv[1:]
    if "--power-bounds" in argv:
        argv.remove("--power-bounds")
        bounds_main(argv)
    elif "--link-scale" in argv:
        argv.remove("--link-scale")
        link_scale_main(argv)
    else:
        grid_main(argv)


if __name__ == "__main__":
    main()
