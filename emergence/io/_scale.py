"""Declared scale (``params=``, ``tokens=``; CLI ``--params``, ``--tokens``) applied to any table
the readers return, the same way for every format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .._exceptions import FormatError

__all__ = ["apply_scale", "check_scale_models"]


def apply_scale(
    frame: pd.DataFrame,
    column: str,
    value: float | Mapping[str, float] | None,
    *,
    flag: str | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Set a scale column (``params``, ``tokens``, ...) from a declared value or per-model mapping.

    Parameters
    ----------
    frame : DataFrame
        Tidy table or per-item records (a ``model`` column).
    column : str
        Column to set.
    value : float, mapping model -> float, or None
        A number for every row, or one per model name; None leaves the column as it is.
    flag : str, optional
        Name of the argument in error messages (``"params"``; the CLI passes ``"--params"``).
    strict : bool, default=True
        A mapping that names a model the table does not hold is an error (a typo would
        otherwise leave that model's scale unknown without a word).

    Returns
    -------
    DataFrame
        A copy with the declared values in ``column`` (other models keep theirs).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model": ["a", "b"], "params": [None, 5.0]})
    >>> apply_scale(t, "params", {"a": 1e9})["params"].tolist()
    [1000000000.0, 5.0]
    """
    if value is None:
        return frame
    name = flag or column
    out = frame.copy()
    if isinstance(value, Mapping):
        models = set(out["model"].astype(str))
        unknown = sorted(set(map(str, value)) - models)
        if unknown and strict:
            shown = ", ".join(sorted(models)[:8])
            raise FormatError(
                f"{_arg(name)} names model(s) {unknown[:5]} that the data do not hold; its "
                f"models are {shown}{', ...' if len(models) > 8 else ''}. Use those names."
            )
        hit = out["model"].astype(str).map(lambda m: value.get(m))
        new = pd.to_numeric(hit, errors="coerce")
    else:
        try:
            new = pd.Series(float(value), index=out.index)
        except (TypeError, ValueError):
            raise FormatError(f"{_arg(name)} must be a number or a mapping model -> number; "
                              f"got {value!r}.") from None
    old = out[column].astype("float64") if column in out else pd.Series(float("nan"),
                                                                         index=out.index)
    changed = new.notna() & ~np.isclose(new.fillna(0), old.fillna(-1.0), rtol=1e-12, atol=0)
    # values derived from the replaced one (active = params, flops = 6 N D) are derived again
    if column == "params" and "active_params" in out:
        derived = out["active_params"].astype("float64")
        out.loc[changed & (derived.isna() | np.isclose(derived, old)), "active_params"] = np.nan
    if column in ("params", "active_params", "tokens") and "flops" in out and "tokens" in out:
        act = out["active_params"].astype("float64") if "active_params" in out else old
        n = old if column != "tokens" else act
        d = out["tokens"].astype("float64") if column != "tokens" else old
        was_6nd = np.isclose(out["flops"].astype("float64"), 6.0 * n * d)
        out.loc[changed & was_6nd, "flops"] = np.nan
    out[column] = new.where(new.notna(), old)
    return out


def _arg(name: str) -> str:
    return name if name.startswith("--") else f"`{name}`"


def check_scale_models(frames: Iterable[pd.DataFrame], column: str,
                       value: float | Mapping[str, float] | None, *, flag: str | None = None
                       ) -> None:
    """Raise if a per-model mapping names a model none of ``frames`` holds (a typo would leave
    that model's scale unknown without a word); see :func:`apply_scale`."""
    if not isinstance(value, Mapping):
        return
    models = sorted({str(m) for f in frames for m in f["model"].dropna().unique()})
    apply_scale(pd.DataFrame({"model": models, column: np.nan}), column, value, flag=flag,
                strict=True)
