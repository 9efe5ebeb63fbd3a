"""The scaling section of the report: what it fits for which table, the values it writes, files."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar

from emergence.scaling import BESIROGLU_2024, default_grid, report_section
from emergence.scaling.analysis import slug as _slug

PNG = b"\x89PNG\r\n\x1a\n"


def _grid():
    g = default_grid()
    return g[np.isin(g[:, 0], [0, 5, 10]) & np.isin(g[:, 1], [0, 5, 10]) & np.isin(g[:, 2], [0, 0.5])]


def _table_by_path(out, prefix):
    hits = [t for t in out["tables"] if t["path"].startswith(f"tables/scaling_{prefix}")]
    assert len(hits) == 1, [t["path"] for t in out["tables"]]
    return hits[0]


def _check_files(out, root):
    for f in out["figures"]:
        assert (root / f["path"]).read_bytes()[:8] == PNG, f["path"]
    for t in out["tables"]:
        back = pd.read_csv(root / t["path"])
        assert list(back.columns) == list(t["frame"].columns)
        assert len(back) == len(t["frame"])


def _loss_table() -> pd.DataFrame:
    """4 sizes x 5 token counts on the Besiroglu et al. (2024) law."""
    sizes, tokens = [1e8, 3e8, 1e9, 3e9], [2e8, 2e9, 6e9, 2e10, 6e10]
    return pd.DataFrame([{"family": "lm", "model": f"m{i}", "step": j, "task": "val",
                          "metric": "loss", "params": n, "tokens": d,
                          "value": float(BESIROGLU_2024.predict(n, d))}
                         for i, n in enumerate(sizes) for j, d in enumerate(tokens)])


def test_loss_law_recovered_and_models_placed(tmp_path):
    # 4 sizes x 5 token counts on the Besiroglu et al. (2024) law; the first checkpoint of each
    # size has seen under 1% of its final tokens and must stay out of the fit
    t = _loss_table()
    out = report_section(t, tmp_path, n_boot=20, seed=0, grid=_grid())
    assert out["notes"] == [
        "val/loss: 4 of 20 runs left out of the loss law (missing/non-positive values or under "
        "1% of the model's final tokens).",
        "no proportion metric (accuracy, exact match) in the table: no emergence figure or "
        "backtest."]
    slug = _slug("val_loss_")
    assert [f["path"] for f in out["figures"]] == [f"figures/scaling_loss_vs_compute_{slug}.png",
                                                   "figures/scaling_placement.png"]
    for f in out["figures"]:  # a vector copy beside every PNG
        assert (tmp_path / f["path"]).with_suffix(".svg").read_text().lstrip().startswith("<?xml")
    _check_files(out, tmp_path)
    law = _table_by_path(out, "chinchilla")["frame"].set_index("parameter")
    assert (law["curve"] == "val/loss").all()
    p = BESIROGLU_2024
    for name, want in {"E": p.E, "A": p.A, "B": p.B, "alpha": p.alpha, "beta": p.beta}.items():
        assert law.loc[name, "estimate"] == pytest.approx(want, rel=1e-4), name
        assert law.loc[name, "besiroglu_2024"] == pytest.approx(want)
    # placement: each final checkpoint against the compute-optimal size at its budget, checked
    # against a direct minimisation of L(N, C / 6N) over log N
    pm = _table_by_path(out, "placement")["frame"].set_index("model")
    assert pm.index.tolist() == ["m0", "m1", "m2", "m3"]
    for m, row in pm.iterrows():
        assert row["D"] == 6e10 and row["C"] == pytest.approx(6 * row["N"] * 6e10)
        res = minimize_scalar(lambda ln, c=row["C"]: p.predict(np.exp(ln), c / (6 * np.exp(ln))),
                              bounds=(np.log(1e6), np.log(1e13)), method="bounded",
                              options={"xatol": 1e-10})
        assert row["N_opt"] == pytest.approx(np.exp(res.x), rel=1e-3), m
        assert row["loss_pred"] == pytest.approx(p.predict(row["N"], 6e10), rel=1e-6)
        assert row["loss_excess"] == pytest.approx(row["loss_pred"] - row["loss_opt"], abs=1e-12)
        assert row["loss_excess"] >= 0
    assert pm["status"].tolist() == ["over-trained"] * 3 + ["near-optimal"]


def _family(task="arc_easy"):
    n = np.geomspace(1e8, 1e11, 8)
    rows = []
    for i, x in enumerate(n):
        rows += [
            {"model": f"m{i}", "task": task, "metric": "acc", "n_items": 1000,
             "value": 0.25 + 0.75 / (1 + np.exp(-3 * (np.log10(x) - 9.5)))},
            {"model": f"m{i}", "task": task, "metric": "ppl", "value": float(2 + 300 * x**-0.2)},
            {"model": f"m{i}", "task": "piqa", "metric": "acc", "n_items": 1838,
             "value": 0.55 + 0.01 * i},
        ]
    t = pd.DataFrame(rows)
    t["family"] = "fam"
    t["params"] = np.repeat(n, 3)
    return t, n


def test_emergence_and_backtests_of_one_family(tmp_path):
    t, n = _family()
    out = report_section(t, tmp_path, n_boot=30, seed=0, max_curves=1,
                         chance={"arc_easy": 0.25, "piqa": 0.5})
    _check_files(out, tmp_path)
    # the perplexity has sizes but no token counts: a one-axis law, said plainly
    assert out["notes"] == ["arc_easy/ppl: no token counts; the two-axis law is not identifiable, "
                            "so only a one-axis power law in params was fitted.",
                            "no compute-optimal placement: 0 of 8 models have both parameters "
                            "and tokens (or FLOPs)."]
    pl = _table_by_path(out, "powerlaw")["frame"]
    assert set(pl["x_name"]) == {"params"} and (pl["n"] == 8).all()
    # max_curves=1 keeps the curve with the widest range (arc_easy, not the nearly flat piqa)
    sig = _table_by_path(out, "transitions")["frame"]
    assert sig["curve"].tolist() == ["fam / arc_easy / acc"]
    r = sig.iloc[0]
    assert r["floor"] == 0.25  # the task's declared chance level, not fitted
    assert r["midpoint_log10x"] == pytest.approx(9.5, abs=1e-3)
    assert r["slope_per_decade"] == pytest.approx(3.0, rel=1e-3)
    half = np.log(19) / 3  # 5% to 95% of the way from floor to ceiling
    assert np.log10(r["zone_lo"]) == pytest.approx(9.5 - half, abs=1e-3)
    assert np.log10(r["zone_hi"]) == pytest.approx(9.5 + half, abs=1e-3)
    assert r["zone_lo_ci"] <= r["zone_lo"] and r["zone_hi"] <= r["zone_hi_ci"]
    # backtests: no FLOPs, so the cutoff sits between the 5th and 6th of 8 sizes (about 60%);
    # the perplexity of the same task adds the Mirage route
    bt = _table_by_path(out, "backtests")["frame"]
    assert bt["method"].tolist() == ["sigmoid", "linear", "mirage"]
    np.testing.assert_allclose(bt["cutoff"], np.sqrt(n[4] * n[5]), rtol=1e-12)
    assert (bt["n_fit"] == 5).all() and (bt["n_forecast"] == 3).all()
    assert bt.loc[bt.method == "sigmoid", "mae"].iloc[0] < 1e-3  # the true model forecasts itself
    slug = _slug("fam_arc_easy_acc_")
    assert [f["path"] for f in out["figures"]] == [f"figures/scaling_emergence_{slug}.png",
                                                   f"figures/scaling_backtest_{slug}.png"]


def test_backtest_cutoff_from_flops_or_given(tmp_path):
    t, n = _family()
    # FLOPs from 1e20 to 1e23: the default cutoff 1e22 leaves 3 or more points below it
    t = t[t["metric"] == "acc"].assign(flops=lambda d: d["params"] * 1e12)
    out = report_section(t, tmp_path / "a", n_boot=0, max_curves=1)
    bt = _table_by_path(out, "backtests")["frame"]
    assert set(bt["x_name"]) == {"flops"} and (bt["cutoff"] == 1e22).all()
    assert (bt["n_fit"] == int((n * 1e12 < 1e22).sum())).all()
    out = report_section(t, tmp_path / "b", n_boot=0, max_curves=1, cutoff=3e21)
    assert (_table_by_path(out, "backtests")["frame"]["cutoff"] == 3e21).all()


def test_pooled_when_many_families_with_few_models(tmp_path):
    rng = np.random.default_rng(0)
    x = np.sort(10 ** rng.uniform(20, 24, 18))
    t = pd.DataFrame({"family": [f"f{i // 3}" for i in range(18)],
                      "model": [f"m{i}" for i in range(18)], "task": "arc_easy", "metric": "acc",
                      "n_items": 2376, "flops": x,
                      "value": 0.25 + 0.75 / (1 + np.exp(-2 * (np.log10(x) - 22)))})
    out = report_section(t, tmp_path, n_boot=0, chance={"arc_easy": 0.25})
    assert any("curves pool all models" in s for s in out["notes"])
    sig = _table_by_path(out, "transitions")["frame"]
    assert sig["curve"].tolist() == ["(pooled) / arc_easy / acc"] and sig["n"].iloc[0] == 18
    assert sig["midpoint_log10x"].iloc[0] == pytest.approx(22, abs=1e-3)


def test_slug_keeps_distinct_names_apart():
    assert _slug("x/y") != _slug("x-y") != _slug("x y")
    assert _slug("x/y").startswith("x_y_") and len(_slug("x/y")) == len("x_y_") + 8
    assert len(_slug("a" * 200)) == 60 + 1 + 8


def test_figures_drawn_by_worker_processes_are_the_same(tmp_path):
    # every kind of figure of the section (loss against compute, placement, transition zone,
    # backtests) drawn by two spawned processes: the same bytes as drawn in this process
    import concurrent.futures as cf
    import multiprocessing

    from emergence.scaling.analysis import analyze_scaling
    from emergence.scaling.section import write_section

    fam, _ = _family()
    results = [analyze_scaling(_loss_table(), n_boot=20, seed=0, grid=_grid()),
               analyze_scaling(fam, n_boot=30, seed=0, max_curves=1,
                               chance={"arc_easy": 0.25, "piqa": 0.5})]
    names = []
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for k, res in enumerate(results):
            one = write_section(res, tmp_path / f"one{k}")
            two = write_section(res, tmp_path / f"two{k}", pool=pool)
            assert one["figures"] == two["figures"]
            for f in one["figures"]:
                names.append(f["path"])
                # the PNGs byte for byte (an SVG carries its time of writing and random ids)
                a = (tmp_path / f"one{k}" / f["path"]).read_bytes()
                assert a == (tmp_path / f"two{k}" / f["path"]).read_bytes(), f["path"]
                assert (tmp_path / f"two{k}" / f["path"]).with_suffix(".svg").stat().st_size
    for kind in ("loss_vs_compute", "placement", "emergence", "backtest"):
        assert any(n.startswith(f"figures/scaling_{kind}") for n in names), (kind, names)
