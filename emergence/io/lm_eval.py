"""Readers for lm-evaluation-harness aggregate results.

Two generations are read:

* **v0.3** (the Pythia suite): ``{"results": {task: {metric: v, metric_stderr: v}}, "versions",
  "config": {"model_args": "pretrained=...,revision=stepN", "num_fewshot": k}}``. Metric keys have
  no filter suffix.
* **v0.4** ``results_<timestamp>.json``: metric keys ``"acc,none"``, ``"exact_match,strict-match"``;
  ``n-shot``, ``n-samples``, ``config.model_num_parameters``, ``config.model_revision``. Filter
  ``none`` is dropped from the metric name, other filters are kept as ``"metric,filter"``.
  A stderr of ``"N/A"`` becomes NaN. Groups listed in both ``results`` and ``groups`` are read once.

Scale columns: Pythia models get parameter counts from :data:`emergence.sizes.PYTHIA_SIZES` and
tokens = step x 2,097,152; v0.4 files use ``model_num_parameters`` (which counts embeddings);
``params=`` overrides either. A model of unknown size keeps ``params = NaN`` and is reported as
excluded by analyses that need it.

``n_items`` is taken from ``n-samples`` (v0.4) or, for v0.3 accuracies, recovered from the
reported standard error: lm-eval reports ``se = sqrt(p(1-p)/(n-1))``, so ``n = p(1-p)/se^2 + 1``.

``n_choices`` (the number of answer choices, from which analyses take the chance level) is set
when a v0.4 file's ``configs`` give a multiple-choice task its choices as a list
(``doc_to_choice: ["no", "yes"]``); choices given by a template are only known from the per-sample
logs (:mod:`emergence.io.samples`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import FormatError
from ..registry import find_metric_info
from ..schema import validate
from ..sizes import PYTHIA_TOKENS_PER_STEP, parse_pythia_name, parse_step, pythia_size
from ._files import Head, guarded, load_json, now_reading
from ._paths import expand_paths

__all__ = ["read_lm_eval", "parse_model_args", "is_lm_eval_aggregate", "is_lm_eval_results",
           "lm_eval_version"]

_SKIP_KEYS = {"alias", "name", "sample_len", "sample_count", " ", ""}


def parse_model_args(model_args: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Parse lm-eval ``model_args`` (``"a=1,b=2"`` string, or a dict as lm-eval >= 0.4.10 stores
    it) into a dict; string values are stripped, dict values kept as they are.

    Examples
    --------
    >>> parse_model_args("pretrained=EleutherAI/pythia-160m,revision=step13000")
    {'pretrained': 'EleutherAI/pythia-160m', 'revision': 'step13000'}
    """
    if model_args is None:
        return {}
    if isinstance(model_args, Mapping):
        return dict(model_args)
    out: dict[str, Any] = {}
    for part in str(model_args).split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def is_lm_eval_aggregate(obj: Any) -> bool:
    """True if a parsed JSON object looks like an lm-eval aggregate results file."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("results"), dict)
        and ("config" in obj or "versions" in obj)
        and all(isinstance(v, dict) for v in obj["results"].values())
    )


def is_lm_eval_results(head: Head) -> bool:
    """True for an lm-eval aggregate results file: one JSON object (not JSON lines) with a
    ``results`` mapping task -> metrics and a ``config`` or ``versions`` (lighteval's results,
    which have a ``config_general``, are not). The file is parsed with
    :func:`~emergence.io._files.load_json`, so inside a read the reader gets the same object."""
    if head.first_char != "{" or head.first_object is not None or head.has("config_general"):
        return False
    if head.complete and not head.has("results"):
        return False
    obj = load_json(head.path)
    return is_lm_eval_aggregate(obj) and "config_general" not in obj


def lm_eval_version(obj: Mapping[str, Any]) -> str:
    """``"0.4"`` if metric keys carry a ``,filter`` suffix (or v0.4 keys exist), else ``"0.3"``."""
    if any(k in obj for k in ("n-shot", "n-samples", "lm_eval_version", "group_subtasks")):
        return "0.4"
    for metrics in obj.get("results", {}).values():
        if any("," in k for k in metrics):
            return "0.4"
    return "0.3"


def _infer_n(p: float, se: float) -> float:
    if not (0 < p < 1) or not np.isfinite(se) or se <= 0:
        return math.nan
    return round(p * (1 - p) / se**2 + 1)


def _num(v: Any) -> float:
    if v is None or isinstance(v, bool) or (
        isinstance(v, str) and v.strip().upper() in ("N/A", "NA", "NAN", "")
    ):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _finite_positive(v: Any) -> float:
    x = _num(v)
    return x if math.isfinite(x) and x > 0 else math.nan


def _mapping(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """``obj[key]`` when it is a JSON object (missing or null: empty); else a FormatError."""
    v = obj.get(key)
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise FormatError(f"{path}: '{key}' must be a JSON object; found {type(v).__name__} "
                          f"{str(v)[:40]}.")
    return v


def _shots(v: Any, path: str, task: str) -> int | None:
    """Number of shots from ``n-shot`` / ``num_fewshot``: a non-negative integer or null."""
    if v is None:
        return None
    x = v
    if isinstance(v, str) and v.strip().lstrip("+").isdigit():
        x = int(v.strip())
    if isinstance(x, float) and math.isfinite(x) and x.is_integer():
        x = int(x)
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= 10**6:
        raise FormatError(f"{path}: number of shots for task {task[:60]!r} is {str(v)[:40]!r}; "
                          "expected a non-negative integer (or null when unknown).")
    return x


def _bad_value_note(raw: Any, value: float, metric: str) -> str | None:
    """Why a metric value is not usable (the row keeps value NaN and this note), or None."""
    if isinstance(raw, bool):
        return f"value {raw!r} is a boolean, not a number"
    if isinstance(raw, (dict, list)):
        return f"value is a JSON {'object' if isinstance(raw, dict) else 'array'}, not a number"
    if math.isnan(value):
        return f"value {str(raw)[:40]!r} is not a number"
    if not math.isfinite(value):
        return f"value {raw!r} is not finite"
    info = find_metric_info(metric)  # unknown metrics: analyses refuse them until declared
    if info is not None and not info.lower - 1e-9 <= value <= info.upper + 1e-9:
        return f"value {value:g} is outside the range [{info.lower:g}, {info.upper:g}] of {metric}"
    return None


def _rows_from_obj(
    obj: Mapping[str, Any],
    path: str,
    *,
    model: str | None,
    family: str | None,
    params: float | None,
    tokens_per_step: float | None,
) -> list[dict[str, Any]]:
    version = lm_eval_version(obj)
    cfg = _mapping(obj, "config", path)
    margs = parse_model_args(cfg.get("model_args"))
    pretrained = margs.get("pretrained") or cfg.get("model_name") or obj.get("model_name") or ""
    if not isinstance(pretrained, str):
        pretrained = str(pretrained)[:200]
    revision = margs.get("revision") or cfg.get("model_revision") or None
    revision = None if revision is None else str(revision)
    step = parse_step(revision) if revision else None
    if step is None:
        step = parse_step(Path(path).name)
        if step is not None and revision is None:
            revision = f"step{step}"
    pyth = parse_pythia_name(str(pretrained)) or parse_pythia_name(Path(path).parent.parent.name)
    name = model
    fam = family
    n_params = params
    nonemb = math.nan
    active = math.nan
    tps = tokens_per_step
    if pyth is not None:
        pname, size = pyth
        name = name or pname
        fam = fam or ("Pythia-deduped" if "deduped" in pname else "Pythia")
        if n_params is None:
            try:
                sz = pythia_size(size)
                n_params, nonemb, active = sz.params, sz.nonembedding_params, sz.active_params
            except KeyError:
                n_params = None
        tps = tps if tps is not None else PYTHIA_TOKENS_PER_STEP
    if name is None:
        name = str(pretrained).rstrip("/").split("/")[-1] if pretrained else Path(path).stem
    if n_params is None:
        n_params = (_finite_positive(cfg.get("model_num_parameters")) if version == "0.4"
                    else math.nan)
    tokens = step * tps if (step is not None and tps is not None) else math.nan
    nshot = _mapping(obj, "n-shot", path)
    nsamples = _mapping(obj, "n-samples", path)
    configs = obj.get("configs") if isinstance(obj.get("configs"), Mapping) else {}
    default_shots = cfg.get("num_fewshot")
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    sections = [_mapping(obj, "results", path), _mapping(obj, "groups", path)]
    for section in sections:
        for task, metrics in section.items():
            if not isinstance(metrics, Mapping):
                raise FormatError(f"{path}: task {task[:60]!r} must map metric names to values; "
                                  f"found {type(metrics).__name__}.")
            shots = _shots(nshot.get(task, default_shots), path, task)
            ns = nsamples.get(task) or {}
            k_choices = _config_choices(configs.get(task))
            n_eff = _finite_positive(ns.get("effective")) if isinstance(ns, Mapping) else math.nan
            if not np.isfinite(n_eff):
                n_eff = _finite_positive(metrics.get("sample_len"))
            for key, raw in metrics.items():
                if key in _SKIP_KEYS or not isinstance(key, str):
                    continue
                base, _, filt = key.partition(",")
                if base.endswith("_stderr"):
                    continue
                metric = base if filt in ("", "none") else f"{base},{filt}"
                if (task, metric) in seen:
                    continue
                seen.add((task, metric))
                se_key = f"{base}_stderr,{filt}" if filt else f"{base}_stderr"
                value = _num(raw)
                note = _bad_value_note(raw, value, metric)
                if note is not None:  # the row stays, flagged; analyses list it as excluded
                    value = math.nan
                se = _num(metrics.get(se_key))
                if not (math.isfinite(se) and se >= 0):
                    se = math.nan
                n_items = n_eff
                inferred = False
                info = find_metric_info(metric)
                if not np.isfinite(n_items) and info is not None and info.is_proportion:
                    n_items = _infer_n(value, se)
                    inferred = bool(np.isfinite(n_items))
                rows.append(
                    {
                        "family": fam,
                        "model": name,
                        "step": step,
                        "task": task,
                        "shots": shots,
                        "metric": metric,
                        "value": value,
                        "stderr": se,
                        "n_items": n_items,
                        "_n_inferred": inferred,
                        "params": n_params,
                        "nonembedding_params": nonemb,
                        "active_params": active,
                        "tokens": tokens,
                        "revision": revision,
                        "source": path,
                        "note": note,
                    }
                )
                if k_choices is not None:
                    rows[-1]["n_choices"] = k_choices  # the task config lists its choices
    return rows


def _config_choices(cfg: Any) -> int | None:
    """Number of answer choices a v0.4 task config states (``doc_to_choice`` given as a list)."""
    if not isinstance(cfg, Mapping) or cfg.get("output_type") != "multiple_choice":
        return None
    choices = cfg.get("doc_to_choice")
    if isinstance(choices, list) and len(choices) >= 2:
        return len(choices)
    return None


def _harmonise_n_items(df: pd.DataFrame) -> pd.DataFrame:
    """Counts recovered from a stderr carry rounding noise; the items of one (model family, task,
    shots, metric) are the same across files, so such estimates are replaced by their median.
    Rows whose count could not be recovered (accuracy exactly 0 or 1) take the same median.
    Counts the file states (``n-samples``) are kept as they are."""
    inf = df.pop("_n_inferred").astype(bool)
    if inf.any():
        keys = [df["family"].astype(object), df["task"], df["shots"], df["metric"]]
        est = df["n_items"].where(inf)  # only the recovered counts enter the median
        med = est.groupby(keys, dropna=False).transform("median").round()
        target = inf | df["n_items"].isna()
        df.loc[target, "n_items"] = med[target]
    return df


@guarded("lm-evaluation-harness results file")
def read_lm_eval(
    paths: str | Path | Iterable[str | Path],
    *,
    model: str | None = None,
    family: str | None = None,
    params: float | Mapping[str, float] | None = None,
    tokens_per_step: float | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Read lm-evaluation-harness aggregate results files (v0.3 or v0.4) into the tidy table.

    Parameters
    ----------
    paths : path or iterable of paths
        ``.json`` files or directories (searched recursively for ``*.json``).
    model, family : str, optional
        Override the model name / family read from ``config.model_args``.
    params : float or mapping model -> float, optional
        Parameter count(s) for models whose size is not known to the package.
    tokens_per_step : float, optional
        Tokens per training step, to derive ``tokens`` from the checkpoint step (Pythia's
        2,097,152 is used for Pythia models).
    progress : bool, default=False
        Show a progress bar.

    Returns
    -------
    DataFrame
        Tidy table (see :mod:`emergence.schema`).

    Raises
    ------
    FormatError
        A file is not valid JSON or not an lm-eval aggregate file (the message names it).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> obj = {"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.0114}},
    ...        "versions": {"piqa": 0},
    ...        "config": {"model_args": "pretrained=EleutherAI/pythia-v1.1-160m,revision=step143000",
    ...                   "num_fewshot": 0}}
    >>> _ = (d / "160m_step143000.json").write_text(json.dumps(obj))
    >>> df = read_lm_eval(d)
    >>> row = df.iloc[0]
    >>> row["model"], int(row["step"]), row["task"], row["metric"], int(row["n_items"])
    ('pythia-160m', 143000, 'piqa', 'acc', 1848)
    """
    from tqdm.auto import tqdm

    files = expand_paths(paths, lambda f: f.suffix == ".json", "*.json")
    rows: list[dict[str, Any]] = []
    for f in tqdm(files, desc="lm-eval files", disable=not progress, unit="file"):
        now_reading(f)
        obj = _load_json(f)
        if not is_lm_eval_aggregate(obj):
            raise FormatError(
                f"{f}: not an lm-evaluation-harness results file (expected a JSON object with "
                "'results' mapping task -> metrics and a 'config'). Per-sample logs are read by "
                "emergence.io.samples; other tables by emergence.io.read_table."
            )
        p = params.get(model or "", None) if isinstance(params, Mapping) else params
        new = _rows_from_obj(
            obj, str(f), model=model, family=family, params=p, tokens_per_step=tokens_per_step
        )
        if isinstance(params, Mapping):
            for r in new:
                if r["model"] in params:
                    r["params"] = float(params[r["model"]])
        rows.extend(new)
    if not rows:
        raise FormatError(f"no results found in {', '.join(map(str, files))}.")
    now_reading(None)
    df = pd.DataFrame(rows)
    df = _harmonise_n_items(df)
    return validate(df, name=str(files[0]) if len(files) == 1 else None, allow_duplicates=True)


def _load_json(path: Path) -> Any:
    return load_json(path)



