"""HTML report: per task, every metric side by side against log scale, with intervals, chance,
Emergence Scores, excluded rows and verdicts.

The report renders an :class:`emergence.analysis.Analysis` (:func:`render_report`); it computes
nothing of its own. :func:`build_report` is :func:`emergence.analysis.analyze` followed by
:func:`render_report`. Rounding happens only when the HTML is written. Every table in the page is
also written as CSV under ``tables/``.

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

import concurrent.futures as cf
import hashlib
import html
import multiprocessing
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

from ._csvsafe import write_csv  # noqa: E402
from ._random import SeedLike  # noqa: E402
from ._validation import check_jobs  # noqa: E402
from ._version import __version__  # noqa: E402
from .analysis import (  # noqa: E402
    DEFAULT_ALPHA,
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    Analysis,
    Section,
    SectionAnalysis,
    _finite,
    _get,
    _match,
    _true,
    analyze,
    cited_break,
    curve_outcome,
    emergence_scores,
)
from .curves import Curve, compact_excluded  # noqa: E402
from .plots import SCALE_LABELS, sideplot  # noqa: E402
from .scaling.section import write_section  # noqa: E402

__all__ = ["ReportSection", "Report", "build_report", "render_report", "emergence_scores",
           "cited_break", "curve_outcome"]

#: The sections of a report are the sections of its analysis.
ReportSection = Section


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


def _draw_task_figure(curves, interval, fits, notes, points, path: Path) -> tuple[Path, str]:
    """Draw and save one task's figure (here or in a worker process): the PNG's path and its
    ``<img>`` size attributes."""
    from .plots import save_figure

    g = sideplot(curves, interval=interval, fits=fits, notes=notes, points=points)
    paths = save_figure(g.figure, path)
    plt.close(g.figure)
    return paths[0], _img_size(paths[0])


def _figure_pool(jobs: int) -> cf.ProcessPoolExecutor | None:
    """Worker processes for the figures (``spawn``: no state of this process is shared),
    or None for one process."""
    if jobs <= 1:
        return None
    return cf.ProcessPoolExecutor(max_workers=jobs,
                                  mp_context=multiprocessing.get_context("spawn"))


def _img_size(path: Path) -> str:
    """``width``/``height`` attributes that show a 200 dpi PNG at its printed size (half its
    pixels in CSS pixels), read from the PNG header; empty when the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return ""
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return ""
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return f" width='{w // 2}' height='{h // 2}'"


def _figure_name(*key) -> str:
    """File name of one figure: a readable slug plus a hash of the exact key, so that names
    differing only in characters the slug drops (``x/y``, ``x-y``, ``x y``) get distinct files."""
    digest = hashlib.sha256(repr(key).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return _slug("-".join(str(k) for k in key))[:100] + f"-{digest}.png"


# ---------------------------------------------------------------------------------------------
# reading the verdict table (every number shown comes from its columns)

#: What each verdict means, in plain words (shown once in the key).
VERDICT_KEY = {
    "candidate genuine transition": "an accelerating break (hinge or step) in latent per-token "
    "competence survives against a smooth null with floors and ceilings (Benjamini-Hochberg "
    "false discovery rate across all curves), under a metric that is not sharp in per-token "
    "error, and no slowdown fits the same curve better. A candidate, not a proof.",
    "metric artifact": "the jump is significant against a straight line in the raw metric (the "
    "apparent transition), but smooth latent competence explains it under every metric.",
    "underpowered": "no metric could be tested: too few scales, or fewer than three scales "
    "resolvably above the floor (chance) or below the ceiling (the 3/n limits). Not evidence "
    "either way.",
    "no transition": "neither an apparent nor a surviving accelerating break. A significant "
    "slowdown (saturation) is named in the reasons, never counted as emergence.",
}

#: Columns of the per-task tables, explained once in the key.
COLUMN_KEY = {
    "metric": "the metric of the panel (discontinuous ones first, continuous ones beside them).",
    "scales": "scales on the curve; for proportions, how many lie resolvably above the floor "
    "(chance + 3/n).",
    "status": "ok: tested; underpowered: too few (resolved) scales, not tested; error: could "
    "not be fitted (the reason follows).",
    "chance": "chance level used for the floor, and where it comes from (declared, task "
    "registry, unknown).",
    "null": "the smooth null the break is tested against: latent per-token competence through "
    "the metric's exact link (its fitted shape: a power law, or a logistic with nu and an "
    "irreducible-loss floor), or a straight line for metrics without a known link.",
    "accelerating break": "best break towards faster improvement (hinge = change of slope, step "
    "= jump) at 10^psi on the log x axis, with its parametric-bootstrap LRT q-value (columns "
    "pblrt_kind, pblrt_psi, pblrt_qvalue). Bold: q at or below the false discovery rate.",
    "slowdown": "best break towards slower improvement (saturation) at 10^psi, with its q-value "
    "(decel_kind, decel_psi, decel_qvalue).",
    "raw jump": "the apparent break: the same test against a straight line in the raw metric "
    "(naive_qvalue). Significant here but not against the smooth null: the null explains the jump.",
    "ES": "Emergence Score (BIG-bench breakthroughness, Srivastava et al. 2022): range over the "
    "median step, floored at the noise of one step. A screen, not a test; comparable only "
    "between bounded metrics.",
    "drawn": "what the figure shows for the curve: the cited break with the smooth null, the "
    "null alone, or nothing (not tested).",
}

#: Per-curve outcome labels (the cells of the verdict map) and their colours.
OUTCOMES = {
    "accelerating break": "#c0392b",
    "accelerating curvature": "#e67e22",
    "apparent jump, smooth null explains it": "#2e86c1",
    "slowdown (saturation)": "#7d3c98",
    "below chance": "#f1c40f",
    "no break": "#b3b6b7",
    "duplicate of another metric": "#d5d8dc",
    "underpowered": "#f4f6f6",
    "not tested": "#424949",
}

VERDICT_COLORS = {
    "candidate genuine transition": "#c0392b",
    "metric artifact": "#2e86c1",
    "underpowered": "#b7950b",
    "no transition": "#7f8c8d",
}


def _split_reasons(text: str, metrics: Sequence[str]) -> list[str]:
    """The reasons of a verdict row as a list (the ``reasons`` column joins them with "; ").

    A piece starts a new reason when it begins with one of the group's metrics followed by a
    colon or with a known lead-in; other pieces continue the reason before them.
    """
    if not isinstance(text, str) or not text:
        return []
    starts = tuple(f"{m}{sep}" for m in metrics for sep in (":", ",")) + (
        "limits:", "seed variance", "not confirmed", "no continuous", "no accelerating",
        "no metric", "no surviving", "one model per scale", "run-to-run")
    out: list[str] = []
    for piece in text.split("; "):
        if out and not piece.startswith(starts):
            out[-1] += "; " + piece
        else:
            out.append(piece)
    return out


def _reason_list(grow) -> list[str]:
    given = _get(grow, "reason_list", None)
    if isinstance(given, list | tuple):
        return [str(x) for x in given]
    metrics = [m.strip() for m in str(_get(grow, "metrics", "")).split(",") if m.strip()]
    return _split_reasons(str(_get(grow, "reasons", "")), metrics)


# ---------------------------------------------------------------------------------------------
# HTML pieces

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
line-height:1.45;font-size:15px}
.layout{display:grid;grid-template-columns:250px minmax(0,1fr);max-width:1380px;margin:0 auto}
nav.side{position:sticky;top:0;height:100vh;overflow-y:auto;overflow-x:hidden;padding:1em .6em;
border-right:1px solid #e5e5e5;font-size:12.5px;background:#fafafa}
nav.side a{text-decoration:none;color:#1a5276;display:block;overflow-wrap:anywhere;
padding:1px 0}
nav.side a:hover{text-decoration:underline}
nav.side .sec{font-weight:600;margin-top:.7em}
nav.side ul{list-style:none;padding-left:.5em;margin:.1em 0}
main{padding:0 1.6em 4em 1.6em;min-width:0}
h1{font-size:1.45em;margin:.6em 0 .1em 0} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:2em} h3{margin-bottom:.2em}
#summary h3{margin:.6em 0 .1em 0} #summary p{margin:.35em 0}
table.tbl tr.grp td{background:#fbfbfb;font-weight:600;color:#555;padding-top:.4em}
.muted{color:#666;font-size:.9em}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0;display:block}
.scroll{max-width:100%;overflow-x:auto}
table.tbl{border-collapse:collapse;font-size:.82em;margin:.5em 0;max-width:100%}
table.tbl th,table.tbl td{border-bottom:1px solid #e3e3e3;padding:.2em .5em;text-align:left;
vertical-align:top;overflow-wrap:break-word}
table.tbl td.nw{white-space:nowrap}
table.tbl th{background:#f5f5f5}
table.tbl td.why{min-width:18em}
.verdict{font-weight:600;white-space:nowrap;border-radius:3px;padding:0 .35em;color:#fff;
font-size:.9em}
.v-candidate{background:#c0392b}.v-artifact{background:#2e86c1}.v-underpowered{background:#b7950b}
.v-none{background:#7f8c8d}
details.task{border:1px solid #e5e5e5;border-radius:4px;margin:.5em 0;padding:.2em .8em}
details.task>summary{cursor:pointer;font-weight:600;padding:.2em 0}
details.task[open]>summary{border-bottom:1px solid #eee;margin-bottom:.4em}
ul.why{margin:.2em 0 .6em 1.2em;padding:0} ul.why li{margin:.1em 0}
.counts{font-size:1.05em}
.caveat{background:#fdf6e3;border-left:3px solid #e0c068;padding:.3em .8em;margin:.5em 0;
font-size:.9em}
dl.key dt{font-weight:600;margin-top:.3em} dl.key dd{margin-left:1.2em}
figure{margin:.5em 0} figcaption{font-size:.85em;color:#555}
"""

_BADGE = {"candidate genuine transition": "v-candidate", "metric artifact": "v-artifact",
          "underpowered": "v-underpowered", "no transition": "v-none"}


def _badge(verdict: str) -> str:
    return (f"<span class='verdict {_BADGE.get(verdict, 'v-none')}'>"
            f"{html.escape(str(verdict))}</span>")


def _fmt_table(df: pd.DataFrame, max_rows: int = 60, escape: bool = True) -> str:
    if df is None or df.empty:
        return "<p class='muted'>none</p>"
    shown = df.head(max_rows).copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    more = (f"<p class='muted'>{len(df) - max_rows} more rows in the CSV.</p>"
            if len(df) > max_rows else "")
    return ("<div class='scroll'>" + shown.to_html(index=False, border=0, classes="tbl",
                                                   na_rep="", escape=escape) + "</div>" + more)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, ids=None,
                classes: Sequence[str] | None = None) -> str:
    """A table from cells that are already HTML."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for i, r in enumerate(rows):
        rid = f" id='{ids[i]}'" if ids is not None and ids[i] else ""
        cells = "".join(
            f"<td class='{classes[j]}'>{c}</td>" if classes and classes[j] else f"<td>{c}</td>"
            for j, c in enumerate(r))
        body.append(f"<tr{rid}>{cells}</tr>")
    return (f"<div class='scroll'><table class='tbl'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _q(v) -> str:
    if not _finite(v):
        return ""
    v = float(v)
    return f"{v:.2g}" if v < 0.001 else f"{v:.3f}"


def _es_cell(row, score_row, info) -> str:
    """The Emergence Score, once, with what limits it."""
    es = _get(row, "es", np.nan) if row is not None else np.nan
    floored = _true(_get(row, "es_floor_applied", False))
    if not _finite(es) and score_row is not None:
        es = score_row.get("score", np.nan)
        floored = floored or (score_row.get("floor_rule", "") not in ("", "none")
                              and _finite(score_row.get("unfloored_score"))
                              and score_row.get("unfloored_score") != es)
    if es is None or (isinstance(es, float) and np.isnan(es)):
        return ""
    if not _finite(es):
        return "&infin; (no step-to-step change below the largest: not comparable)"
    txt = f"{float(es):.3g}"
    if floored:
        txt += " (floored)"
    if info is not None and (np.isinf(info.upper) or np.isinf(info.lower)):
        txt += " <em>unbounded metric: not comparable across metrics or tasks</em>"
    return txt


def _curve_cells(c: Curve, row, score_row, drawn: str, alpha: float) -> dict[str, str]:
    """Cells (HTML) of one curve's row in its task table, keyed by :data:`COLUMN_KEY` names."""
    e = html.escape
    n = int(_get(row, "n_scales")) if _finite(_get(row, "n_scales")) else c.n_scales
    scales = str(n)
    if _finite(_get(row, "resolved_scales")) and c.info.is_proportion:
        scales += f" ({int(_get(row, 'resolved_scales'))} resolved)"
    status = str(_get(row, "status", "not assessed")) if row is not None else "not assessed"
    cells = {"metric": e(c.metric), "scales": scales}
    ch = _get(row, "chance", c.chance)
    if _finite(ch):
        src = _get(row, "chance_source", "")
        cells["chance"] = f"{float(ch):g}" + (f" ({e(src)})" if isinstance(src, str) and src
                                               else "")
    if status == "ok":
        kind = str(_get(row, "pblrt_kind", "none"))
        if _finite(_get(row, "pblrt_psi")) and kind not in ("none", "nan"):
            acc = f"{e(kind)} at 10^{float(_get(row, 'pblrt_psi')):.2f}, q={_q(_get(row, 'pblrt_qvalue'))}"
        else:
            acc = f"none, q={_q(_get(row, 'pblrt_qvalue'))}" if _finite(_get(row, "pblrt_qvalue")) else ""
        if _finite(_get(row, "pblrt_qvalue")) and float(_get(row, "pblrt_qvalue")) <= alpha and acc:
            acc = f"<b>{acc}</b>"
        cells["accelerating break"] = acc
        kind = str(_get(row, "decel_kind", "none"))
        if _finite(_get(row, "decel_psi")) and kind not in ("none", "nan"):
            slow = f"{e(kind)} at 10^{float(_get(row, 'decel_psi')):.2f}, q={_q(_get(row, 'decel_qvalue'))}"
            if _finite(_get(row, "decel_qvalue")) and float(_get(row, "decel_qvalue")) <= alpha:
                slow = f"<b>{slow}</b>"
            cells["slowdown"] = slow
        if _finite(_get(row, "naive_qvalue")):
            cells["raw jump"] = f"q={_q(_get(row, 'naive_qvalue'))}"
        dup = _get(row, "degenerate_of", "")
        if isinstance(dup, str) and dup:
            status = f"ok; a function of {dup} on these items (no evidence of its own)"
    elif row is not None:
        reason = str(_get(row, "reason", ""))
        status = f"{status}: {reason}" if reason else status
    cells["status"] = e(status)
    null = _get(row, "null_model", "")
    cells["null"] = e(null) if isinstance(null, str) else ""
    cells["ES"] = _es_cell(row, score_row, c.info)
    cells["drawn"] = e(drawn)
    return cells


def _headline(tk: _Task, xlabel: str, alpha: float) -> str:
    """One plain sentence on why a task got its verdict, read from its verdict rows."""
    rows = [(c, r) for c, r in tk.rows if r is not None]
    parts: list[str] = []
    if tk.verdict == "candidate genuine transition":
        for c, r in rows:
            cb = cited_break(r, alpha)
            if curve_outcome(r) == "accelerating break" and cb:
                parts.append(f"{c.metric} improves faster after 10^{cb['psi']:.2f} {xlabel} "
                             f"({cb['kind']}) than smooth competence allows "
                             f"(q={_q(_get(r, 'pblrt_qvalue'))})")
        parts += [x for x in tk.reasons if x.startswith("no surviving break under")]
    elif tk.verdict == "metric artifact":
        for c, r in rows:
            if curve_outcome(r) == "apparent jump, smooth null explains it":
                parts.append(f"{c.metric} jumps against a straight line "
                             f"(q={_q(_get(r, 'naive_qvalue'))}), but smooth competence explains "
                             f"the jump (break q={_q(_get(r, 'pblrt_qvalue'))})")
    elif tk.verdict == "no transition":
        tested = [c.metric for c, r in rows if str(_get(r, "status", "")) == "ok"]
        parts.append(f"no accelerating break under {', '.join(tested)}" if tested else
                     "no accelerating break")
        for c, r in rows:
            cb = cited_break(r, alpha)
            if cb and cb["direction"] == "decelerating":
                parts.append(f"{c.metric} saturates: improvement slows after "
                             f"10^{cb['psi']:.2f} {xlabel}")
    if not parts and tk.reasons:
        parts.append(tk.reasons[0])
    return "; ".join(parts)


@dataclass
class _Task:
    """One task block of a curve section (internal)."""

    section: int
    anchor: str
    family: str
    model: str | None
    task: str
    shots: int | None
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    headline: str = ""
    rows: list = field(default_factory=list)
    figure: str = ""
    size: str = ""
    drawn: dict = field(default_factory=dict)

    @property
    def who(self) -> str:
        return str(self.model or self.family)

    @property
    def name(self) -> str:
        return f"{self.task}{'' if self.shots is None else f', {self.shots}-shot'}"


# ---------------------------------------------------------------------------------------------


def _scaling_section(sa: SectionAnalysis, out: Path, *, anchor: str, pool=None) -> dict:
    """Scaling-law part of the report: the figures, tables and notes of the section's fits
    (figures drawn by ``pool``'s processes when given)."""
    sec = sa.section
    sub = out / anchor  # each scaling section in its own folder: file names do not collide
    res = write_section(sa.scaling, sub, pool=pool)
    parts = [f"<h2 id='{anchor}'>{html.escape(sec.title)}</h2>"]
    if sec.description:
        parts.append(f"<p>{html.escape(sec.description)}</p>")
    for note in res.get("notes", []):
        parts.append(f"<p class='muted'>{html.escape(str(note))}</p>")
    figs = []
    nav = []
    for k, f in enumerate(res.get("figures", [])):
        fid = f"{anchor}-f{k}"
        nav.append((fid, f["title"]))
        rel = f"{anchor}/{Path(f['path']).as_posix()}"
        svg = rel[:-4] + ".svg" if rel.endswith(".png") and (sub / (f["path"][:-4] + ".svg")
                                                              ).exists() else ""
        flag = (f"<p class='caveat'>{html.escape(f['flag'])}</p>" if f.get("flag") else "")
        link = f" <a href='{html.escape(svg)}'>SVG</a>" if svg else ""
        parts.append(
            f"<details class='task' id='{fid}' open><summary>{html.escape(f['title'])}</summary>"
            f"{flag}<figure><img src='{html.escape(rel)}'{_img_size(sub / f['path'])} "
            f"alt='{html.escape(f['title'])}'>"
            f"<figcaption>{html.escape(f.get('caption', ''))}{link}</figcaption></figure>"
            "</details>")
        figs.append(sub / f["path"])
    tabs = {}
    for t in res.get("tables", []):
        parts.append(f"<h3>{html.escape(t['title'])}</h3>")
        if t.get("note"):
            parts.append(f"<p class='muted'>{html.escape(t['note'])}</p>")
        parts.append(_fmt_table(t["frame"], max_rows=25))
        tabs[f"{anchor}-{Path(t['path']).stem}"] = sub / t["path"]
    return {"html": "".join(parts), "figures": figs, "tables": tabs, "nav": nav}


def build_report(
    sections: Sequence[Section],
    *,
    out_dir: str | Path = "emergence-report",
    title: str = "emergence report",
    interval: str = "wilson",
    seed: SeedLike = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
    alpha: float = DEFAULT_ALPHA,
    progress: bool = True,
    jobs: int = 1,
) -> Report:
    """Analyse ``sections`` and write the HTML report: :func:`emergence.analysis.analyze`, then
    :func:`render_report`.

    Parameters
    ----------
    sections : sequence of ReportSection
    out_dir : path, default="emergence-report"
    title : str
    interval : str, default="wilson"
        Binomial interval method for proportions (``"wilson"`` or ``"jeffreys"``, ...).
    seed : int, SeedSequence, Generator or None, default=0
        Seed for every bootstrap (tests, verdicts and scaling fits), as in
        :func:`emergence.analysis.analyze`.
    n_boot : int, default=999
        Bootstrap replicates for every test and scaling fit.
    alpha : float, default=0.05
        False discovery rate of the verdicts.
    progress : bool, default=True
        Show progress bars.
    jobs : int, default=1
        Processes that draw the figures (:func:`render_report`).

    Returns
    -------
    Report
    """
    an = analyze(sections, seed=seed, n_boot=n_boot, alpha=alpha, interval=interval,
                 progress=progress)
    return render_report(an, out_dir=out_dir, title=title, progress=progress, jobs=jobs)


def render_report(
    analysis: Analysis,
    *,
    out_dir: str | Path = "emergence-report",
    title: str = "emergence report",
    progress: bool = True,
    jobs: int = 1,
) -> Report:
    """Write the HTML report of an :class:`~emergence.analysis.Analysis` (``index.html``,
    ``figures/*.png`` and ``.svg``, ``tables/*.csv``).

    The page answers first: verdict counts, a table of every candidate and artifact with its
    main reason and a map of every task's outcome under each metric; then a key to the verdicts
    and columns, and one folding block per task with its figure, reasons and per-curve tests.
    Every number shown is read from the analysis (its verdict tables, fitted lines, Emergence
    Scores, points and scaling fits); nothing is tested, fitted or resampled here. The page needs
    no JavaScript.

    Parameters
    ----------
    analysis : Analysis
    out_dir : path, default="emergence-report"
    title : str
    progress : bool, default=True
        Show progress bars.
    jobs : int, default=1
        Processes that draw the figures, task and scaling sections alike (``spawn`` workers; 1
        draws them in this process).
        The figures are the same either way; the page and the tables are written here.

    Returns
    -------
    Report
    """
    from tqdm.auto import tqdm

    from .plots import lines_within_data, plot_verdict_map, save_figure

    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    interval = analysis.interval
    alpha = analysis.alpha
    figures: list[Path] = []
    all_curve_verd = []
    tables: dict[str, Path] = {}
    sec_html: list[str] = []
    nav: list[str] = []
    tasks_all: list[_Task] = []
    cells: list[dict] = []
    line_rows: list[dict] = []
    sec_names: dict[int, str] = {}
    jobs = check_jobs(jobs, "jobs", "processes that draw the figures")
    # workers for at most as many figures as there are (a scaling section has several)
    n_figs = sum(len({(c.family, c.model, c.task, c.shots) for c in sa.curves})
                 if sa.section.kind != "scaling" else jobs for sa in analysis.sections)
    pool = _figure_pool(min(jobs, n_figs))
    try:
        for si, sa in enumerate(analysis.sections):
            sec = sa.section
            anchor = f"s{si}"
            sec_names[si] = sec.title
            if sec.kind == "scaling":
                part = _scaling_section(sa, out, anchor=anchor, pool=pool)
                sec_html.append(part["html"])
                figures.extend(part["figures"])
                tables.update(part["tables"])
                items = "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>"
                                for a, t in part["nav"])
                nav.append(f"<a class='sec' href='#{anchor}'>{html.escape(sec.title)}</a>"
                           f"<ul>{items}</ul>")
                continue
            excl = sa.excluded
            scores = sa.scores
            verd = sa.curve_verdicts
            group_verd = sa.verdicts
            if not verd.empty:
                all_curve_verd.append(verd)
            curves_all = list(sa.curves)
            pos = {id(c): i for i, c in enumerate(curves_all)}
            groups: dict[tuple, list[int]] = {}
            for i, c in enumerate(curves_all):
                groups.setdefault((c.family, c.model, c.task, c.shots), []).append(i)
            sec_tasks: list[_Task] = []
            drawing: list[tuple[_Task, object]] = []
            # the bar counts figures drawn (by workers: as their results come back, in task order)
            bar = tqdm(total=len(groups), desc=sec.title[:30], disable=not progress, unit="fig")
            for k, ((fam, model, task, shots), idx) in enumerate(groups.items()):
                # discontinuous metrics first, their continuous counterparts beside them
                idx = sorted(idx, key=lambda i: (curves_all[i].info.kind != "discontinuous",
                                                 curves_all[i].metric))
                curves = [curves_all[i] for i in idx]
                tk = _Task(si, f"{anchor}-t{k}", fam, model, task, shots)
                key = {"family": fam, "model": model, "task": task, "shots": shots}
                if not group_verd.empty:
                    g = _match(group_verd, key)
                    if len(g):
                        tk.verdict = str(g["verdict"].iloc[0])
                        tk.reasons = _reason_list(g.iloc[0])
                        lim = _get(g.iloc[0], "limits", "")
                        tk.limits = [x for x in str(lim).split("; ") if x] if isinstance(
                            lim, str) else []
                        h = _get(g.iloc[0], "headline", "")
                        tk.headline = h if isinstance(h, str) else ""
                fits, notes, drawn = {}, {}, {}
                pts = {c.metric: sa.points_of(c) for c in curves}
                for c in curves:
                    i = pos[id(c)]
                    row = sa.row_of(c)
                    tk.rows.append((c, row))
                    if row is not None:
                        lines, note = sa.lines[i], sa.line_notes[i]
                        if lines is not None:
                            kept, dropped = lines_within_data(c, lines, interval=interval,
                                                              points=pts[c.metric])
                            fits[c.metric] = kept
                            if dropped:
                                note += ("; " if note else "") + (
                                    f"not drawn: {', '.join(dropped)} line outside the data's range")
                            for name, f in kept.groupby("model", sort=False):
                                # "null" would read back as a missing value from CSV
                                line_rows.append({**c.key, "section": sec.title,
                                                  "line": "smooth null" if name == "null" else name,
                                                  "drawn": True, "psi": f["psi"].iloc[0]
                                                  if "psi" in f.columns else np.nan,
                                                  "x_min": f["x"].min(), "x_max": f["x"].max(),
                                                  "y_min": f["y"].min(), "y_max": f["y"].max()})
                            line_rows.extend({**c.key, "section": sec.title,
                                              "line": "smooth null" if name == "null" else name,
                                              "drawn": False} for name in dropped)
                        notes[c.metric] = note
                        drawn[c.metric] = note
                        cells.append({"section": si, "anchor": tk.anchor, "metric": c.metric,
                                      "outcome": sa.outcomes[i]})
                name = _figure_name(si, model or fam, task, shots)[:-4]  # .png and .svg
                job = (curves, interval, fits or None, notes or None, pts,
                       out / "figures" / name)
                if pool is not None:
                    drawing.append((tk, pool.submit(_draw_task_figure, *job)))
                else:
                    drawing.append((tk, _draw_task_figure(*job)))
                    bar.update(1)
                tk.figure = f"figures/{name}"
                tk.drawn = drawn
                if tk.verdict and not tk.headline:
                    tk.headline = _headline(tk, SCALE_LABELS.get(sec.x, sec.x), alpha)
                sec_tasks.append(tk)
            for tk, res in drawing:  # in task order, whichever process drew them
                if isinstance(res, cf.Future):
                    png, tk.size = res.result()
                    bar.update(1)
                else:
                    png, tk.size = res
                figures.append(png)
            bar.close()
            tasks_all.extend(sec_tasks)
            sec_html.append(_section_html(sec, anchor, sec_tasks, excl, len(curves_all), scores,
                                          alpha))
            many_who = len({t.who for t in sec_tasks}) > 1
            items = "".join(
                f"<li><a href='#{t.anchor}'>{html.escape(t.name)}"
                + (f" ({html.escape(t.who)})" if many_who else "")
                + (f" <span class='verdict {_BADGE.get(t.verdict, 'v-none')}' "
                   f"title='{html.escape(t.verdict)}'>{t.verdict[:1].upper()}</span>"
                   if t.verdict else "") + "</a></li>"
                for t in sec_tasks)
            nav.append(f"<a class='sec' href='#{anchor}'>{html.escape(sec.title)}</a>"
                       f"<ul>{items}</ul>")
    finally:
        if pool is not None:  # interrupted or done: no figure is left waiting for a worker
            pool.shutdown(wait=False, cancel_futures=True)
    points = analysis.points
    scores = analysis.scores
    excluded = analysis.excluded
    verdicts = analysis.verdicts
    tables.update({
        "points": out / "tables" / "points.csv",
        "emergence_scores": out / "tables" / "emergence_scores.csv",
        "excluded": out / "tables" / "excluded.csv",
    })
    # text cells that a spreadsheet would run as formulas are escaped (see emergence._csvsafe)
    write_csv(points, tables["points"])
    write_csv(scores, tables["emergence_scores"])
    write_csv(compact_excluded(excluded), tables["excluded"])  # per-item rows: one line per point
    if line_rows:  # what each figure draws, so that figures can be checked against verdicts
        tables["figure_lines"] = out / "tables" / "figure_lines.csv"
        write_csv(pd.DataFrame(line_rows), tables["figure_lines"])
    if not verdicts.empty:
        tables["verdicts"] = out / "tables" / "verdicts.csv"
        write_csv(verdicts, tables["verdicts"])
        tables["verdict_curves"] = out / "tables" / "verdict_curves.csv"
        write_csv(pd.concat(all_curve_verd, ignore_index=True), tables["verdict_curves"])
    map_html = ""
    if cells:
        frame = pd.DataFrame(cells)
        labels = {t.anchor: (f"{t.who} / {t.name}" if t.model or len(
            {x.family for x in tasks_all if x.section == t.section}) > 1 else t.name)
            for t in tasks_all}
        frame["row"] = frame["anchor"].map(labels)
        frame["verdict"] = frame["anchor"].map({t.anchor: t.verdict for t in tasks_all})
        frame["section_title"] = frame["section"].map(sec_names)
        fig = plot_verdict_map(frame, outcome_colors=OUTCOMES, verdict_colors=VERDICT_COLORS)
        mp = save_figure(fig, out / "figures" / "verdict_map")
        plt.close(fig)
        figures.append(mp[0])
        map_html = (
            "<figure id='verdict-map'><a href='figures/verdict_map.svg'><img "
            f"src='figures/verdict_map.png'{_img_size(mp[0])} alt='verdict of every task (rows) "
            "under every metric (columns)'></a><figcaption>Every task (rows, grouped by section; "
            "the left column is the task's verdict) under every metric (columns): the outcome "
            "of that curve's tests. Blank: metric not shown for the task. Click a task in the tables or the "
            "navigation to see its figure.</figcaption></figure>")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    links = " ".join(f"<a href='{p.relative_to(out).as_posix()}'>{html.escape(k)}</a>"
                     for k, p in tables.items())
    summary = _summary_html(tasks_all, sec_names, map_html)
    key = _key_html(interval, alpha)
    nav_html = ("<nav class='side' aria-label='contents'><a class='sec' href='#summary'>Summary"
                "</a><a class='sec' href='#key'>Key to verdicts and columns</a>"
                + "".join(nav) + "<a class='sec' href='#tables'>Tables (CSV)</a></nav>")
    page = f"""<!doctype html><html lang='en'><head><meta charset='utf-8'>
<meta name='viewport' content='width=device-width, initial-scale=1'>
<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><div class='layout'>
{nav_html}
<main>
<h1>{html.escape(title)}</h1>
<p class='muted'>emergence {__version__}, {stamp}. Every number on this page is in the
<a href='#tables'>CSV tables</a>.</p>
{summary}
{key}
{''.join(sec_html)}
<h2 id='tables'>Tables</h2><p>Every table behind the page, as CSV: {links}.</p>
</main></div></body></html>"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return Report(out, index, tuple(figures), points, scores, excluded, verdicts, tables)


def _task_html(tk: _Task, scores: pd.DataFrame, alpha: float) -> str:
    e = html.escape
    cells = []
    for c, row in tk.rows:
        sc = _match(scores, {**{k: c.key[k] for k in ("family", "model", "task", "shots")},
                             "metric": c.metric})
        srow = sc.iloc[0].to_dict() if len(sc) else None
        cells.append(_curve_cells(c, row, srow, tk.drawn.get(c.metric, ""), alpha))
    # columns in the key's order, only those with something to show
    header = [k for k in ("metric", "scales", "status", "chance", "null", "accelerating break",
                          "slowdown", "raw jump", "ES", "drawn")
              if any(r.get(k) for r in cells) or k == "metric"]
    rows = [[r.get(k, "") for k in header] for r in cells]
    fig_id = f"fig-{tk.anchor}"
    back = (f"<a href='#v-{tk.anchor}'>&uarr; verdict row</a> &middot; " if tk.verdict else "")
    if tk.verdict in ("candidate genuine transition", "metric artifact"):
        back += f"<a href='#sum-{tk.anchor}'>&uarr; summary</a> &middot; "
    why = ""
    if tk.reasons:
        why = "<ul class='why'>" + "".join(f"<li>{e(r)}</li>" for r in tk.reasons) + "</ul>"
    if tk.limits:
        why += ("<p class='muted'>Limits: " + "; ".join(e(x) for x in tk.limits) + ".</p>")
    opened = " open" if tk.verdict in ("candidate genuine transition", "metric artifact") \
        else ""
    head = f"{e(tk.who)} / {e(tk.name)}"
    return (
        f"<details class='task' id='{tk.anchor}'{opened}><summary>{head} "
        f"{_badge(tk.verdict) if tk.verdict else ''}</summary>"
        f"{why}<figure id='{fig_id}'><a href='{tk.figure}.svg'><img src='{tk.figure}.png'"
        f"{tk.size} "
        f"alt='{e(tk.task)}: every metric against scale'></a>"
        f"<figcaption>{back}<a href='{tk.figure}.svg'>SVG</a> &middot; marks as in the "
        "<a href='#key'>key</a>: the break line is the one the verdict cites; untested curves "
        "get no line.</figcaption></figure>"
        + _html_table([e(h) for h in header], rows) + "</details>")


def _section_html(sec: ReportSection, anchor: str, tasks: list[_Task], excl: pd.DataFrame,
                  n_curves: int, scores: pd.DataFrame, alpha: float) -> str:
    e = html.escape
    parts = [f"<h2 id='{anchor}'>{e(sec.title)}</h2>"]
    if sec.description:
        parts.append(f"<p>{e(sec.description)}</p>")
    parts.append(
        f"<p class='muted'>x axis: {e(SCALE_LABELS.get(sec.x, sec.x))} (log scale); "
        f"{n_curves} curves in {len(tasks)} tasks; {len(excl)} table rows excluded"
        + (" (reasons at the end of the section)" if len(excl) else "") + ".</p>")
    # caveats every verdict of the section shares are said once here
    common = _common_reasons(tasks)
    judged = [t for t in tasks if t.verdict]
    common_lim = ([x for x in judged[0].limits if all(x in t.limits for t in judged)]
                  if len(judged) >= 2 else [])
    if common or common_lim:
        parts.append("<div class='caveat'><b>For every verdict in this section:</b><ul>"
                     + "".join(f"<li>{e(r)}</li>" for r in common + common_lim)
                     + "</ul></div>")
        for t in tasks:
            t.reasons = [r for i, r in enumerate(t.reasons) if i == 0 or r not in common]
            t.limits = [x for x in t.limits if x not in common_lim]
    if sec.along == "step":
        psis = []
        for t in tasks:
            for _, row in t.rows:
                cb = cited_break(row) if row is not None else None
                if cb and cb["direction"] == "accelerating" and t.verdict == \
                        "candidate genuine transition":
                    psis.append(cb["psi"])
        txt = ("Across training, x is the number of tokens one run has seen. A break across "
               "checkpoints is a change within one training run (learning-rate warm-up and "
               "schedule, an early-training phase), not a transition across model scale.")
        if psis:
            txt += (f" The candidates of this section cite accelerating breaks at "
                    f"10^{min(psis):.2f} to 10^{max(psis):.2f} {SCALE_LABELS.get(sec.x, sec.x)}"
                    " for every model: read them as one phase of training.")
        parts.append(f"<p class='caveat'>{e(txt)}</p>")
    if any(t.verdict for t in tasks):
        rows, ids = [], []
        one_who = len({t.who for t in tasks}) == 1
        for t in tasks:
            name = e(t.name) if one_who else f"{e(t.who)} / {e(t.name)}"
            rows.append([_badge(t.verdict) if t.verdict else "",
                         f"<a href='#{t.anchor}'>{name}</a> &middot; "
                         f"<a href='#fig-{t.anchor}'>figure</a>", e(t.headline)])
            ids.append(f"v-{t.anchor}")
        who = f" ({e(tasks[0].who)})" if one_who and tasks else ""
        parts.append(f"<h3>Verdicts{who}</h3>" + _html_table(
            ["verdict", "task", "why, in short (every reason under the task)"], rows, ids=ids,
            classes=["", "nw", "why"]))
    for t in tasks:
        parts.append(_task_html(t, scores, alpha))
    if len(excl):
        reasons = excl.groupby("reason").size().rename("rows").reset_index()
        parts.append("<h3>Excluded rows</h3>" + _fmt_table(reasons))
    return "".join(parts)


def _common_reasons(tasks: list[_Task]) -> list[str]:
    with_v = [t for t in tasks if t.reasons]
    if len(with_v) < 2:
        return []
    sets = [set(t.reasons[1:]) for t in with_v]
    common = set.intersection(*sets)
    return [r for r in with_v[0].reasons if r in common]


def _summary_html(tasks: list[_Task], sec_names: dict[int, str], map_html: str) -> str:
    e = html.escape
    judged = [t for t in tasks if t.verdict]
    if not judged:
        return (f"<section id='summary'><p>{len(tasks)} tasks shown; no verdicts were "
                "computed (statistics engine not run).</p>" + map_html + "</section>")
    counts = {v: sum(t.verdict == v for t in judged) for v in VERDICT_KEY}
    for t in judged:
        counts.setdefault(t.verdict, sum(x.verdict == t.verdict for x in judged))
    secs = sorted({t.section for t in judged})
    line = ", ".join(f"<b>{counts[v]}</b> {_badge(v)}" for v in counts if counts[v])
    parts = ["<section id='summary'>",
             f"<p class='counts'>{len(judged)} tasks judged in {len(secs)} sections: {line}. "
             "<a href='#key'>What the verdicts mean</a>.</p>"]
    under = [t for t in judged if t.verdict == "underpowered"]
    if under:
        parts.append(f"<p>{_badge('underpowered')} {len(under)} tasks have too few scales, or "
                     "too few resolvably above chance, to test (not evidence either way): "
                     + ", ".join(f"<a href='#{t.anchor}'>{e(t.who)} / {e(t.name)}</a>"
                                 for t in under) + ".</p>")
    none = [t for t in judged if t.verdict == "no transition"]
    if none:
        sat = sum(any(cited_break(r) and cited_break(r)["direction"] == "decelerating"
                      for _, r in t.rows) for t in none)
        parts.append(f"<p>{_badge('no transition')} {len(none)} tasks show no accelerating "
                     "break against a straight line or smooth competence"
                     + (f"; in {sat} of them improvement slows down (saturation)" if sat else "")
                     + ". They are listed per section below.</p>")
    top = [t for t in judged if t.verdict in ("candidate genuine transition", "metric artifact")]
    if top:
        body = []
        for si in secs:
            st = sorted([t for t in top if t.section == si],
                        key=lambda t: t.verdict != "candidate genuine transition")
            if not st:
                continue
            body.append(f"<tr class='grp'><td colspan='3'><a href='#s{si}'>"
                        f"{e(sec_names[si])}</a></td></tr>")
            for t in st:
                body.append(
                    f"<tr id='sum-{t.anchor}'><td>{_badge(t.verdict)}</td>"
                    f"<td class='nw'><a href='#{t.anchor}'>{e(t.who)} / {e(t.name)}</a> "
                    f"&middot; <a href='#fig-{t.anchor}'>figure</a></td>"
                    f"<td class='why'>{e(t.headline)}</td></tr>")
        parts.append("<div class='scroll'>"
                     "<table class='tbl'><thead><tr><th>verdict</th><th>task</th>"
                     "<th>candidates and artifacts: why, in short</th></tr></thead><tbody>" + "".join(body)
                     + "</tbody></table></div>")
    parts.append(map_html)
    parts.append("</section>")
    return "".join(parts)


def _short_section(title: str) -> str:
    return title.split(" (")[0] if len(title) > 40 else title


def _key_html(interval: str, alpha: float) -> str:
    e = html.escape
    verdicts = "".join(f"<dt>{_badge(v)}</dt><dd>{e(t)}</dd>" for v, t in VERDICT_KEY.items())
    cols = "".join(f"<dt>{e(k)}</dt><dd>{e(t)}</dd>" for k, t in COLUMN_KEY.items())
    outs = "".join(
        f"<dt><span style='display:inline-block;width:.9em;height:.9em;background:{c};"
        f"border:1px solid #999'></span> {e(k)}</dt>" for k, c in OUTCOMES.items())
    return f"""<section id='key'><h2>Key to verdicts and columns</h2>
<details><summary>Verdicts, columns, figure marks (said once for the whole page)</summary>
<h3>Verdicts</h3><dl class='key'>{verdicts}</dl>
<h3>Columns of the per-task tables</h3><dl class='key'>{cols}</dl>
<h3>Outcome of one curve (cells of the verdict map)</h3><dl class='key'>{outs}</dl>
<h3>Figures</h3><p>Points: observed values; bars: {e(interval)} binomial intervals for proportions
with known item counts, otherwise value &plusmn; 1.96 reported standard errors. Hollow points lie
on the wrong side of chance. Dotted grey: chance (labelled); orange dots: resolution limit
(chance + 3/n, labelled). Dashed: the fitted smooth null, drawn only on tested curves; dash-dot
with a vertical mark at 10^psi: the break the verdict cites (red: faster improvement, purple:
improvement slows). Lines are drawn only over the data's scales and inside the data's range.
Significance: Benjamini-Hochberg q &le; {alpha:g} across all curves of a section (bold in the
tables). PNG at 200 dpi, SVG beside it.</p></details></section>"""
