"""Screen many curves: verdicts for every curve, written as they finish, resumable, parallel.

Each curve is assessed independently (:func:`emergence.verdict.assess_curve`, seeded from the
curve's identity, so results do not depend on the order, the chunking or the workers), and each
finished row is appended to ``rows.jsonl`` in the output folder. An interrupted screen keeps every
finished row; running it again with the same settings skips them. At the end the p-values are
adjusted across the whole screen (Benjamini-Hochberg) and ``curves.csv`` and ``verdicts.csv``
are written.

Work runs in this process (``n_jobs=1``), in local processes (``n_jobs > 1``) or on a
``dask.distributed`` cluster (pass its ``Client``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from ._validation import check_interval
from .tidy import Curve, CurveSet
from .verdict import KEY_COLS, VerdictTable, assess_curve, finalize

__all__ = ["screen", "curve_key", "ScreenSettingsError"]

ROWS = "rows.jsonl"
SETTINGS = "settings.json"


class ScreenSettingsError(ValueError):
    """The output folder holds a screen run with different settings."""


def curve_key(curve: Curve) -> str:
    """Identity of a curve in a screen (family|model|task|shots|metric|x_name[|run=R])."""
    key = "|".join(str(curve.key[k]) for k in KEY_COLS)
    return key if curve.run is None else f"{key}|run={curve.run}"


def _run_chunk(curves: list[Curve], kwargs: dict) -> list[dict]:
    out = []
    for c in curves:
        row = assess_curve(c, **kwargs)
        row["curve_key"] = curve_key(c)
        out.append(row)
    return out


def _jsonable(v):
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if not np.isfinite(f) else f
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if v is pd.NA:
        return None
    return v


def _read_rows(path: Path) -> list[dict]:
    rows = []
    if not path.exists():
        return rows
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by an interruption: that curve is simply redone
    return rows


def screen(
    curves: CurveSet | Sequence[Curve],
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    n_boot: int = 999,
    alpha: float = 0.05,
    min_scales: int = 6,
    ic: bool = False,
    n_jobs: int = 1,
    client=None,
    chunk_size: int = 20,
    resume: bool = True,
    progress: bool = True,
) -> VerdictTable:
    """Assess many curves, writing each result as it finishes.

    Parameters
    ----------
    curves : CurveSet or sequence of Curve
        From :func:`emergence.tidy.extract_curves`; keys (family, model, task, shots, metric,
        x) must be unique.
    out_dir : path
        Folder for ``settings.json``, ``rows.jsonl`` (one line per finished curve),
        ``curves.csv`` and ``verdicts.csv`` (written at the end) and ``excluded.csv``.
    seed, n_boot, alpha, min_scales, ic
        As in :func:`emergence.verdict.assess` (``ic`` defaults to False here: the AICc table is
        descriptive and costs about three times the tests).
    n_jobs : int, default=1
        Local worker processes (ignored when ``client`` is given).
    client : dask.distributed.Client, optional
        Run chunks on this cluster.
    chunk_size : int, default=20
        Curves per task sent to a worker.
    resume : bool, default=True
        Skip curves already in ``rows.jsonl`` (the settings must match). With False an existing
        ``rows.jsonl`` is replaced.
    progress : bool, default=True
        tqdm progress bar over curves.

    Returns
    -------
    VerdictTable
        Over every curve of the screen (finished earlier or now), with q-values across all.

    Raises
    ------
    ScreenSettingsError
        Resuming into a folder written with other settings.
    ValueError
        Duplicate curve keys.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from emergence.tidy import Curve
    >>> from emergence.screen import screen
    >>> x = np.logspace(8, 11, 8)
    >>> cs = [Curve("f", f"t{i}", "exact_match", 0, "params", x,
    ...             np.exp(-np.exp(14 - (1.5 + i / 10) * np.log10(x))).round(3),
    ...             np.full(8, np.nan), np.full(8, 1000.0), tuple("abcdefgh")) for i in range(3)]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     vt = screen(cs, d, n_boot=99, progress=False)
    ...     again = screen(cs, d, n_boot=99, progress=False)  # resumes: nothing left to do
    >>> len(vt.to_frame()), vt.to_frame()["pblrt_p"].equals(again.to_frame()["pblrt_p"])
    (3, True)
    """
    alpha = check_interval(alpha, "alpha", 0, 1)
    if isinstance(curves, CurveSet):
        cl, excluded = list(curves.curves), curves.excluded
    else:
        cl, excluded = list(curves), pd.DataFrame()
    bad = [type(c).__name__ for c in cl if not isinstance(c, Curve)]
    if bad:
        raise TypeError(f"`curves` must be Curves; got {bad[:3]}.")
    keys = [curve_key(c) for c in cl]
    dup = pd.Series(keys)[pd.Series(keys).duplicated()].tolist()
    if dup:
        raise ValueError(f"duplicate curves in the screen: {dup[:5]}; give them distinct "
                         "families, tasks or metrics.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"seed": int(seed), "n_boot": int(n_boot), "alpha": alpha,
                "min_scales": int(min_scales), "ic": bool(ic), "direction": "improving"}
    rows_path = out / ROWS
    set_path = out / SETTINGS
    if resume and set_path.exists() and rows_path.exists():
        old = json.loads(set_path.read_text())
        if old != settings:
            raise ScreenSettingsError(
                f"{out} holds a screen with settings {old}; this run uses {settings}. Use another "
                "folder, the same settings, or resume=False to start over."
            )
    elif rows_path.exists():
        rows_path.unlink()
    set_path.write_text(json.dumps(settings, indent=1))
    if len(excluded):
        excluded.to_csv(out / "excluded.csv", index=False)

    wanted = set(keys)
    done = {r["curve_key"]: r for r in _read_rows(rows_path) if r.get("curve_key") in wanted}
    todo = [c for c, k in zip(cl, keys, strict=True) if k not in done]
    kwargs = {"seed": int(seed), "n_boot": int(n_boot), "alpha": alpha,
              "min_scales": int(min_scales), "ic": bool(ic)}
    chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), max(1, chunk_size))]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cl), initial=len(done), desc="screen", unit="curve")

    if rows_path.exists() and rows_path.stat().st_size:
        with rows_path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            cut = fh.read(1) != b"\n"
        if cut:  # the last line was cut by an interruption: end it so new rows stay separate
            with rows_path.open("a", encoding="utf-8") as fh:
                fh.write("\n")
    with rows_path.open("a", encoding="utf-8") as fh:

        def write(rows: list[dict]) -> None:
            for r in rows:
                line = json.dumps({k: _jsonable(v) for k, v in r.items()})
                fh.write(line + "\n")
                done[r["curve_key"]] = json.loads(line)  # same types as a resumed row
            fh.flush()
            if bar is not None:
                bar.update(len(rows))

        try:
            if client is not None:
                from dask.distributed import as_completed as dask_completed

                futs = [client.submit(_run_chunk, ch, kwargs, pure=False) for ch in chunks]
                for fut in dask_completed(futs):
                    write(fut.result())
            elif n_jobs > 1 and len(chunks) > 1:
                with ProcessPoolExecutor(max_workers=int(n_jobs)) as ex:
                    futs = [ex.submit(_run_chunk, ch, kwargs) for ch in chunks]
                    for fut in as_completed(futs):
                        write(fut.result())
            else:
                for ch in chunks:
                    write(_run_chunk(ch, kwargs))
        finally:
            if bar is not None:
                bar.close()

    rows = [done[k] for k in keys if k in done]
    vt = finalize(pd.DataFrame(rows), alpha=alpha, n_boot=int(n_boot), seed=int(seed),
                  excluded=excluded)
    vt.rows.to_csv(out / "curves.csv", index=False)
    vt.groups.to_csv(out / "verdicts.csv", index=False)
    return vt
