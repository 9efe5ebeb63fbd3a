"""Information-criterion comparison of smooth and break models (descriptive, not a test)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._exceptions import ConvergenceWarning
from ..curve_models import fit_curve

__all__ = ["ICTable", "ic_table", "akaike_weights"]


def akaike_weights(ic: np.ndarray) -> np.ndarray:
    """Akaike weights ``exp(-delta/2) / sum exp(-delta/2)`` (NaN criteria get weight NaN).

    Examples
    --------
    >>> from emergence.stats.ic import akaike_weights
    >>> akaike_weights([10.0, 12.0, float("nan")]).round(3).tolist()
    [0.731, 0.269, nan]
    """
    ic = np.asarray(ic, dtype=float)
    out = np.full(ic.shape, np.nan)
    ok = np.isfinite(ic)
    if ok.any():
        d = ic[ok] - ic[ok].min()
        w = np.exp(-d / 2)
        out[ok] = w / w.sum()
    return out


@dataclass(frozen=True)
class ICTable:
    """Result of :func:`ic_table`.

    Attributes
    ----------
    table : DataFrame
        One row per model: ``model, link, n_params, loglik, aicc, bic, aicc_psi3, bic_psi3``,
        the differences to the best model (``d_*``) and Akaike weights (``w_*``) for each
        criterion. ``*_psi3`` count a breakpoint as 3 parameters instead of 1.
    fits : dict
        Model name -> :class:`~emergence.curve_models.CurveFit`.
    skipped : dict
        Model name -> reason it was not fitted (too few scales, values outside its range).
    best : str
        Model with the lowest AICc (breakpoint counted as 1).
    """

    table: pd.DataFrame
    fits: dict
    skipped: dict
    best: str

    def to_frame(self) -> pd.DataFrame:
        """The comparison table."""
        return self.table.copy()

    def summary(self) -> str:
        """Short text; weights are descriptive, never p-values."""
        cols = ["model", "n_params", "loglik", "aicc", "w_aicc", "w_aicc_psi3", "w_bic"]
        txt = self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}")
        extra = "".join(f"\n  skipped {m}: {r}" for m, r in self.skipped.items())
        return "AICc/BIC comparison (descriptive; not a test)\n" + txt + extra


def ic_table(
    curve=None,
    *,
    log10_x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    chance: float | None = None,
    models: tuple[str, ...] | None = None,
    x: np.ndarray | None = None,
) -> ICTable:
    """AICc / BIC with Akaike weights across smooth and break models of one curve.

    Parameters
    ----------
    curve : Curve, optional
        Or ``log10_x`` (log10 of the scale; a raw scale is refused) and ``y`` arrays.
    chance : float, optional
        Chance level for the chance-floored sigmoid (default: the curve's).
    models : tuple of str, optional
        Default: ``linear, power_law, gompertz, chance_sigmoid, logistic4, hinge, step``; models
        that do not apply (``power_law`` with ``y <= 0``, ``gompertz``/``chance_sigmoid``
        outside [0, 1], too few scales) are listed in ``skipped``.
    x : array_like, optional
        Deprecated name of ``log10_x`` (FutureWarning; removed after 2027-06).

    Returns
    -------
    ICTable

    Notes
    -----
    Gaussian likelihood on the y scale with the variance profiled, ``k`` counting the variance
    (Akaike 1974; Hurvich and Tsai 1989 for AICc; Schwarz 1978 for BIC). A breakpoint is a
    non-regular parameter whose effective penalty exceeds one degree of freedom, so both
    counts (1 and 3) are shown; an IC difference is never a p-value.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.stats.ic import ic_table
    >>> x = np.linspace(8, 11, 10)
    >>> y = 0.05 + 0.1 * np.maximum(x - 9.5, 0) + 0.002 * np.sin(7 * x)
    >>> ic_table(log10_x=x, y=y).best
    'hinge'
    """
    from ._data import as_curve_data

    if x is not None:
        if log10_x is not None:
            raise ValueError("pass `log10_x` only (`x` is its deprecated name).")
        warnings.warn("ic_table(x=...) is deprecated and will be removed after 2027-06: pass "
                      "log10_x= (log10 of the scale).", FutureWarning, stacklevel=2)
        log10_x = x
    d = as_curve_data(curve, log10_x=log10_x, y=y, chance=chance, min_scales=3)
    ch = d.chance if chance is None else chance
    if models is None:
        models = ("linear", "power_law", "gompertz", "chance_sigmoid", "logistic4", "hinge",
                  "step")
    fits, skipped, rows = {}, {}, []
    for m in models:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                if m in ("gompertz", "chance_sigmoid") and not (d.y.min() >= 0
                                                                and d.y.max() <= 1):
                    raise ValueError("values outside [0, 1]")
                f = fit_curve(d.x, d.y, model=m, chance=ch if m == "chance_sigmoid" else None,
                              n_items=d.n)
        except ValueError as e:
            skipped[m] = str(e)
            continue
        fits[m] = f
        rows.append({"model": m, "link": f.link, "n_params": f.n_params, "loglik": f.loglik,
                     "aicc": f.aicc, "bic": f.bic, "aicc_psi3": f.aicc_psi3,
                     "bic_psi3": f.bic_psi3, "converged": f.converged})
    tab = pd.DataFrame(rows)
    if len(tab):
        for c in ("aicc", "bic", "aicc_psi3", "bic_psi3"):
            tab[f"d_{c}"] = tab[c] - tab[c].min()
            tab[f"w_{c}"] = akaike_weights(tab[c].to_numpy())
        best = str(tab.loc[tab["aicc"].idxmin(), "model"]) if tab["aicc"].notna().any() else ""
    else:
        best = ""
    return ICTable(tab, fits, skipped, best)
