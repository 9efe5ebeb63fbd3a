"""HTML report: per task, every metric side by side against log scale, with intervals, chance,
Emergence Scores, excluded rows and (when the statistics engine is available) verdicts.

The report is built from result tables; rounding happens only when the HTML is written. Every
table in the page is also written as CSV under ``tables/``.

Examples
--------
>>> import tempfile
>>> from emergence import datasets
>>> from emergence.report import ReportSection, build_report
>>> df = datasets.load("pythia-v1")
>>> sec = ReportSection("Pythia, across size", df[df.shots == 0], x="params",
...                     tasks=["lambada_openai"], verdicts=False)
>>> rep = build_report([sec], out_dir=tempfile.mkdtemp(), progress=False)
>>> rep.index.name, len(rep.figures)
('index.html', 1)
"""

from __future__ import annotations

import hashlib
import html
import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import __version__  # noqa: E402
from ._csvsafe import write_csv  # noqa: E402
from .plots import SCALE_LABELS, curve_points, sideplot  # noqa: E402
from .stats.scores import emergence_score  # noqa: E402
from .tidy import Curve, compact_excluded, extract_curves  # noqa: E402

__all__ = ["ReportSection", "Report", "build_report", "emergence_scores"]


@dataclass(frozen=True)
class ReportSection:
    """One part of a report: a table, the scale axis and which curves to show.

    Attributes
    ----------
    title : str
    table : DataFrame
        Tidy table.
    x : str
        Scale column for the x axis.
    along : {"size", "step"}
        Curves across models or across checkpoints (see :func:`emergence.tidy.extract_curves`).
    tasks, metrics, families, models : list of str, optional
        Restrict the curves shown.
    step : "final", int or None
        Checkpoint selection for ``along="size"``.
    ties : {"error", "mean"}
        How tied scales are handled.
    min_scales : int
        Curves with fewer scales are reported as excluded.
    description : str
        Paragraph shown under the title (HTML-escaped).
    verdicts : bool
        Run the statistics engine on the curves when it is available.
    kind : {"curves", "scaling"}
        ``"curves"``: side-by-side metric panels per task (the fields above apply).
        ``"scaling"``: loss-law fits, compute-optimal placement and backtests of the table
        (:func:`emergence.scaling.report_section`).
    """

    title: str
    table: pd.DataFrame
    x: str = "params"
    along: str = "size"
    tasks: Sequence[str] | None = None
    metrics: Sequence[str] | None = None
    families: Sequence[str] | None = None
    models: Sequence[str] | None = None
    step: int | str | None = "final"
    ties: str = "error"
    min_scales: int = 3
    description: str = ""
    verdicts: bool = True
    kind: str = "curves"


@dataclass(frozen=True)
class Report:
    """Result of :func:`build_report`: where things were written and the tables behind them.

    Attributes
    ----------
    out_dir, index : Path
    figures : tuple of Path
    points : DataFrame
        Every plotted point with its interval.
    scores : DataFrame
        Emergence Score (floored and unfloored) per curve.
    excluded : DataFrame
        Rows left out, with the reason.
    verdicts : DataFrame
        Verdict rows (empty when the statistics engine was not run).
    tables : dict of str -> Path
    """

    out_dir: Path
    index: Path
    figures: tuple[Path, ...]
    points: pd.DataFrame
    scores: pd.DataFrame
    excluded: pd.DataFrame
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    tables: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """Counts of what the report holds."""
        return (
            f"report: {self.index}\n"
            f"  {len(self.figures)} figures, {self.points.shape[0]} points, "
            f"{self.scores.shape[0]} curves scored, {self.excluded.shape[0]} rows excluded, "
            f"{self.verdicts.shape[0]} verdict rows"
        )

    def to_frame(self) -> pd.DataFrame:
        """The Emergence Score table (one row per curve)."""
        return self.scores


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


def _figure_name(*key) -> str:
    """File name of one figure: a readable slug plus a hash of the exact key, so that names
    differing only in characters the slug drops (``x/y``, ``x-y``, ``x y``) get distinct files."""
    digest = hashlib.sha256(repr(key).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return _slug("-".join(str(k) for k in key))[:100] + f"-{digest}.png"


def emergence_scores(curves: Sequence[Curve]) -> pd.DataFrame:
    """Emergence Score of each curve (values oriented so that higher is better).

    Curves with fewer than 3 scales get NaN and a note. See
    :func:`emergence.stats.scores.emergence_score` for the floor on the denominator.
    """
    rows = []
    for c in curves:
        row = {**c.key, "n_scales": c.n_scales}
        if c.n_scales < 3:
            row.update(score=np.nan, unfloored_score=np.nan, floor_rule="", note="< 3 scales")
        else:
            sign = 1.0 if c.info.higher_is_better else -1.0
            se = c.stderr if np.all(np.isfinite(c.stderr)) else None
            n = c.n_items if np.all(np.isfinite(c.n_items)) else None
            r = emergence_score(c.x, sign * c.y, stderr=se, n_items=n)
            row.update(score=r.score, unfloored_score=r.unfloored_score,
                       floor_rule=r.floor_rule, note="")
        rows.append(row)
    return pd.DataFrame(rows)


def _engine():
    """The verdict module when it provides ``assess`` and ``fitted_lines``; else None."""
    try:
        mod = importlib.import_module("emergence.verdict")
    except ImportError:
        return None
    if hasattr(mod, "assess"):
        return mod
    return None


def _fmt_table(df: pd.DataFrame, max_rows: int = 60) -> str:
    if df is None or df.empty:
        return "<p class='muted'>none</p>"
    shown = df.head(max_rows).copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    more = (f"<p class='muted'>{len(df) - max_rows} more rows in the CSV.</p>"
            if len(df) > max_rows else "")
    return shown.to_html(index=False, border=0, classes="tbl", na_rep="", escape=True) + more


#: Per-curve test columns shown under each figure (all columns are in tables/verdict_curves.csv).
_CURVE_COLUMNS = ["metric", "status", "null_model", "pblrt_kind", "pblrt_psi", "pblrt_p", "pblrt_q",
                  "pblrt_any_direction", "decel_q", "curv_direction", "curv_q", "davies_p",
                  "supf_p", "es", "reason"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.2em} .muted{color:#777;font-size:.9em}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}
table.tbl{border-collapse:collapse;font-size:.82em;margin:.5em 0}
table.tbl th,table.tbl td{border-bottom:1px solid #e3e3e3;padding:.2em .6em;text-align:left;
vertical-align:top}
table.tbl th{background:#f5f5f5} .verdict{font-weight:600}
nav a{margin-right:1em}
"""


def _scaling_section(sec: ReportSection, out: Path, *, seed: int, anchor: str) -> dict:
    """Scaling-law part of the report: figures, tables and notes from emergence.scaling."""
    from .scaling import report_section

    sub = out / anchor  # each scaling section in its own folder: file names do not collide
    res = report_section(sec.table, sub, seed=seed)
    parts = [f"<h2 id='{anchor}'>{html.escape(sec.title)}</h2>"]
    if sec.description:
        parts.append(f"<p>{html.escape(sec.description)}</p>")
    for note in res.get("notes", []):
        parts.append(f"<p class='muted'>{html.escape(str(note))}</p>")
    figs = []
    for f in res.get("figures", []):
        parts.append(f"<h3>{html.escape(f['title'])}</h3>")
        rel = f"{anchor}/{Path(f['path']).as_posix()}"
        parts.append(f"<img src='{html.escape(rel)}' alt='{html.escape(f['title'])}'>")
        if f.get("caption"):
            parts.append(f"<p class='muted'>{html.escape(f['caption'])}</p>")
        figs.append(sub / f["path"])
    tabs = {}
    for t in res.get("tables", []):
        parts.append(f"<h3>{html.escape(t['title'])}</h3>" + _fmt_table(t["frame"], max_rows=25))
        tabs[f"{anchor}-{Path(t['path']).stem}"] = sub / t["path"]
    return {"html": "".join(parts), "figures": figs, "tables": tabs}


def build_report(
    sections: Sequence[ReportSection],
    *,
    out_dir: str | Path = "emergence-report",
    title: str = "emergence report",
    interval: str = "wilson",
    seed: int = 0,
    n_boot: int = 999,
    progress: bool = True,
) -> Report:
    """Write the HTML report (``index.html``, ``figures/*.png``, ``tables/*.csv``).

    Parameters
    ----------
    sections : sequence of ReportSection
    out_dir : path, default="emergence-report"
    title : str
    interval : str, default="wilson"
        Binomial interval method for proportions (``"wilson"`` or ``"jeffreys"``, ...).
    seed : int, default=0
        Seed for every bootstrap in the statistics engine.
    n_boot : int, default=999
        Bootstrap replicates for the statistics engine.
    progress : bool, default=True
        Show progress bars.

    Returns
    -------
    Report
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    engine = _engine()
    figures: list[Path] = []
    all_points, all_scores, all_excl, all_verd, all_curve_verd = [], [], [], [], []
    tables: dict[str, Path] = {}
    body: list[str] = []
    nav: list[str] = []
    for si, sec in enumerate(sections):
        anchor = f"s{si}"
        nav.append(f"<a href='#{anchor}'>{html.escape(sec.title)}</a>")
        if sec.kind == "scaling":
            part = _scaling_section(sec, out, seed=seed, anchor=anchor)
            body.append(part["html"])
            figures.extend(part["figures"])
            tables.update(part["tables"])
            continue
        table = sec.table
        if sec.families is not None:
            table = table[table["family"].isin(sec.families)]
        if sec.models is not None:
            table = table[table["model"].isin(sec.models)]
        cs = extract_curves(
            table, x=sec.x, along=sec.along, step=sec.step, ties=sec.ties,
            min_scales=sec.min_scales,
            tasks=list(sec.tasks) if sec.tasks is not None else None,
            metrics=list(sec.metrics) if sec.metrics is not None else None,
        )
        excl = cs.excluded.assign(section=sec.title)
        all_excl.append(excl)
        scores = emergence_scores(cs.curves).assign(section=sec.title)
        all_scores.append(scores)
        verd = pd.DataFrame()
        group_verd = pd.DataFrame()
        fitted: dict[int, pd.DataFrame] = {}
        if sec.verdicts and engine is not None and cs.curves:
            vt = engine.assess(cs.curves, seed=seed, n_boot=n_boot, progress=progress)
            verd = vt.to_frame().assign(section=sec.title)
            group_verd = vt.verdicts().assign(section=sec.title)
            all_verd.append(group_verd)
            all_curve_verd.append(verd)
            if hasattr(engine, "fitted_lines"):
                for i, c in enumerate(cs.curves):
                    fitted[i] = engine.fitted_lines(c)
        body.append(f"<h2 id='{anchor}'>{html.escape(sec.title)}</h2>")
        if sec.description:
            body.append(f"<p>{html.escape(sec.description)}</p>")
        body.append(
            f"<p class='muted'>x axis: {html.escape(SCALE_LABELS.get(sec.x, sec.x))} (log scale); "
            f"{len(cs.curves)} curves; {len(excl)} rows excluded"
            + (" (reasons below)" if len(excl) else "") + ".</p>"
        )
        if not group_verd.empty:
            body.append("<h3>Verdicts</h3>" + _fmt_table(group_verd.drop(columns=["section"])))
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(cs.curves):
            groups.setdefault((c.family, c.model, c.task, c.shots), []).append(i)
        for (fam, model, task, shots), idx in tqdm(
            groups.items(), desc=sec.title[:30], disable=not progress, unit="fig"
        ):
            # discontinuous metrics first, their continuous counterparts beside them
            idx = sorted(idx, key=lambda i: (cs.curves[i].info.kind != "discontinuous",
                                             cs.curves[i].metric))
            curves = [cs.curves[i] for i in idx]
            fits = {cs.curves[i].metric: fitted[i] for i in idx if i in fitted}
            g = sideplot(curves, interval=interval, fits=fits or None)
            name = _figure_name(si, model or fam, task, shots)
            path = out / "figures" / name
            g.savefig(path, dpi=90)
            plt.close(g.figure)
            figures.append(path)
            for c in curves:
                all_points.append(curve_points(c, interval=interval).assign(section=sec.title))
            who = model or fam
            body.append(f"<h3>{html.escape(str(who))} / {html.escape(task)}"
                        f"{'' if shots is None else f', {shots}-shot'}</h3>")
            body.append(f"<img src='figures/{name}' alt='{html.escape(task)}'>")
            sc = scores[(scores["task"] == task) & (scores["family"] == fam)]
            if model is not None:
                sc = sc[sc["model"] == model]
            if shots is not None:
                sc = sc[sc["shots"] == shots]
            cols = ["metric", "n_scales", "score", "unfloored_score", "floor_rule"]
            if not verd.empty:
                vsel = verd
                for k, v in (("task", task), ("family", fam), ("model", model), ("shots", shots)):
                    if k in vsel.columns and v is not None:
                        vsel = vsel[vsel[k] == v]
                show = [c for c in _CURVE_COLUMNS if c in vsel.columns]
                body.append(_fmt_table(vsel[show]))
            body.append("<p class='muted'>Emergence Score (floored at the noise of one step):</p>"
                        + _fmt_table(sc[cols]))
        if len(excl):
            reasons = excl.groupby("reason").size().rename("rows").reset_index()
            body.append("<h3>Excluded rows</h3>" + _fmt_table(reasons))
    points = pd.concat(all_points, ignore_index=True) if all_points else pd.DataFrame()
    scores = pd.concat(all_scores, ignore_index=True) if all_scores else pd.DataFrame()
    excluded = pd.concat(all_excl, ignore_index=True) if all_excl else pd.DataFrame()
    verdicts = pd.concat(all_verd, ignore_index=True) if all_verd else pd.DataFrame()
    tables.update({
        "points": out / "tables" / "points.csv",
        "emergence_scores": out / "tables" / "emergence_scores.csv",
        "excluded": out / "tables" / "excluded.csv",
    })
    # text cells that a spreadsheet would run as formulas are escaped (see emergence._csvsafe)
    write_csv(points, tables["points"])
    write_csv(scores, tables["emergence_scores"])
    write_csv(compact_excluded(excluded), tables["excluded"])  # per-item rows: one line per point
    if not verdicts.empty:
        tables["verdicts"] = out / "tables" / "verdicts.csv"
        write_csv(verdicts, tables["verdicts"])
        tables["verdict_curves"] = out / "tables" / "verdict_curves.csv"
        write_csv(pd.concat(all_curve_verd, ignore_index=True), tables["verdict_curves"])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    links = " ".join(f"<a href='{p.relative_to(out).as_posix()}'>{k}</a>" for k, p in tables.items())
    page = f"""<!doctype html><html><head><meta charset='utf-8'>
<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class='muted'>emergence {__version__}, {stamp}. Intervals: {html.escape(interval)} (binomial,
for accuracies with known item counts) or value &plusmn; 1.96 reported stderr. Dotted line: chance.
Tables: {links}.</p>
<nav>{' '.join(nav)}</nav>
{''.join(body)}
</body></html>"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return Report(out, index, tuple(figures), points, scores, excluded, verdicts, tables)
