"""The analysis layer: one call computes what the report shows; the report only renders it."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from emergence import analysis as analysis_mod
from emergence import verdict
from emergence.analysis import Analysis, Section, SectionAnalysis, analyze, emergence_scores
from emergence.report import ReportSection, render_report
from emergence.scaling import ScalingAnalysis


def _table() -> pd.DataFrame:
    """Two tasks, eight sizes: a sharp accuracy beside its smooth log-likelihood."""
    x = np.geomspace(1e7, 1e10, 8)
    lx = np.log10(x)
    rows = []
    for task, mid in (("jump", 8.8), ("flat", 20.0)):
        acc = 0.25 + 0.7 / (1 + np.exp(-6 * (lx - mid)))
        for i, (xi, a) in enumerate(zip(x, acc, strict=True)):
            common = {"family": "f", "model": f"m{i}", "task": task, "params": xi}
            rows.append({**common, "metric": "acc", "value": a, "n_items": 400})
            rows.append({**common, "metric": "target_loglik", "value": -3.0 + 0.4 * (lx[i] - 7)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def an() -> Analysis:
    return analyze([Section("synthetic", _table()), Section("nothing tested", _table(),
                                                             verdicts=False)],
                   seed=3, n_boot=19, progress=False)


def test_analyze_returns_typed_frozen_result(an):
    assert isinstance(an, Analysis) and all(isinstance(s, SectionAnalysis) for s in an.sections)
    with pytest.raises(dataclasses.FrozenInstanceError):
        an.n_boot = 5  # type: ignore[misc]
    assert (an.seed, an.n_boot, an.alpha) == (3, 19, 0.05)
    frame = an.to_frame()
    assert len(frame) == sum(len(s.curves) for s in an.sections) == 8
    assert {"section", "task", "metric", "n_scales", "score", "outcome", "lines"} <= set(frame)
    assert "synthetic: 4 curves" in an.summary() and "n_boot=19" in an.summary()
    # the Emergence Scores are the analysis layer's, one per curve
    s0 = an.sections[0]
    pd.testing.assert_frame_equal(s0.scores.drop(columns="section"), emergence_scores(s0.curves))
    assert len(an.points) == 8 * 8


def test_fitted_lines_only_for_tested_curves(an):
    tested, untested = an.sections
    assert len(tested.curve_verdicts) == 4 and tested.verdicts["verdict"].notna().all()
    for c, lines, note in zip(tested.curves, tested.lines, tested.line_notes, strict=True):
        row = tested.row_of(c)
        if row["status"] == "ok":
            assert lines is not None and "null" in set(lines["model"])
        else:
            assert lines is None and note
    assert untested.curve_verdicts.empty and all(x is None for x in untested.lines)
    assert set(untested.outcomes) == {""}


def test_defaults_are_passed_through(monkeypatch):
    seen = {}
    real = verdict.assess

    def spy(curves, **kw):
        seen.update(kw)
        return real(curves, **kw)

    monkeypatch.setattr(verdict, "assess", spy)
    t = _table()
    an = analyze(t[t["task"] == "jump"], seed=7, n_boot=23, alpha=0.1, progress=False)
    assert (seen["seed"], seen["n_boot"], seen["alpha"]) == (7, 23, 0.1)
    assert (an.seed, an.n_boot, an.alpha) == (7, 23, 0.1)


def test_scaling_sections_get_the_same_n_boot_and_seed(monkeypatch):
    seen = {}
    real = analysis_mod.analyze_scaling

    def spy(table, **kw):
        seen.update(kw)
        return real(table, **kw)

    monkeypatch.setattr(analysis_mod, "analyze_scaling", spy)
    an = analyze([ReportSection("laws", _table(), kind="scaling")], seed=5, n_boot=11,
                 progress=False)
    assert (seen["seed"], seen["n_boot"]) == (5, 11)
    sc = an.sections[0].scaling
    assert isinstance(sc, ScalingAnalysis) and (sc.seed, sc.n_boot) == (5, 11)
    # the accuracy curves (8 sizes) get a transition zone and backtests, fitted here
    assert [t.curve.task for t in sc.transitions] == ["jump", "flat"]
    assert all(t.sigmoid.bootstrap is not None and len(t.backtests) for t in sc.transitions)
    assert "laws: scaling section" in an.summary()


def test_report_renders_an_analysis_without_computing(an, monkeypatch, tmp_path):
    def refuse(*a, **k):
        raise AssertionError("the report must not compute")

    for name in ("assess", "assess_curve", "fitted_lines"):
        monkeypatch.setattr(verdict, name, refuse)
    monkeypatch.setattr(analysis_mod, "analyze", refuse)
    monkeypatch.setattr(analysis_mod, "emergence_scores", refuse)
    rep = render_report(an, out_dir=tmp_path, progress=False)
    page = rep.index.read_text(encoding="utf-8")
    assert "synthetic" in page and "nothing tested" in page
    assert len(rep.figures) == 4 + 1  # one per task and section, and the verdict map
    pd.testing.assert_frame_equal(rep.scores, an.scores)
    lines = pd.read_csv(rep.tables["figure_lines"])
    assert set(lines["section"]) == {"synthetic"}  # untested curves draw no line


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="table_or_sections"):
        analyze(["not a section"], progress=False)


def test_figures_drawn_by_worker_processes_are_the_same(an, tmp_path):
    # jobs=2: task figures drawn by two spawned processes; the figures, the page and the tables
    # are those of one process (the page differs only in its time stamp)
    one = render_report(an, out_dir=tmp_path / "one", progress=False)
    two = render_report(an, out_dir=tmp_path / "two", progress=False, jobs=2)
    assert [p.name for p in one.figures] == [p.name for p in two.figures]
    for a, b in zip(one.figures, two.figures, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    for name, path in one.tables.items():
        assert path.read_bytes() == two.tables[name].read_bytes(), name
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    assert stamp.sub("", one.index.read_text("utf-8")) == stamp.sub("", two.index.read_text("utf-8"))


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_bad_jobs_names_the_argument(an, tmp_path, jobs):
    with pytest.raises(ValueError, match="`jobs` must be a positive integer"):
        render_report(an, out_dir=tmp_path, progress=False, jobs=jobs)


def test_progress_counts_figures_drawn_not_submitted(an, tmp_path, monkeypatch):
    # with workers the bar advances as drawn figures come back, never when one is handed out
    import concurrent.futures as cf

    import tqdm.auto

    from emergence import report as report_mod

    class Later:
        """An executor whose work runs only when its result is asked for."""

        def __init__(self):
            self.at_submit: list[int] = []

        def submit(self, fn, *args):
            self.at_submit.append(bars[-1].n)
            fut = cf.Future()
            real = fut.result

            def result(timeout=None):
                if not fut.done():
                    fut.set_result(fn(*args))
                return real(timeout)

            fut.result = result
            return fut

        def shutdown(self, *a, **k):
            pass

    bars = []

    class Bar(tqdm.auto.tqdm):
        def __init__(self, *a, **k):
            super().__init__(*a, **{**k, "mininterval": 0, "miniters": 1})  # every count shown
            bars.append(self)

    pool = Later()
    monkeypatch.setattr(report_mod, "_figure_pool", lambda jobs: pool)
    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    render_report(an, out_dir=tmp_path, progress=True, jobs=2)
    assert pool.at_submit and set(pool.at_submit) == {0}
    assert [b.n for b in bars] == [b.total for b in bars] and all(b.total for b in bars)
