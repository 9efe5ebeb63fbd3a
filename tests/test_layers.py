"""The package's layers, read from its source: who imports whom, and who computes.

Layers, bottom up: facts, schema and readers; scoring, curves and statistics; the tests and fits
(``verdict``, ``stats``, the scaling fits); the analysis layer (``emergence.analysis``, which runs
them all); presentation (``report``, ``plots``, the scaling figures, the lab's figures); the CLI
(``commands``, ``cli``) and the orchestrators above it (``demo``, the lab, the package's lazy
verbs). These tests read the imports with ``ast`` (every ``import`` statement, inside functions
too) and fail on an import cycle, on a module below the analysis layer that imports
presentation or the CLI, on ``importlib`` used for a module of the package, and on a call from
presentation into a test, a fit or a bootstrap.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "emergence"


def _name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module of the package (the lab's doctest conftest is pytest's, not the package's).
MODULES = {_name(p): p for p in sorted(PKG.rglob("*.py")) if p.name != "conftest.py"}
TREES = {m: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for m, p in MODULES.items()}

#: Presentation and the CLI: nothing below the analysis layer may import them.
PRESENTATION = {"emergence.report", "emergence.plots", "emergence.scaling.plots",
                "emergence.scaling.section", "emergence.scaling.files", "emergence.lab.figures"}
TOP = {"emergence", "emergence.analysis", "emergence.cli", "emergence.demo"}


def _above_analysis(module: str) -> bool:
    return (module in PRESENTATION or module in TOP or module.startswith("emergence.commands")
            or module.startswith("emergence.lab"))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads (``from pkg import sub`` -> ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".")
            if MODULES[module].name != "__init__.py":
                base = base[:-1]
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target
                 for a in node.names]
    out = []
    for n in names:
        while n not in MODULES and "." in n:
            n = n.rsplit(".", 1)[0]
        if n in MODULES and n != module:
            out.append(n)
    return out


def _imports(module: str, *, lazy: bool = True) -> set[str]:
    """The package modules ``module`` imports; ``lazy=False`` leaves out what a package's face
    loads only when a name is asked for (its module ``__getattr__``)."""
    nodes = [n for n in TREES[module].body
             if lazy or not (isinstance(n, ast.FunctionDef) and n.name == "__getattr__")]
    return {t for top in nodes for node in ast.walk(top)
            if isinstance(node, ast.Import | ast.ImportFrom) for t in _targets(module, node)}


#: Every import, inside functions too (for cycles).
IMPORTS = {m: _imports(m) for m in MODULES}
#: Without the lazy names of package faces (``emergence.scaling`` hands on its figures on first
#: use, so importing the package loads no presentation: see the last test).
EAGER = {m: _imports(m, lazy=False) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_reader_sees_the_package():
    # a reader that saw nothing would pass every test below
    assert len(MODULES) > 60
    assert "emergence.verdict" in IMPORTS["emergence.analysis"]
    assert "emergence.scaling.analysis" in IMPORTS["emergence.analysis"]
    assert "emergence.records" in IMPORTS["emergence.lab.bundled"]  # inside a function
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(IMPORTS) == []


def test_nothing_below_the_analysis_layer_imports_presentation_or_the_cli():
    bad = {m: sorted(t for t in deps if _above_analysis(t))
           for m, deps in EAGER.items() if not _above_analysis(m)}
    assert {m: v for m, v in bad.items() if v} == {}


def test_datasets_does_not_import_the_lab():
    assert not any(t.startswith("emergence.lab") for t in IMPORTS["emergence.datasets"])


def test_readers_do_not_score():
    bad = {m: sorted(t for t in deps if t.startswith("emergence.scoring"))
           for m, deps in IMPORTS.items() if m.startswith("emergence.io")}
    assert {m: v for m, v in bad.items() if v} == {}


def _dynamic_imports() -> list[tuple[str, int, str]]:
    """``importlib.import_module``/``__import__`` calls whose module may belong to the package.

    A call with a string literal is checked directly; a call with a parameter of its function is
    checked at every call of that function in the same module (all must pass literals).
    """
    found = []
    for m, tree in TREES.items():
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name not in ("import_module", "__import__"):
                continue
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((m, node.lineno, arg.value))
                continue
            fn = node
            while fn is not None and not isinstance(fn, ast.FunctionDef):
                fn = parents.get(fn)
            params = [a.arg for a in fn.args.args] if fn is not None else []
            if not (isinstance(arg, ast.Name) and arg.id in params):
                found.append((m, node.lineno, "<computed>"))
                continue
            pos = params.index(arg.id)
            for call in ast.walk(tree):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == fn.name:
                    a = call.args[pos] if len(call.args) > pos else None
                    value = a.value if isinstance(a, ast.Constant) else "<computed>"
                    found.append((m, call.lineno, str(value)))
    return found


def test_no_importlib_for_modules_of_the_package():
    found = _dynamic_imports()
    internal = [f for f in found if f[2] == "<computed>" or f[2].startswith(("emergence", "."))]
    assert internal == []


# ---- presentation renders, it does not compute -------------------------------------------

#: Modules whose public functions are tests, fits, resampling or the analysis steps.
COMPUTE = ["emergence.stats.bootstrap", "emergence.stats.supf", "emergence.stats.davies",
           "emergence.stats.latent", "emergence.stats.scores", "emergence.stats.paired",
           "emergence.stats.multiple", "emergence.stats.ic", "emergence.stats.intervals",
           "emergence.verdict", "emergence.item_bootstrap", "emergence.mirage", "emergence.curve_models",
           "emergence.screen", "emergence.scaling.analysis", "emergence.scaling.chinchilla",
           "emergence.scaling.powerlaw", "emergence.scaling.backtest", "emergence.scaling._optim"]
#: Readers of an analysis's verdict rows and stackers of results into tables (no computing).
ROW_READERS = {"cited_break", "curve_outcome", "backtest_frame"}
#: ``build_report`` and ``report_section`` are "analyse, then render" in one call: they hand
#: the whole computation to the analysis layer.
DELEGATES = {"analyze", "analyze_scaling"}


def _compute_functions() -> dict[str, str]:
    out = {}
    for m in COMPUTE:
        for node in TREES[m].body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") \
                    and node.name not in ROW_READERS:
                out.setdefault(node.name, m)
    # "fit, then render" in one call: presentation that calls them computes
    out["report_section"] = "emergence.scaling.section"
    out["build_report"] = "emergence.report"
    for node in TREES["emergence.analysis"].body:
        if isinstance(node, ast.FunctionDef) and node.name not in ROW_READERS \
                and (not node.name.startswith("_") or node.name == "_lines_for"):
            out.setdefault(node.name, "emergence.analysis")
    return out


COMPUTE_FUNCTIONS = _compute_functions()


def _calls(module: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in COMPUTE_FUNCTIONS:
                out.append((node.lineno, name))
    return out


def test_compute_function_list_is_read():
    for name in ("assess", "fitted_lines", "pblrt_test", "fit_chinchilla", "fit_sigmoid",
                 "backtest", "item_bootstrap", "emergence_score", "emergence_scores",
                 "curve_points", "proportion_interval", "analyze_scaling", "fdr"):
        assert name in COMPUTE_FUNCTIONS, name


@pytest.mark.parametrize("module", ["emergence.report", "emergence.scaling.section",
                                    "emergence.scaling.plots", "emergence.scaling.files",
                                    "emergence.lab.figures"])
def test_presentation_calls_no_test_fit_or_bootstrap(module):
    calls = [c for c in _calls(module) if c[1] not in DELEGATES]
    assert calls == []


def test_curve_plots_compute_intervals_only_when_not_given():
    # plots.plot_curve draws the points an analysis gives it (the report passes them); called
    # on a bare curve it computes the intervals itself, in one place
    calls = _calls("emergence.plots")
    assert [name for _, name in calls] == ["curve_points"]
    fn = next(n for n in TREES["emergence.plots"].body
              if isinstance(n, ast.FunctionDef) and n.name == "_points")
    assert calls[0][0] in range(fn.lineno, fn.end_lineno + 1)


def test_the_analysis_layer_does_not_load_presentation():
    code = ("import sys, emergence.analysis, emergence.scaling, emergence.lab.bundled; "
            "print(sorted(m for m in sys.modules if m.startswith(('emergence.report', "
            "'emergence.plots', 'emergence.scaling.plots', 'emergence.scaling.section', "
            "'emergence.commands', 'emergence.cli', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PKG.parent)
    assert out.stdout.strip() == "[]"


def _small_analysis():
    import numpy as np
    import pandas as pd

    from emergence.analysis import Section, analyze

    x = np.geomspace(1e7, 1e10, 8)
    lx = np.log10(x)
    rows = []
    for i, (xi, u) in enumerate(zip(x, lx, strict=True)):
        common = {"family": "f", "model": f"m{i}", "task": "jump", "params": xi}
        rows.append({**common, "metric": "acc", "n_items": 400,
                     "value": 0.25 + 0.7 / (1 + np.exp(-6 * (u - 8.8)))})
        rows.append({**common, "metric": "target_loglik", "value": -3.0 + 0.4 * (u - 7)})
    t = pd.DataFrame(rows)
    return analyze([Section("curves", t), Section("laws", t, kind="scaling")], seed=1,
                   n_boot=19, progress=False)


def test_rendering_an_analysis_computes_nothing(monkeypatch, tmp_path):
    from emergence.report import render_report

    an = _small_analysis()
    scaling = an.sections[1].scaling
    assert scaling.transitions and scaling.transitions[0].backtests
    patched = []

    def refuse(*a, **k):
        raise AssertionError("rendering must not compute")

    for mod in [m for name, m in sys.modules.items() if name.startswith("emergence")]:
        for name in COMPUTE_FUNCTIONS:
            if callable(getattr(mod, name, None)) and not isinstance(getattr(mod, name), type):
                monkeypatch.setattr(mod, name, refuse)
                patched.append(f"{mod.__name__}.{name}")
    assert {"emergence.verdict.assess", "emergence.scaling.analysis.fit_sigmoid",
            "emergence.scaling.backtest.backtest", "emergence.plots.curve_points",
            "emergence.analysis.analyze_scaling", "emergence.report.analyze"} <= set(patched)
    rep = render_report(an, out_dir=tmp_path, progress=False)
    names = [p.name for p in rep.figures]
    assert any(n.startswith("scaling_emergence_") for n in names)
    assert any(n.startswith("scaling_backtest_") for n in names)
    assert "Transition zone: f / jump / acc" in rep.index.read_text(encoding="utf-8")
