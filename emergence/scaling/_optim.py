"""Batched optimisers: many independent small problems solved at once with numpy.

Two solvers, both vectorised over a leading "problem" axis (grid starts or bootstrap replicates):

* :func:`batched_lbfgs` minimises smooth (or nearly smooth, e.g. Huber) objectives with limited-memory
  BFGS and an Armijo backtracking line search, one memory per problem;
* :func:`batched_lm` solves nonlinear least squares with Levenberg-Marquardt, one damping per problem.

Every problem keeps its own state; problems that have converged leave the active set, so the cost
per iteration falls as the batch converges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BatchResult", "batched_lbfgs", "batched_lm"]

#: ``fg(x, rows) -> (f, g)``: objective (k,) and gradient (k, P) at ``x`` (k, P) for problem rows.
ObjGrad = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
#: ``rj(x, rows) -> (r, J)``: residuals (k, n) and Jacobian (k, n, P).
ResJac = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

STATUS = {0: "running", 1: "gtol", 2: "ftol", 3: "line_search", 4: "max_iter", 5: "nonfinite"}


@dataclass(frozen=True)
class BatchResult:
    """Solutions of a batch of problems.

    Attributes
    ----------
    x : ndarray (S, P)
        Final parameters of each problem.
    fun : ndarray (S,)
        Final objective (for :func:`batched_lm`, the weighted residual sum of squares / 2).
    status : ndarray of int (S,)
        Stopping reason code, see :data:`STATUS`.
    n_iter : ndarray of int (S,)
    n_eval : int
        Number of batched objective evaluations.
    """

    x: np.ndarray
    fun: np.ndarray
    status: np.ndarray
    n_iter: np.ndarray
    n_eval: int

    @property
    def converged(self) -> np.ndarray:
        """True where a stopping test (gradient, objective change, line search stall) was met."""
        return np.isin(self.status, (1, 2, 3)) & np.isfinite(self.fun)

    @property
    def reason(self) -> np.ndarray:
        """Stopping reason of each problem as text."""
        return np.array([STATUS[int(s)] for s in self.status])


def _two_loop(g: np.ndarray, s_hist: np.ndarray, y_hist: np.ndarray, rho: np.ndarray,
              count: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """L-BFGS two-loop recursion for k problems at once; returns the search direction."""
    k, m, _ = s_hist.shape
    q = g.copy()
    alphas = np.zeros((k, m))
    rows = np.arange(k)
    for i in range(m):  # newest to oldest
        j = (pos - 1 - i) % m
        valid = i < count
        s, y, r = s_hist[rows, j], y_hist[rows, j], rho[rows, j]
        a = np.where(valid, r * np.einsum("kp,kp->k", s, q), 0.0)
        alphas[:, i] = a
        q -= a[:, None] * y
    # initial Hessian scaling gamma = s'y / y'y of the newest pair
    jn = (pos - 1) % m
    s, y = s_hist[rows, jn], y_hist[rows, jn]
    yy = np.einsum("kp,kp->k", y, y)
    sy = np.einsum("kp,kp->k", s, y)
    gamma = np.where((count > 0) & (yy > 0), sy / np.where(yy > 0, yy, 1.0), 1.0)
    z = q * gamma[:, None]
    for i in range(m - 1, -1, -1):  # oldest to newest
        j = (pos - 1 - i) % m
        valid = i < count
        s, y, r = s_hist[rows, j], y_hist[rows, j], rho[rows, j]
        b = np.where(valid, r * np.einsum("kp,kp->k", y, z), 0.0)
        z += s * (np.where(valid, alphas[:, i] - b, 0.0))[:, None]
    return -z


def batched_lbfgs(
    fg: ObjGrad,
    x0: np.ndarray,
    *,
    m: int = 10,
    max_iter: int = 1000,
    gtol: float = 1e-9,
    ftol: float = 1e-12,
    max_ls: int = 40,
    c1: float = 1e-4,
    progress: Callable[[int, int], None] | None = None,
) -> BatchResult:
    """Minimise S independent objectives with L-BFGS, vectorised over problems.

    Parameters
    ----------
    fg : callable
        ``fg(x, rows)`` returns objective values (k,) and gradients (k, P) for parameter rows ``x``
        (k, P) of problems ``rows`` (indices into the batch).
    x0 : ndarray (S, P)
        Starting points.
    m : int
        Memory length.
    max_iter : int
        Iteration cap per problem.
    gtol : float
        Stop when ``max |g| <= gtol * max(1, |f|)``.
    ftol : float
        Stop when the relative decrease ``(f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, tiny)`` is at most
        ``ftol``.
    max_ls : int
        Maximum backtracking steps; a line search that finds no decrease stops the problem with
        status ``line_search`` (a numerical stationary point).
    progress : callable, optional
        ``progress(iteration, n_active)`` after each iteration.

    Returns
    -------
    BatchResult
    """
    x = np.array(x0, dtype=float, copy=True)
    S, P = x.shape
    all_rows = np.arange(S)
    f, g = fg(x, all_rows)
    n_eval = 1
    status = np.where(np.isfinite(f) & np.all(np.isfinite(g), axis=1), 0, 5)
    s_hist = np.zeros((S, m, P))
    y_hist = np.zeros((S, m, P))
    rho = np.zeros((S, m))
    count = np.zeros(S, dtype=int)
    pos = np.zeros(S, dtype=int)
    n_iter = np.zeros(S, dtype=int)
    tiny = np.finfo(float).tiny
    for it in range(max_iter):
        act = np.flatnonzero(status == 0)
        if act.size == 0:
            break
        gk, fk, xk = g[act], f[act], x[act]
        d = _two_loop(gk, s_hist[act], y_hist[act], rho[act], count[act], pos[act])
        gd = np.einsum("kp,kp->k", gk, d)
        bad = ~(gd < 0) | ~np.all(np.isfinite(d), axis=1)
        if bad.any():  # not a descent direction: restart from steepest descent
            d[bad] = -gk[bad]
            gd[bad] = -np.einsum("kp,kp->k", gk[bad], gk[bad])
            count[act[bad]] = 0
        # first step of a fresh memory: unit-length move
        first = count[act] == 0
        t = np.ones(act.size)
        if first.any():
            gn = np.sqrt(-gd[first])
            t[first] = np.minimum(1.0, 1.0 / np.maximum(gn, tiny))
        accepted = np.zeros(act.size, dtype=bool)
        f_new = np.full(act.size, np.nan)
        g_new = np.full((act.size, P), np.nan)
        pend = np.arange(act.size)
        for _ in range(max_ls):
            xt = xk[pend] + t[pend, None] * d[pend]
            ft, gt = fg(xt, act[pend])
            n_eval += 1
            ok = np.isfinite(ft) & (ft <= fk[pend] + c1 * t[pend] * gd[pend])
            ok &= np.all(np.isfinite(gt), axis=1)
            acc_idx = pend[ok]
            accepted[acc_idx] = True
            f_new[acc_idx] = ft[ok]
            g_new[acc_idx] = gt[ok]
            pend = pend[~ok]
            if pend.size == 0:
                break
            t[pend] *= np.where(np.isfinite(ft[~ok]), 0.5, 0.1)
        # problems whose line search failed stop where they are
        if pend.size:
            status[act[pend]] = 3
        a_idx = np.flatnonzero(accepted)
        rows = act[a_idx]
        x_new = xk[a_idx] + t[a_idx, None] * d[a_idx]
        s = x_new - xk[a_idx]
        y = g_new[a_idx] - gk[a_idx]
        sy = np.einsum("kp,kp->k", s, y)
        yy = np.einsum("kp,kp->k", y, y)
        upd = sy > 1e-12 * np.maximum(yy, tiny)
        ur = rows[upd]
        p = pos[ur]
        s_hist[ur, p] = s[upd]
        y_hist[ur, p] = y[upd]
        rho[ur, p] = 1.0 / sy[upd]
        pos[ur] = (p + 1) % m
        count[ur] = np.minimum(count[ur] + 1, m)
        f_old = f[rows]
        x[rows], f[rows], g[rows] = x_new, f_new[a_idx], g_new[a_idx]
        n_iter[rows] += 1
        fnew = f[rows]
        gmax = np.max(np.abs(g[rows]), axis=1)
        rel = (f_old - fnew) / np.maximum(np.maximum(np.abs(f_old), np.abs(fnew)), tiny)
        st = np.where(gmax <= gtol * np.maximum(1.0, np.abs(fnew)), 1, np.where(rel <= ftol, 2, 0))
        status[rows] = st
        if progress is not None:
            progress(it + 1, int(np.sum(status == 0)))
    status[status == 0] = 4
    return BatchResult(x=x, fun=f, status=status, n_iter=n_iter, n_eval=n_eval)


def batched_lm(
    rj: ResJac,
    x0: np.ndarray,
    *,
    max_iter: int = 200,
    xtol: float = 1e-10,
    ftol: float = 1e-14,
    lam0: float = 1e-3,
) -> BatchResult:
    """Nonlinear least squares for S problems at once (Levenberg-Marquardt, Marquardt scaling).

    Parameters
    ----------
    rj : callable
        ``rj(x, rows)`` returns residuals (k, n) (already multiplied by sqrt weights) and their
        Jacobian (k, n, P).
    x0 : ndarray (S, P)

    Returns
    -------
    BatchResult
        ``fun`` is half the residual sum of squares.
    """
    x = np.array(x0, dtype=float, copy=True)
    S, P = x.shape
    all_rows = np.arange(S)
    r, J = rj(x, all_rows)
    n_eval = 1
    f = 0.5 * np.sum(r * r, axis=1)
    status = np.where(np.isfinite(f), 0, 5)
    lam = np.full(S, lam0)
    n_iter = np.zeros(S, dtype=int)
    eye = np.eye(P)
    for _ in range(max_iter):
        act = np.flatnonzero(status == 0)
        if act.size == 0:
            break
        Ja, ra = J[act], r[act]
        JtJ = np.einsum("knp,knq->kpq", Ja, Ja)
        Jtr = np.einsum("knp,kn->kp", Ja, ra)
        diag = np.maximum(np.einsum("kpp->kp", JtJ), 1e-12)
        A = JtJ + lam[act, None, None] * diag[:, :, None] * eye
        try:
            step = -np.linalg.solve(A, Jtr[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -(np.linalg.pinv(A) @ Jtr[..., None])[..., 0]
        xt = x[act] + step
        rt, Jt = rj(xt, act)
        n_eval += 1
        ft = 0.5 * np.sum(rt * rt, axis=1)
        better = np.isfinite(ft) & (ft <= f[act])
        b = act[better]
        rel_f = (f[b] - ft[better]) / np.maximum(f[b], np.finfo(float).tiny)
        rel_x = np.max(np.abs(step[better]) / (np.abs(x[b]) + 1e-8), axis=1)
        x[b], f[b], r[b], J[b] = xt[better], ft[better], rt[better], Jt[better]
        lam[b] = np.maximum(lam[b] / 10.0, 1e-12)
        n_iter[b] += 1
        done = (rel_f <= ftol) | (rel_x <= xtol)
        status[b[done]] = 2
        w = act[~better]
        lam[w] *= 10.0
        status[w[lam[w] > 1e12]] = 3
    status[status == 0] = 4
    return BatchResult(x=x, fun=f, status=status, n_iter=n_iter, n_eval=n_eval)
