"""The latent test's compiled replicate loop against its numpy formulation.

:func:`emergence.stats.latent._replicate_stats` (one pass per replicate, compiled) must give the
statistics of ``_stats(_fit_all(...))`` (every shape and break as (G, B, S) arrays) to rounding,
for every scatter mode and latent kind, on the replicate chunks the test itself draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import emergence.stats.latent as latent
from emergence.curves import extract_curves
from emergence.simulate import simulate_aggregate, simulate_family
from emergence.verdict import assess_curve

CASES = {
    "per-item, scatter estimated": dict(truth="hinge", shape={"factor": 3.0}, scatter_sd=0.25),
    "per-item, overdispersed": dict(truth="logistic", overdispersion=0.5),
    "three runs per scale": dict(truth="power_law", scatter_sd=0.25, n_runs=3),
    "4-choice floor": dict(truth="power_law", n_choices=4, metrics=["acc"]),
    "uneven scales, heterogeneous items": dict(truth="step", spacing="random", item_sd=0.5),
    "scatter declared": dict(truth="power_law", scatter_sd=0.25, declared=0.25),
}


def _compare(monkeypatch) -> list[tuple[int, float]]:
    seen: list[tuple[int, float]] = []
    compiled = latent._replicate_stats

    def both(setup, Y, grid, shapes, df1):
        got = compiled(setup, Y, grid, shapes, df1)
        want = latent._stats(latent._fit_all(setup, Y, grid.cols, shapes, df1))[:3]
        for g, w in zip(got, want, strict=True):
            scale = np.maximum(np.abs(w), 1.0)
            seen.append((Y.shape[0], float(np.max(np.abs(g - w) / scale))))
        return got

    monkeypatch.setattr(latent, "_replicate_stats", both)
    return seen


@pytest.mark.parametrize("case", list(CASES))
def test_compiled_replicates_equal_the_numpy_fits(case, monkeypatch):
    seen = _compare(monkeypatch)
    kw = dict(CASES[case])
    declared = kw.pop("declared", None)
    df = simulate_family(n_scales=8, n_items=200, seed=3, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in extract_curves(df, x="params", runs="mean").curves:
            assess_curve(c, n_boot=199, seed=1, scatter_sd=declared)
    assert seen and sum(n for n, _ in seen) >= 3 * 100  # three statistics per row
    assert max(d for _, d in seen) < 1e-9, max(seen, key=lambda t: t[1])


@pytest.mark.parametrize("with_n", [True, False])
def test_compiled_replicates_on_aggregate_curves(with_n, monkeypatch):
    # with item counts: binomial item noise; without: the quasi-binomial dispersion mode
    seen = _compare(monkeypatch)
    agg = simulate_aggregate("logistic", n_items=200, seed=5, with_n_items=with_n,
                             metrics=["exact_match"])
    c = extract_curves(agg, x="params").curves[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assess_curve(c, n_boot=199, seed=1)
    assert seen
    assert max(d for _, d in seen) < 1e-9, max(seen, key=lambda t: t[1])


def test_mixture_ce_solves_the_mixture_of_lengths():
    # exact match over targets of 1, 3 and 8 tokens: sum_j w_j exp(-L_j CE) = q at every q
    from emergence.stats._kernels import mixture_ce

    L = np.array([1.0, 3.0, 8.0])
    w = np.array([0.5, 0.3, 0.2])
    q = np.array([0.999, 0.9, 0.5, 0.1, 1e-3, 1e-6])
    ce = mixture_ce(q, L, w, np.empty(q.size))
    np.testing.assert_allclose(np.exp(-np.outer(ce, L)) @ w, q, rtol=1e-10)
    assert np.all(np.diff(ce) > 0)                     # lower exact match, higher CE
    one = mixture_ce(q, np.array([5.0]), np.array([1.0]), np.empty(q.size))
    np.testing.assert_allclose(one, -np.log(q) / 5.0, rtol=1e-10)
