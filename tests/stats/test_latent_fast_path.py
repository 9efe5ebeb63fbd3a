"""The latent test's in-place, buffered fitting path against the plain formulas it replaced.

``_fit_all``, ``_stats`` and ``_line_and_columns`` were rewritten for speed (shapes fitted in one
pass, operations in place, scratch arrays reused across replicate chunks). The plain versions are
kept here and both paths are compared on random inputs and on whole tests: same arithmetic, so
the same numbers (to rounding; on the platforms we run on, to the last bit) and the same p-values.
"""

from __future__ import annotations

import numpy as np
import pytest

from emergence.curves import extract_curves
from emergence.simulate import simulate_family
from emergence.stats import latent as lat
from emergence.stats._data import as_curve_data
from emergence.stats.bootstrap import _Buffers, _candidates, _line_and_columns

X = np.linspace(7, 11, 10)
SHAPES32 = tuple((nu, e) for nu in (0.0, 0.5, 1.0, 2.0)
                 for e in (0.0, 0.15, 0.3, 0.5, 0.65, 0.8, 0.93, 0.99))


# --- plain reference implementations (the formulas as first written) ------------------------
def ref_line_and_columns(Z, W, x, cols):
    Sw = W.sum(axis=1)
    Wx = W * x
    Sx = Wx.sum(axis=1)
    Sxx = (Wx * x).sum(axis=1)
    Sz = (W * Z).sum(axis=1)
    Sxz = (Wx * Z).sum(axis=1)
    det = Sw * Sxx - Sx**2
    b1 = (Sw * Sxz - Sx * Sz) / det
    b0 = (Sz - b1 * Sx) / Sw
    R0 = Z - b0[:, None] - b1[:, None] * x
    rss0 = np.einsum("bs,bs->b", W, R0**2)
    Sh = W @ cols.T
    Sxh = (W * x) @ cols.T
    Shh = W @ (cols**2).T
    c1 = (Sw[:, None] * Sxh - Sx[:, None] * Sh) / det[:, None]
    c0 = (Sh - c1 * Sx[:, None]) / Sw[:, None]
    hh = Shh - (c0 * Sh + c1 * Sxh)
    cross = (W * R0) @ cols.T
    ok = hh > 1e-12 * np.maximum(Shh, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.where(ok, cross / hh, 0.0)
        red = np.where(ok, cross**2 / hh, 0.0)
    return rss0, red, coef, (b0, b1), (c0, c1)


def ref_shape_eta(ce, nu, e):
    E = e * ce.min(axis=1)
    D = np.maximum(ce - E[:, None], 1e-12)
    if nu == 0:
        return -np.log(D), -1.0 / D, E
    om = -np.expm1(-nu * D)
    return -nu * D - np.log(om) + np.log(nu), -nu / om, E


def ref_moment_tau2(rss, a, x, dof, c):
    Sw = a.sum(axis=1)
    Sx = (a * x).sum(axis=1)
    Sxx = (a * x * x).sum(axis=1)
    det = Sw * Sxx - Sx**2
    h = a * (Sxx[:, None] - 2 * x * Sx[:, None] + x * x * Sw[:, None]) / det[:, None]
    tr = (a * c * (1.0 - h)).sum(axis=1) * dof / max(x.size - 2, 1)
    return np.maximum(rss - dof, 0.0) / np.maximum(tr, 1e-300)


def ref_fit_all(setup, Y, cols, shapes, df1, buf=None):
    lk = setup.link
    ce = lk.to_ce(Y)
    dmu = lk.dmean(ce)
    if setup.binary:
        v = lk.binary_var(ce, setup.n)
        if setup.overdisp is not None:
            v = v * setup.overdisp
    elif setup.relative:  # multiplicative noise of one-sign items: a share of the value^2
        v = setup.var_fixed * Y**2
    else:
        v = np.broadcast_to(setup.var_fixed, Y.shape)
    v = v / setup.runs
    var_ce = v / dmu**2
    B, S = Y.shape
    G = len(shapes)
    parts = [ref_shape_eta(ce, nu, e) for nu, e in shapes]
    eta = np.concatenate([p[0] for p in parts])
    deta = np.concatenate([p[1] for p in parts])
    E = np.stack([p[2] for p in parts])
    var_g = np.concatenate([var_ce] * G)
    a = 1.0 / np.maximum(var_g * deta**2, 1e-300)
    if setup.tau2_runs is not None:
        c = (deta * np.concatenate([ce] * G)) ** 2
    else:
        c = np.ones_like(a)
    rss0a, reda, _, _, _ = ref_line_and_columns(eta, a, setup.x, cols)
    if setup.est_disp:
        phi_alt = np.maximum((rss0a[:, None] - reda).min(axis=1) / df1, 1.0)
        t_null = np.maximum(rss0a / max(S - 4, 1), 1.0)
        t_alt = phi_alt
        w = a / phi_alt[:, None]
    else:
        if setup.tau2_runs is not None:
            t_alt = np.tile(np.broadcast_to(np.asarray(setup.tau2_runs, float), (B,)),
                            G) / setup.runs
            t_null = t_alt
        else:
            t_alt = ref_moment_tau2((rss0a[:, None] - reda).min(axis=1), a, setup.x, df1, c)
            t_null = ref_moment_tau2(rss0a, a, setup.x, S - 2, c)
        w = 1.0 / (1.0 / a + t_alt[:, None] * c)
    rss0, red, coef, (b0, b1), (c0, c1) = ref_line_and_columns(eta, w, setup.x, cols)
    jac = np.log(np.abs(deta / np.concatenate([dmu] * G)))
    base = -np.log(w).sum(axis=1) - 2.0 * jac.sum(axis=1)
    out = []
    for g in range(G):
        sl = slice(g * B, (g + 1) * B)
        out.append(dict(eta=eta[sl], a=a[sl], w=w[sl], rss0=rss0[sl], red=red[sl],
                        coef=coef[sl], b0=b0[sl], b1=b1[sl], c0=c0[sl], c1=c1[sl],
                        base=base[sl], E=E[g], tau2=t_null[sl], tau2_alt=t_alt[sl]))
    return out


def ref_stats(fits, buf=None):
    d0 = np.stack([f["base"] + f["rss0"] for f in fits])
    red = np.stack([f["red"] for f in fits])
    coef = np.stack([f["coef"] for f in fits])
    G, B, K = red.shape
    ar = np.arange(B)
    d0min = d0.min(axis=0)
    g0 = np.argmin(d0, axis=0)
    best = {}
    for name, sign in (("up", 1.0), ("dn", -1.0)):
        r = np.where(sign * coef > 0, red, 0.0)
        flat = (d0[:, :, None] - r).transpose(1, 0, 2).reshape(B, -1)
        j = np.argmin(flat, axis=1)
        best[name] = (flat[ar, j], j // K, j % K)
    up, dn = best["up"][0], best["dn"][0]
    T_up = np.maximum(d0min - up, 0.0)
    T_dn = np.maximum(d0min - dn, 0.0)
    T_2 = np.maximum(d0min - np.minimum(up, dn), 0.0)
    return T_up, T_dn, T_2, g0, best


# --- comparisons ----------------------------------------------------------------------------
def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def test_line_and_columns_matches_the_plain_formulas():
    rng = np.random.default_rng(0)
    cols = _candidates(X, "both")[0]
    buf = _Buffers()
    for B in (1, 7, 300):
        for _ in range(3):  # the same buffers reused
            Z = rng.normal(size=(B, X.size)) * 10.0 ** rng.uniform(-3, 3, (B, 1))
            W = rng.uniform(0.01, 5.0, (B, X.size)) * 10.0 ** rng.uniform(-4, 4, (B, 1))
            W[0, :3] = 0.0  # candidates without support on the weighted scales: not fitted
            ref = ref_line_and_columns(Z, W, X, cols)
            for got in (_line_and_columns(Z, W, X, cols),
                        lat._wls(Z, W, X, cols, buf=buf)[:5]):
                for r, g in zip(ref[:3] + ref[3] + ref[4], got[:3] + got[3] + got[4],
                                strict=True):
                    close(g, r)
                np.testing.assert_array_equal(got[1] == 0, ref[1] == 0)


@pytest.mark.parametrize("shapes", [lat.SHAPES, SHAPES32,
                                    ((2.0, 0.5), (0.0, 0.0), (2.0, 0.9), (0.5, 0.3))])
def test_shape_eta_all_matches_one_shape_at_a_time(shapes):
    ce = np.exp(np.random.default_rng(1).normal(size=(50, X.size)))
    eta, deta, E = lat._shape_eta_all(ce, shapes)
    for g, (nu, e) in enumerate(shapes):
        r = ref_shape_eta(ce, nu, e)
        close(eta[g], r[0])
        close(deta[g], r[1])
        close(E[g], r[2])


def _curves():
    out = []
    cfgs = [dict(), dict(target_tokens=(2, 3, 5, 8), item_sd=0.5),
            dict(n_runs=3, scatter_sd=0.1), dict(n_choices=4)]
    for i, cfg in enumerate(cfgs):
        metrics = ["acc"] if cfg.get("n_choices") else ["exact_match", "token_edit_distance",
                                                         "target_loglik"]
        df = simulate_family("hinge" if i % 2 else "saturating", n_items=80, seed=i,
                             metrics=metrics, **cfg)
        kw = {"runs": "mean"} if cfg.get("n_runs") else {}
        for c in extract_curves(df, x="params", **kw).curves:
            d = as_curve_data(c)
            out.append((d, lat.latent_kind(c.metric, c.info, d.chance), c.item_lengths, c.runs))
    # aggregate only: no item counts, the dispersion is estimated
    d = as_curve_data(x=X, y=np.round(np.exp(-5 * 10 ** (-0.3 * (X - 7) + 0.1)), 3),
                      metric="exact_match")
    out.append((d, "exact_match", None, None))
    return out


@pytest.mark.parametrize("shapes", [lat.SHAPES, SHAPES32])
def test_whole_test_matches_the_plain_pipeline(monkeypatch, shapes):
    """Same seed: same p-values, statistics, replicates and fitted values as the plain path."""
    curves = _curves()
    kinds = {k for _, k, _, _ in curves}
    assert {"exact_match", "edit_distance", "loglik", "multiple_choice"} <= kinds

    def run():
        return [lat.latent_break_test(d, kind=k, item_lengths=L, runs=R, n_boot=150, seed=i,
                                      shapes=shapes, exact_below=None)
                for i, (d, k, L, R) in enumerate(curves)]

    fast = run()
    monkeypatch.setattr(lat, "_fit_all", ref_fit_all)
    monkeypatch.setattr(lat, "_stats", ref_stats)
    plain = run()
    for f, p in zip(fast, plain, strict=True):
        assert (f.pvalue, f.decel_pvalue, f.pvalue_two_sided, f.pvalue_one_sided) == \
            (p.pvalue, p.decel_pvalue, p.pvalue_two_sided, p.pvalue_one_sided)
        assert (f.best_kind, f.psi, f.decel_kind, f.decel_psi, f.shape_nu, f.any_direction) == \
            (p.best_kind, p.psi, p.decel_kind, p.decel_psi, p.shape_nu, p.any_direction)
        for a, b in ((f.statistic, p.statistic), (f.replicates, p.replicates),
                     (f.fitted, p.fitted), (f.eta, p.eta), (f.weights, p.weights),
                     (f.tau2, p.tau2), (f.null_params, p.null_params),
                     (f.effect, p.effect), (f.decel_effect, p.decel_effect)):
            close(a, b)
