"""Compiled inner loops: the latent test's replicate fits, item-bootstrap sums, mixture CE.

numba compiles each function on its first call in a process (a few seconds) and caches the
machine code beside this file, or in the user's cache directory when the package's is read-only.
The modules that use them import this one on first use, so importing the package does not load
numba.

- :func:`replicate_stats`: for every replicate curve of a chunk and every shape of the null's
  grid, the latent test's reference refits the item-noise weights, the model-to-model scatter,
  the null line and each one-column break extension, then profiles the likelihood over shapes
  and breaks, one replicate at a time in a single pass over its ``S`` scales: ``O(B G (S + K))``
  arithmetic and no ``(G, B, S, K)`` work. The numpy formulation
  (:func:`emergence.stats.latent._fit_all` followed by :func:`emergence.stats.latent._stats`),
  which the observed curve still uses, is the reference it is tested against to rounding
  (``tests/stats/test_kernels.py``).
- :func:`count_rows`: the item bootstraps' resampling counts, a few replicates at a time, counted
  in one pass over the draws (their sums are then one matrix product per chunk).
- :func:`mixture_ce`: per-token cross-entropy from exact match over a mixture of target lengths
  (Newton's method, element by element).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def _jit(fn):
    """Compile ``fn`` (no Python error checks on float division: inf and nan as in numpy), with
    the machine code cached on disk; where no cache directory is writable, compiled afresh in
    each process instead."""
    try:
        return njit(cache=True, nogil=True, error_model="numpy")(fn)
    except RuntimeError:  # numba found no writable cache location
        return njit(nogil=True, error_model="numpy")(fn)


#: scatter modes of :func:`replicate_stats`
SCATTER_ESTIMATED, SCATTER_RUNS, DISPERSION = 0, 1, 2


@_jit
def _line_columns(z, w, x, hinge, psi, first, P):  # pragma: no cover - compiled
    """Weighted line fit of ``z`` on ``[1, x]`` and every one-column break extension.

    ``x`` is sorted; column ``k`` is ``(x - psi_k)_+`` (``hinge[k]``) or ``1[x > psi_k]``, nonzero
    from index ``first[k]`` on, so its weighted sums are differences of suffix sums (``P``,
    scratch of shape (5, S + 1)) and every column costs O(1) after one O(S) pass. A column's RSS
    reduction is ``cross^2 / hh`` and the sign of its coefficient ``cross / hh`` is the sign of
    ``cross`` (``hh > 0``; a column collinear with the line reduces nothing).

    Returns ``(rss0, Sw, Sx, Sxx, det, red_up, red_dn)``: the line's weighted RSS and sums, and
    the largest RSS reduction of a column with a positive and with a negative coefficient
    (0 if none).
    """
    S = z.size
    K = psi.size
    Sw = 0.0
    Sx = 0.0
    Sxx = 0.0
    Sz = 0.0
    Sxz = 0.0
    for s in range(S):
        ws = w[s]
        wx = ws * x[s]
        Sw += ws
        Sx += wx
        Sxx += wx * x[s]
        Sz += ws * z[s]
        Sxz += wx * z[s]
    det = Sw * Sxx - Sx * Sx
    b1 = (Sw * Sxz - Sx * Sz) / det
    b0 = (Sz - b1 * Sx) / Sw
    rss0 = 0.0
    for i in range(5):
        P[i, S] = 0.0
    for s in range(S - 1, -1, -1):
        ws = w[s]
        wx = ws * x[s]
        r = z[s] - b0 - b1 * x[s]
        wr = ws * r
        rss0 += wr * r
        P[0, s] = P[0, s + 1] + ws
        P[1, s] = P[1, s + 1] + wx
        P[2, s] = P[2, s + 1] + wx * x[s]
        P[3, s] = P[3, s + 1] + wr
        P[4, s] = P[4, s + 1] + wr * x[s]
    inv_det = 1.0 / det
    inv_sw = 1.0 / Sw
    red_up = 0.0
    red_dn = 0.0
    for k in range(K):
        j = first[k]
        if hinge[k]:
            c = psi[k]
            Sh = P[1, j] - c * P[0, j]
            Sxh = P[2, j] - c * P[1, j]
            Shh = Sxh - c * Sh
            cross = P[4, j] - c * P[3, j]
        else:
            Sh = P[0, j]
            Sxh = P[1, j]
            Shh = Sh
            cross = P[3, j]
        c1 = (Sw * Sxh - Sx * Sh) * inv_det
        c0 = (Sh - c1 * Sx) * inv_sw
        hh = Shh - (c0 * Sh + c1 * Sxh)
        # selects rather than branches: the signs are unpredictable
        r = cross * cross / hh if hh > max(Shh, 1e-300) * 1e-12 else 0.0
        r_up = r if cross > 0.0 else 0.0
        red_up = max(red_up, r_up)
        red_dn = max(red_dn, r - r_up)
    return rss0, Sw, Sx, Sxx, det, red_up, red_dn


@_jit
def replicate_stats(ce, eta, deta, var_ce, log_var, log_dmu, nus, floors, x, hinge, psi, first,
                    mode, tau2_alt, df1):  # pragma: no cover - compiled
    """Profile likelihood-ratio statistics of replicate curves, every shape and break refitted.

    Parameters
    ----------
    ce, var_ce, log_var, log_dmu : ndarray, shape (B, S)
        Per-token cross-entropy of each replicate, the item-noise variance of ``ce`` (already
        divided by the runs per scale), its log (``-inf`` where 0) and ``ln |d mean / d CE|``;
        scales in the order of ``x``.
    eta, deta : ndarray, shape (G, B, S)
        Every shape's link ``eta(CE)`` and its derivative (``_shape_eta_all``).
    nus, floors : ndarray, shape (G,)
        The shape grid: ``nu`` and the irreducible share ``e`` (floor ``E = e * min(ce)``).
    x : ndarray, shape (S,)
        log10 scale, sorted (a shift of it changes nothing but rounding).
    hinge, psi, first : ndarray, shape (K,)
        Break candidates: hinge ``(x - psi)_+`` or step ``1[x > psi]``, and the first index
        where the column is nonzero.
    mode : int
        :data:`SCATTER_ESTIMATED` (moment estimate of the scatter on each shape's own scale),
        :data:`SCATTER_RUNS` (``tau2_alt`` per replicate, on ln CE, carried to each shape's scale)
        or :data:`DISPERSION` (unknown item counts: quasi-binomial dispersion).
    tau2_alt : ndarray, shape (B,)
        Scatter per replicate for :data:`SCATTER_RUNS` (ignored otherwise).
    df1 : int
        Residual degrees of freedom of the break fit.

    Returns
    -------
    T_up, T_dn, T_2 : ndarray, shape (B,)
        The statistics of :func:`emergence.stats.latent._stats`: best null minus best
        accelerating, decelerating, and either break (floored at 0).
    """
    B, S = ce.shape
    G = nus.size
    T_up = np.empty(B)
    T_dn = np.empty(B)
    T_2 = np.empty(B)
    a = np.empty(S)
    c = np.empty(S)
    w = np.empty(S)
    P = np.empty((5, S + 1))
    dof_scale = df1 / max(S - 2, 1)
    log_floor = -math.log(1e-300)
    for b in range(B):
        cmin = ce[b, 0]
        for s in range(1, S):
            cmin = min(cmin, ce[b, s])
        d0min = np.inf
        best_up = np.inf
        best_dn = np.inf
        for g in range(G):
            nu = nus[g]
            E = floors[g] * cmin
            eg = eta[g, b]
            dg = deta[g, b]
            # ln|d eta / d CE| is -ln D = eta for nu = 0, else eta + nu D
            # (eta = -nu D - ln(1 - e^{-nu D}) + ln nu, d eta / d CE = -nu / (1 - e^{-nu D}))
            jac = 0.0
            loga = 0.0
            for s in range(S):
                log_deta = eg[s] + nu * max(ce[b, s] - E, 1e-12) if nu > 0.0 else eg[s]
                v = var_ce[b, s] * (dg[s] * dg[s])
                if v >= 1e-300:
                    a[s] = 1.0 / v
                    loga -= log_var[b, s] + 2.0 * log_deta
                else:
                    a[s] = 1e300
                    loga += log_floor
                c[s] = (dg[s] * ce[b, s]) ** 2 if mode == SCATTER_RUNS else 1.0
                # log-likelihood Jacobian of eta(y): ln |d eta / d CE| - ln |d mean / d CE|
                jac += log_deta - log_dmu[b, s]
            # the fit with item-noise weights a gives the scatter (or dispersion) estimate; with
            # the scatter given (runs, declared) it is not needed, and where the estimate is 0
            # (dispersion 1) the weights stay a, so it is also the final fit
            same = False
            t_alt = 0.0
            logw = loga
            if mode == SCATTER_RUNS:
                t_alt = tau2_alt[b]
            else:
                rss0, Sw, Sx, Sxx, det, r_up, r_dn = _line_columns(eg, a, x, hinge, psi, first, P)
                rmin = rss0 - max(r_up, r_dn)
                if mode == DISPERSION:
                    phi = max(rmin / df1, 1.0)
                    same = phi == 1.0
                    if not same:
                        for s in range(S):
                            w[s] = a[s] / phi
                        logw -= S * math.log(phi)
                else:
                    tr = 0.0
                    for s in range(S):
                        h = a[s] * (Sxx - 2.0 * x[s] * Sx + x[s] * x[s] * Sw) / det
                        tr += a[s] * c[s] * (1.0 - h)
                    t_alt = max(rmin - df1, 0.0) / max(tr * dof_scale, 1e-300)
                    same = t_alt == 0.0
            if mode != DISPERSION and not same:
                if t_alt > 0.0:
                    # w = 1 / (1/a + t c) = a / (1 + u); sum ln(1 + u) as the log of a product,
                    # renormalised before it could overflow
                    prod = 1.0
                    for s in range(S):
                        u = 1.0 + t_alt * c[s] * a[s]
                        w[s] = a[s] / u
                        prod *= u
                        if prod > 1e150:
                            logw -= math.log(prod)
                            prod = 1.0
                    logw -= math.log(prod)
                else:
                    for s in range(S):
                        w[s] = a[s]
            if not same:
                rss0, _, _, _, _, r_up, r_dn = _line_columns(eg, w, x, hinge, psi, first, P)
            d0 = rss0 - logw - 2.0 * jac
            d0min = min(d0min, d0)
            best_up = min(best_up, d0 - r_up)
            best_dn = min(best_dn, d0 - r_dn)
        T_up[b] = max(d0min - best_up, 0.0)
        T_dn[b] = max(d0min - best_dn, 0.0)
        T_2[b] = max(d0min - min(best_up, best_dn), 0.0)
    return T_up, T_dn, T_2


@_jit
def count_rows(idx, codes, W):  # pragma: no cover - compiled
    """``W[b, r]``: how often row ``r`` is drawn in replicate ``b`` (``idx`` of shape (B, n)),
    each draw mapped to its row by ``codes`` (empty: the identity), written into ``W`` (B, k)
    and returned. ``W @ M`` then gives the replicates' column sums of ``M``'s rows."""
    B, n = idx.shape
    mapped = codes.size > 0
    W[:] = 0.0
    for b in range(B):
        for i in range(n):
            r = codes[idx[b, i]] if mapped else idx[b, i]
            W[b, r] += 1.0
    return W


@_jit
def mixture_ce(q, L, w, out):  # pragma: no cover - compiled
    """Per-token cross-entropy ``ce`` solving ``sum_j w_j exp(-L_j ce) = q`` for every element of
    ``q`` (flat), written into ``out``: Newton's method from ``ce = 0`` (the left of the root of
    a convex decreasing function, so it converges monotonically), each element until its step is
    at most ``1e-12`` of its value (60 steps at most), floored at ``1e-12``."""
    J = L.size
    for i in range(q.size):
        ce = 0.0
        for _ in range(60):
            f = -q[i]
            fp = 0.0
            for j in range(J):
                t = w[j] * math.exp(-ce * L[j])
                f += t
                fp -= t * L[j]
            step = f / fp
            ce -= step
            if abs(step) <= 1e-12 * max(ce, 1e-12):
                break
        out[i] = max(ce, 1e-12)
    return out
