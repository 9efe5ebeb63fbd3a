"""Screen many curves: verdicts for every curve, written as they finish, resumable, parallel.

Each curve is assessed independently (:func:`emergence.verdict.assess_curve`, seeded from the
curve's identity, so results do not depend on the order, the chunking or the workers), and each
finished row is appended to ``rows.jsonl`` in the output folder with a hash of the curve's data and
the settings. An interrupted screen keeps every finished row; running it again skips the curves
whose data and settings are unchanged and recomputes the others (a changed input never reuses a
stale row). At the end the p-values are
adjusted across the whole screen (Benjamini-Hochberg) and ``curves.csv`` and ``verdicts.csv``
are written.

Work runs in this process (``n_jobs=1``), in local processes (``n_jobs > 1``) or on a
``dask.distributed`` cluster (pass its ``Client``). Local workers ignore Ctrl-C and die with their
parent (``PR_SET_PDEATHSIG`` on Linux, and a watchdog that exits when the parent is gone), so a
killed screen leaves no process behind; on Ctrl-C the chunks already finished are written and the
workers are stopped at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ._csvsafe import write_csv
from ._defaults import ALPHA, N_BOOT
from ._exceptions import EmergenceError
from ._random import SeedLike, root_seed
from ._validation import check_interval, check_jobs, check_scatter_sd
from .assessment import CurveAssessment
from .curves import Curve, CurveSet
from .verdict import KEY_COLS, VerdictTable, assess_curve, degenerate_metrics, finalize

__all__ = ["screen", "curve_key", "curve_hash", "ScreenSettingsError"]

ROWS = "rows.jsonl"
SETTINGS = "settings.json"
#: Version of the row columns in ``rows.jsonl`` (2: the ``*_pvalue``/``*_qvalue`` vocabulary of
#: :mod:`emergence.assessment`). A folder written with another version is not resumed.
COLUMNS_VERSION = 2


class ScreenSettingsError(EmergenceError, ValueError):
    """The output folder holds a screen run with different settings."""


def curve_key(curve: Curve) -> str:
    """Identity of a curve in a screen (family|model|task|shots|metric|x_name[|run=R])."""
    key = "|".join(str(curve.key[k]) for k in KEY_COLS)
    return key if curve.run is None else f"{key}|run={curve.run}"


def curve_hash(curve: Curve) -> str:
    """sha256 of everything a curve holds (scales, values, errors, counts, items, labels, chance,
    notes, ...): two curves with the same hash give the same verdict under the same settings.

    Examples
    --------
    >>> import numpy as np
    >>> from emergence.curves import Curve
    >>> c = Curve("f", "t", "acc", 0, "params", np.array([1e8, 1e9]), np.array([.2, .4]),
    ...           np.full(2, np.nan), np.full(2, 100.0), ("a", "b"))
    >>> d = Curve("f", "t", "acc", 0, "params", np.array([1e8, 1e9]), np.array([.2, .5]),
    ...           np.full(2, np.nan), np.full(2, 100.0), ("a", "b"))
    >>> curve_hash(c) == curve_hash(d), len(curve_hash(c))
    (False, 64)
    """
    h = hashlib.sha256()
    for f in dataclasses.fields(curve):
        v = getattr(curve, f.name)
        h.update(f.name.encode() + b"=")
        if isinstance(v, np.ndarray):
            a = np.ascontiguousarray(v)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
        else:
            h.update(repr(v).encode("utf-8", "surrogatepass"))
        h.update(b";")
    return h.hexdigest()


def _input_hash(curve: Curve, settings: dict) -> str:
    text = curve_hash(curve) + json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _run_chunk(curves: list[Curve], kwargs: dict, hashes: list[str] | None = None) -> list[dict]:
    out = []
    for i, c in enumerate(curves):
        row = assess_curve(c, **kwargs).to_dict()
        row["curve_key"] = curve_key(c)
        if hashes is not None:
            row["input_hash"] = hashes[i]
        out.append(row)
    return out


def _worker_init(parent: int) -> None:
    """Local worker: ignore Ctrl-C (the parent stops the pool) and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:  # Linux: SIGKILL this worker when the parent dies, even by SIGKILL
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watchdog() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watchdog, daemon=True, name="emergence-watchdog").start()


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
    seed: SeedLike = 0,
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    min_scales: int = 6,
    ic: bool = False,
    n_jobs: int = 1,
    client=None,
    chunk_size: int = 20,
    resume: bool = True,
    progress: bool = True,
    scatter_sd: float | None = None,
) -> VerdictTable:
    """Assess many curves, writing each result as it finishes.

    Parameters
    ----------
    curves : CurveSet or sequence of Curve
        From :func:`emergence.curves.extract_curves`; keys (family, model, task, shots, metric,
        x) must be unique.
    out_dir : path
        Folder for ``settings.json``, ``rows.jsonl`` (one line per finished curve),
        ``curves.csv`` and ``verdicts.csv`` (written at the end) and ``excluded.csv``.
    seed, n_boot, alpha, min_scales, ic
        As in :func:`emergence.verdict.assess`; the integer seed is stored in ``settings.json``, so
        a resumed screen must use the same one (a Generator seeded the same way gives the same
        integer; None gives a new one each run) (``ic`` defaults to False here: the AICc table is
        descriptive and costs about three times the tests).
    scatter_sd : float, optional
        Declared model-to-model scatter, as in :func:`emergence.verdict.assess`; stored in
        ``settings.json`` when given.
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
    >>> from emergence.curves import Curve
    >>> from emergence.screen import screen
    >>> x = np.logspace(8, 11, 8)
    >>> cs = [Curve("f", f"t{i}", "exact_match", 0, "params", x,
    ...             np.exp(-np.exp(14 - (1.5 + i / 10) * np.log10(x))).round(3),
    ...             np.full(8, np.nan), np.full(8, 1000.0), tuple("abcdefgh")) for i in range(3)]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     vt = screen(cs, d, n_boot=99, progress=False)
    ...     again = screen(cs, d, n_boot=99, progress=False)  # resumes: nothing left to do
    >>> len(vt.to_frame()), vt.to_frame()["pblrt_pvalue"].equals(again.to_frame()["pblrt_pvalue"])
    (3, True)
    """
    alpha = check_interval(alpha, "alpha", 0, 1)
    n_jobs = check_jobs(n_jobs, "n_jobs", "local worker processes")
    seed = root_seed(seed)
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
                "min_scales": int(min_scales), "ic": bool(ic), "direction": "improving",
                "columns": COLUMNS_VERSION}
    scatter_sd = check_scatter_sd(scatter_sd)
    if scatter_sd is not None:  # only when declared, so folders of earlier screens still resume
        settings["scatter_sd"] = scatter_sd
    rows_path = out / ROWS
    set_path = out / SETTINGS
    if resume and set_path.exists() and rows_path.exists():
        try:
            old = json.loads(set_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = None
        if isinstance(old, dict) and old.get("columns") != COLUMNS_VERSION:
            raise ScreenSettingsError(
                f"{out} holds a screen written by an older version of emergence, with other "
                "column names (pblrt_p, davies_p, ... are now pblrt_pvalue, davies_pvalue, ...); "
                "its rows cannot be mixed with new ones. Use another folder, or resume=False "
                "(--restart at the command line) to start over in this one."
            )
        if old is not None and {k: v for k, v in old.items() if k != "inputs"} != settings:
            raise ScreenSettingsError(
                f"{out} holds a screen with settings {old}; this run uses {settings}. Use another "
                "folder, the same settings, or resume=False to start over."
            )
    elif rows_path.exists():
        rows_path.unlink()
    hashes = [_input_hash(c, settings) for c in cl]
    inputs = hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()
    set_path.write_text(json.dumps({**settings, "inputs": inputs}, indent=1))
    if len(excluded):
        write_csv(excluded, out / "excluded.csv")

    # a finished row is reused only for the same curve key, data and settings
    want = dict(zip(keys, hashes, strict=True))
    done: dict[str, dict] = {}
    stale = set()
    for r in _read_rows(rows_path):
        k = r.get("curve_key")
        if k in want:
            if r.get("input_hash") == want[k]:
                done[k] = r
            else:
                stale.add(k)
    stale -= set(done)
    if stale:
        warnings.warn(f"{len(stale)} finished row(s) in {rows_path} were computed from other "
                      "input data or settings; those curves are computed again.", stacklevel=2)
    todo = [(c, h) for c, k, h in zip(cl, keys, hashes, strict=True) if k not in done]
    kwargs = {"seed": int(seed), "n_boot": int(n_boot), "alpha": alpha,
              "min_scales": int(min_scales), "ic": bool(ic), "scatter_sd": scatter_sd}
    step = max(1, chunk_size)
    chunks = [([c for c, _ in todo[i:i + step]], [h for _, h in todo[i:i + step]])
              for i in range(0, len(todo), step)]
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
                _run_dask(client, chunks, kwargs, write)
            elif n_jobs > 1 and len(chunks) > 1:
                _run_local(int(n_jobs), chunks, kwargs, write)
            else:
                for ch, hs in chunks:
                    write(_run_chunk(ch, kwargs, hs))
        finally:
            if bar is not None:
                bar.close()

    rows = [done[k] for k in keys if k in done]
    ids = ("curve_key", "input_hash")
    # a metric that is a function of a 0/1 metric of its group on the same items (single-token
    # edit distance = 1 - exact match) is named as in assess: it needs the whole group, so it is
    # found here, from the curves, not per row
    degenerate = dict(zip(keys, degenerate_metrics(cl), strict=True))
    assessments = [CurveAssessment.from_dict(r, ignore=ids) for r in rows]
    assessments = [dataclasses.replace(a, degenerate_of=degenerate[r["curve_key"]])
                   if degenerate.get(r["curve_key"]) else a
                   for a, r in zip(assessments, rows, strict=True)]
    vt = finalize(assessments, alpha=alpha, n_boot=int(n_boot), seed=int(seed),
                  excluded=excluded,
                  extra=pd.DataFrame({c: [r.get(c) for r in rows] for c in ids}))
    write_csv(vt.rows, out / "curves.csv")
    write_csv(vt.groups, out / "verdicts.csv")
    return vt


def _run_local(n_jobs: int, chunks: list, kwargs: dict, write) -> None:
    """Chunks on a local process pool; on Ctrl-C the finished chunks are written and the pool is
    terminated at once (no waiting for running chunks)."""
    pool = multiprocessing.get_context().Pool(n_jobs, initializer=_worker_init,
                                              initargs=(os.getpid(),))
    results = []
    taken: set[int] = set()  # chunks handed to write() (even if a Ctrl-C cut it short)
    try:
        results = [pool.apply_async(_run_chunk, (ch, kwargs, hs)) for ch, hs in chunks]
        pending = list(range(len(results)))
        while pending:
            results[pending[0]].wait(0.05)
            still = []
            for i in pending:
                if results[i].ready():
                    taken.add(i)
                    write(results[i].get())
                else:
                    still.append(i)
            pending = still
        pool.close()
    except BaseException:
        for i, r in enumerate(results):  # chunks that finished while we were interrupted
            if i not in taken and r.ready() and r.successful():
                taken.add(i)
                write(r.get())
        pool.terminate()
        raise
    finally:
        pool.join()


def _run_dask(client, chunks: list, kwargs: dict, write) -> None:
    from dask.distributed import as_completed as dask_completed

    futs = [client.submit(_run_chunk, ch, kwargs, hs, pure=False) for ch, hs in chunks]
    written = set()
    try:
        for fut in dask_completed(futs):
            write(fut.result())
            written.add(fut.key)
    except BaseException:
        for fut in futs:
            if fut.key not in written and fut.status == "finished":
                write(fut.result())
        client.cancel([f for f in futs if f.status not in ("finished", "error")])
        raise
