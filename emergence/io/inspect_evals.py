"""Inspect (``inspect_ai``) evaluation logs (``.eval`` and ``.json``) -> per-item records.

Logs are opened with Inspect's own reader, :func:`inspect_ai.log.read_eval_log`, so every log
format version Inspect reads is read here the same way (install the optional extra:
``pip install "emergence-audit[inspect]"``). One record per sample and epoch:

- ``model`` = ``eval.model`` (e.g. ``hf/EleutherAI/pythia-160m``), ``task`` = ``eval.task``,
  ``item`` = the sample id, ``run`` = the epoch when the task ran more than one epoch (Inspect's
  epochs are replicate generations of the same sample);
- ``prediction`` = ``output.completion``; ``target`` / ``targets`` = the sample's target(s);
- ``n_choices`` = the number of ``choices`` of a multiple-choice sample;
- ``normalize = "inspect"``: Inspect's ``exact()`` scorer rule (case-folded tokens without
  punctuation or articles, numbers as floats), so the re-scored ``exact_match`` is Inspect's own;
- ``harness_scores``: every scorer's value as a number (``C``/``I``/``P``/``N`` through Inspect's
  ``value_to_float``).

:func:`inspect_scores` returns the log's own aggregates (``results.scores``) for comparison.

Inspect records no log-probabilities of targets by default, so only the text metrics (exact
match, token edit distance, BLEU/ROUGE) apply; ``p_vocab`` and friends need logprobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import FormatError
from ._common import per_model, records_frame
from ._files import Head, read_head
from ._paths import expand_paths

__all__ = ["read_inspect", "inspect_scores", "is_inspect_log", "is_inspect_head"]


def _require() -> Any:
    try:
        from inspect_ai import log as inspect_log
    except ImportError:
        raise FormatError(
            "reading Inspect logs needs the inspect_ai package: pip install "
            "'emergence-audit[inspect]' (or pip install inspect_ai)."
        ) from None
    return inspect_log


def is_inspect_head(head: Head) -> bool:
    """True for an Inspect ``.eval`` archive (a zip), or a ``.json`` log with Inspect's top-level
    keys in its first 2 KB."""
    if head.suffix == ".eval":
        return head.data[:4] == b"PK\x03\x04"
    if head.suffix == ".json":
        start = head.data[:2048]
        return b'"eval"' in start and (b'"version"' in start or b'"status"' in start) \
            and b'"results"' not in start[:40]
    return False


def is_inspect_log(path: str | Path) -> bool:
    """True for an Inspect ``.eval`` archive, or a ``.json`` log with Inspect's top-level keys."""
    p = Path(path)
    if p.suffix not in (".eval", ".json"):
        return False
    try:
        return is_inspect_head(read_head(p, 2048))
    except (OSError, FormatError):
        return False


def _accept(f: Path) -> bool:
    return f.suffix == ".eval" or (f.suffix == ".json" and is_inspect_log(f))


def _read(f: Path) -> Any:
    inspect_log = _require()
    try:
        return inspect_log.read_eval_log(str(f))
    except Exception as exc:  # noqa: BLE001 - Inspect raises many types for a bad file
        msg = " ".join(str(exc).split())[:200]
        raise FormatError(f"{f}: Inspect could not read this log ({type(exc).__name__}: {msg})."
                          ) from None


def read_inspect(
    paths: str | Path | Sequence[str | Path],
    *,
    params: float | Mapping[str, float] | None = None,
    family: str | None = None,
) -> pd.DataFrame:
    """Read Inspect evaluation logs into per-item records.

    Parameters
    ----------
    paths : path or list of paths
        ``.eval`` (or ``.json``) logs, or folders searched recursively for them.
    params : float or mapping model -> float, optional
        Parameter count per model (Inspect logs do not state it).
    family : str, optional
        Model family of every record.

    Returns
    -------
    DataFrame
        Records (:mod:`emergence.records`) with extra columns ``input`` and
        ``harness_scores``; ``attrs["skipped"]`` counts samples without output (errors or
        cancelled samples), which are kept as invalid records.

    Raises
    ------
    FormatError
        inspect_ai is not installed, or Inspect cannot read a log; the message names the file.

    Examples
    --------
    >>> from emergence.io.inspect_evals import is_inspect_log
    >>> is_inspect_log("results.csv")
    False
    """
    files = expand_paths(paths, _accept, ".eval or Inspect .json logs")
    rows: list[dict[str, Any]] = []
    inspect_scorer = None
    for f in files:
        log = _read(f)
        if log.samples is None:
            raise FormatError(f"{f}: the log holds no samples (written with --no-log-samples?); "
                              "per-item re-scoring needs them.")
        if inspect_scorer is None:
            from inspect_ai.scorer import value_to_float

            inspect_scorer = value_to_float()
        ev = log.eval
        epochs = getattr(ev.config, "epochs", None) or 1
        model = str(ev.model)
        for si, s in enumerate(log.samples):
            where = f"{f}:samples[{si}]"
            target = s.target
            targets = [str(t) for t in target] if isinstance(target, list) else [str(target)]
            rec: dict[str, Any] = {
                "family": family,
                "model": model,
                "task": str(ev.task),
                "item": str(s.id),
                "run": str(s.epoch) if epochs > 1 else None,
                "output_type": "generate_until",
                "target": targets[0] if targets else "",
                "targets": targets if len(targets) > 1 else pd.NA,
                "n_choices": len(s.choices) if s.choices else None,
                "normalize": "inspect",
                "params": per_model(params, model),
                "source": where,
                "input": s.input if isinstance(s.input, str) else str(s.input),
            }
            out = s.output
            if s.error is not None or out is None:
                rec["invalid"] = f"sample ended with an error: {str(s.error)[:120]}"
            else:
                rec["prediction"] = out.completion
            scores = {}
            for name, sc in (s.scores or {}).items():
                try:
                    scores[name] = float(inspect_scorer(sc.value))
                except (TypeError, ValueError):
                    continue
            rec["harness_scores"] = scores or pd.NA
            rows.append(rec)
    return records_frame(rows, files, "samples in the Inspect logs")


def inspect_scores(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Inspect's own aggregates (``results.scores``): one row per (model, task, scorer, metric).

    Returns
    -------
    DataFrame
        Columns ``model``, ``task``, ``scorer``, ``metric``, ``value``, ``scored_samples``,
        ``source``.
    """
    files = expand_paths(paths, _accept, ".eval or Inspect .json logs")
    rows = []
    for f in files:
        log = _read(f)
        if log.results is None:
            continue
        for sc in log.results.scores:
            for name, m in sc.metrics.items():
                rows.append({"model": str(log.eval.model), "task": str(log.eval.task),
                             "scorer": sc.name, "metric": name, "value": float(m.value),
                             "scored_samples": sc.scored_samples, "source": str(f)})
    return pd.DataFrame(rows, columns=["model", "task", "scorer", "metric", "value",
                                       "scored_samples", "source"])
