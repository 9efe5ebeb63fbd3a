"""Report outputs under hostile names: one figure per curve, literal names, safe CSV cells."""

import numpy as np
import pandas as pd

from emergence._csvsafe import escape_formulas
from emergence.report import ReportSection, build_report


def _table(tasks):
    rows = []
    for t, task in enumerate(tasks):
        for i, p in enumerate([1e8, 1e9, 1e10, 1e11]):
            rows.append({"model": f"m{i}", "task": task, "metric": "acc",
                         "value": 0.25 + 0.1 * i + 0.01 * t, "params": p})
    return pd.DataFrame(rows)


def test_names_differing_in_punctuation_get_their_own_figure(tmp_path):
    tasks = ["x/y", "x-y", "x y"]
    rep = build_report([ReportSection("s", _table(tasks), verdicts=False)],
                       out_dir=tmp_path, progress=False)
    assert len(rep.figures) == 3
    assert len({p.name for p in rep.figures}) == 3
    html = rep.index.read_text()
    for p in rep.figures:
        assert p.exists() and f"figures/{p.name}" in html
    # each heading shows its own curve: the values differ per task
    pts = pd.read_csv(rep.tables["points"])
    assert sorted(pts.groupby("task")["value"].first().round(2)) == [0.25, 0.26, 0.27]


def test_dollar_signs_in_names_are_rendered_literally(tmp_path):
    # an odd or malformed math expression used to abort the whole report in matplotlib's parser
    tasks = [r"$\frac{", "a $x^$ b", "$$"]
    rep = build_report([ReportSection("s", _table(tasks), verdicts=False)],
                       out_dir=tmp_path, progress=False)
    assert len(rep.figures) == 3 and all(p.stat().st_size > 0 for p in rep.figures)


def test_csv_tables_escape_formulas(tmp_path):
    tasks = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "plain"]
    rep = build_report([ReportSection("s", _table(tasks), verdicts=False)],
                       out_dir=tmp_path, progress=False)
    text = rep.tables["points"].read_text()
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), line
    got = set(pd.read_csv(rep.tables["points"])["task"])
    assert "'=HYPERLINK(\"http://x\",\"y\")" in got and "'-2+3" in got and "plain" in got
    # the in-memory result keeps the names as they were
    assert "=HYPERLINK(\"http://x\",\"y\")" in set(rep.points["task"])


def test_escape_formulas_keeps_numbers():
    df = pd.DataFrame({"a": ["-1.5", "-inf", "-x", None], "b": [-1.0, np.nan, 2.0, 3.0]})
    out = escape_formulas(df)
    assert list(out["a"][:3]) == ["-1.5", "-inf", "'-x"] and out["a"].isna().iloc[3]
    assert out["b"].equals(df["b"])
