"""Score a records table under every applicable metric, driven by a table of metric definitions.

:data:`DEFINITIONS` holds one :class:`MetricDef` per metric :func:`rescore` computes: its name,
the output types it applies to, whether it needs target log-likelihoods, the per-row columns it
adds and the function that scores a batch of records. :func:`rescore` iterates over it; adding a
metric is adding a row. The metric's facts (direction, range, kind, latent link) are not repeated
here: :attr:`MetricDef.info` reads them from :mod:`emergence.registry`.

Examples
--------
>>> from emergence.scoring.rescore import DEFINITIONS, APPLIES_TO
>>> d = DEFINITIONS[0]
>>> d.name, sorted(d.applies_to), d.info.higher_is_better, d.info.kind
('exact_match', ['generate_until', 'loglikelihood'], True, 'discontinuous')
>>> sorted(APPLIES_TO["brier_score"])
['multiple_choice']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import DataExclusionWarning
from .._validation import check_option
from ..records import validate_records
from ..registry import MetricInfo, metric_info
from ..schema import validate
from .metrics import (
    _edit,
    _pad,
    bleu,
    brier_score,
    exact_match,
    loglik_per_token,
    multiple_choice_grade,
    p_choices,
    p_token,
    p_vocab,
    rouge_l,
)
from .text import NORMALIZATIONS, _lengths, tokenize, tokenizer_labels

__all__ = [
    "MetricDef",
    "DEFINITIONS",
    "METRICS",
    "OPTIONAL_METRICS",
    "APPLIES_TO",
    "rescore",
    "attach_loglik",
]

_LL_TYPES = frozenset({"loglikelihood", "multiple_choice", "loglikelihood_rolling",
                       "generate_until"})
_NO_PREDICTION = "no prediction"
_ALL_INF = "every choice has log-likelihood -inf"
_LL_INF = "target log-likelihood is -inf (probability 0)"
_ZERO_TOKENS = "target has 0 tokens"


def _metric_name(base: str, filt: pd.Series) -> pd.Series:
    return pd.Series(np.where(filt.to_numpy() == "none", base,
                              base + "," + filt.astype(str).to_numpy()), index=filt.index)


def _targets_of(rec: pd.DataFrame) -> list[Any]:
    out = []
    for t, ts in zip(rec["target"], rec["targets"], strict=True):
        if isinstance(ts, list) and ts:
            out.append(ts)
        else:
            out.append("" if t is pd.NA or t is None else str(t))
    return out


def _em_rules(stated: pd.Series, normalize: str | Callable[[str], str]) -> list[str]:
    """Exact-match rule per generation record: the source's own (``normalize="source"``)."""
    if callable(normalize):
        return ["callable"] * len(stated)
    if normalize != "source":
        return [normalize] * len(stated)
    rules = []
    for r in stated:
        r = "strip" if r is pd.NA or r is None else str(r)
        rules.append(r if r in NORMALIZATIONS else "strip")
    return rules


def _rule_label(rule: str, normalize: str | Callable[[str], str], stated: bool = True) -> str:
    if callable(normalize):
        return getattr(normalize, "__qualname__", "callable")
    if normalize != "source":
        return rule
    return f"{rule} (the source's rule)" if stated else f"{rule} (the source states no rule)"


def _target_lengths(rec: pd.DataFrame, tokenizer: str | Callable[[str], Any],
                    valid: np.ndarray) -> pd.arrays.IntegerArray:
    """Tokens of each record's target under ``tokenizer`` (NA without a target)."""
    texts = rec["target"]
    has = texts.notna().to_numpy() & valid
    out = np.full(len(rec), -1, dtype=np.int64)
    if has.any():
        uniq = pd.unique(texts[has].astype(str))
        lens = dict(zip(uniq, _lengths(tokenize(list(uniq), tokenizer)).astype(np.int64),
                        strict=True))
        out[has] = [lens[t] for t in texts[has].astype(str)]
    return pd.array(np.where(out >= 0, out, None), dtype="Int64")


def _out_of_range(out: pd.DataFrame) -> None:
    """Scores outside their metric's declared range become NaN with a note (corrupt input)."""
    for metric, idx in out.groupby("metric", sort=False).groups.items():
        info = metric_info(str(metric))
        v = out.loc[idx, "value"]
        bad = (v < info.lower - 1e-9) | (v > info.upper + 1e-9)
        if bad.any():
            rows = v.index[bad]
            out.loc[rows, "note"] = [f"score {x:g} outside the range [{info.lower:g}, "
                                     f"{info.upper:g}] of {metric} (corrupt input)"
                                     for x in v[bad]]
            out.loc[rows, "value"] = np.nan


@dataclass(frozen=True)
class _Part:
    """Scores of the records selected by ``mask`` (in record order), with notes and the
    exact-match rule applied (``norm``) where the metric states one."""

    mask: np.ndarray
    values: np.ndarray
    notes: np.ndarray | None = None
    norm: np.ndarray | None = None


def _na(values: np.ndarray, cond: np.ndarray, text: str,
        notes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``values`` with NaN where ``cond``, and ``notes`` saying ``text`` there."""
    v = values.copy()
    n = np.full(v.shape, None, dtype=object) if notes is None else notes
    v[cond] = np.nan
    n[cond] = text
    return v, n


@dataclass(frozen=True)
class _Loglik:
    mask: np.ndarray
    tll: np.ndarray
    ntok: np.ndarray
    unit_note: np.ndarray
    neginf: np.ndarray
    zero_tok: np.ndarray


class _Batch:
    """One :func:`rescore` call's records and options, and what several metrics share (computed
    at most once, when a metric first needs it)."""

    def __init__(self, rec: pd.DataFrame, *, tokenizer: str | Callable[[str], Any],
                 normalize: str | Callable[[str], str], regex: str | None, workers: int) -> None:
        self.rec = rec
        self.tokenizer = tokenizer
        self.normalize = normalize
        self.regex = regex
        self.workers = workers
        self.otype = rec["output_type"].to_numpy()
        self.valid = rec["invalid"].isna().to_numpy()
        self.gen = (self.otype == "generate_until") & self.valid
        self.ll_rows = (self.otype == "loglikelihood") & self.valid
        self.mc = (self.otype == "multiple_choice") & self.valid
        self.pred_na = rec["prediction"].isna().to_numpy()

    @cached_property
    def gen_targets(self) -> list[Any]:
        return _targets_of(self.rec.loc[self.gen]) if self.gen.any() else []

    @cached_property
    def gen_pred(self) -> list[str]:
        return self.rec.loc[self.gen, "prediction"].fillna("").tolist()

    @cached_property
    def choice_loglik(self) -> np.ndarray:
        return _pad(self.rec.loc[self.mc, "choice_loglik"].tolist())

    @cached_property
    def gold(self) -> np.ndarray:
        return self.rec.loc[self.mc, "gold"].astype("int64").to_numpy()

    @cached_property
    def all_inf(self) -> np.ndarray:
        return np.all(np.isneginf(self.choice_loglik), axis=1)

    @cached_property
    def loglik(self) -> _Loglik | None:
        """Target log-likelihoods and token counts of the records that have them."""
        rec = self.rec
        mask = (rec["target_loglik"].notna().to_numpy() & np.isin(self.otype, list(_LL_TYPES))
                & self.valid)
        if not mask.any():
            return None
        sub = rec.loc[mask]
        tll = sub["target_loglik"].to_numpy(np.float64).copy()
        ntok = sub["target_ntokens"].astype("float64").to_numpy().copy()
        counted = np.isnan(ntok)
        unit_note = np.full(len(sub), None, dtype=object)
        if counted.any():
            texts = sub["target"].fillna("").to_numpy()[counted]
            ntok[counted] = _lengths(tokenize(list(texts), self.tokenizer))
            unit = self.tokenizer if isinstance(self.tokenizer, str) else getattr(
                self.tokenizer, "__qualname__", "callable")
            unit_note[counted] = f"tokens counted with tokenizer={unit}"
        return _Loglik(mask, tll, ntok, unit_note, np.isneginf(tll), ntok <= 0)


# --- the metric functions: records of one batch -> parts of the score table -------------------


def _score_exact_match(b: _Batch) -> list[_Part]:
    parts = []
    if b.gen.any():
        rules = _em_rules(b.rec.loc[b.gen, "normalize"], b.normalize)
        v = np.empty(int(b.gen.sum()))
        for rule in dict.fromkeys(rules):
            sel = np.array([r == rule for r in rules])
            fn = b.normalize if callable(b.normalize) else rule
            v[sel] = exact_match([b.gen_pred[i] for i in np.flatnonzero(sel)],
                                 [b.gen_targets[i] for i in np.flatnonzero(sel)],
                                 normalize=fn, regex=b.regex)
        stated = b.rec.loc[b.gen, "normalize"].notna().to_numpy()
        label = np.array([_rule_label(r, b.normalize, st)
                          for r, st in zip(rules, stated, strict=True)], dtype=object)
        parts.append(_Part(b.gen, *_na(v, b.pred_na[b.gen], _NO_PREDICTION), norm=label))
    # log-likelihood requests: greedy decoding reproduces the target (where logged)
    greedy = b.ll_rows & b.rec["is_greedy"].notna().to_numpy()
    if greedy.any():
        parts.append(_Part(greedy, b.rec.loc[greedy, "is_greedy"].astype("float64").to_numpy()))
    return parts


def _score_edit(normalized: bool) -> Callable[[_Batch], list[_Part]]:
    def score(b: _Batch) -> list[_Part]:
        if not b.gen.any():
            return []
        v = _edit(b.gen_pred, b.gen_targets, b.tokenizer, normalized, b.workers)
        return [_Part(b.gen, *_na(v, b.pred_na[b.gen], _NO_PREDICTION))]
    return score


def _score_text(fn: Callable[[Sequence[str], Sequence[Any]], np.ndarray]
                ) -> Callable[[_Batch], list[_Part]]:
    def score(b: _Batch) -> list[_Part]:
        if not b.gen.any():
            return []
        v = fn(b.gen_pred, b.gen_targets)
        return [_Part(b.gen, *_na(v, b.pred_na[b.gen], _NO_PREDICTION))]
    return score


def _source_grade(b: _Batch) -> np.ndarray:
    """The source's own grade: its ranked scores, its tie rule, its choice credits."""
    rec = b.rec.loc[b.mc]
    ranked = [r if isinstance(r, list) else c
              for r, c in zip(rec["rank_loglik"], rec["choice_loglik"], strict=True)]
    return multiple_choice_grade(
        ranked, b.gold,
        choice_values=[cv if isinstance(cv, list) else None for cv in rec["choice_values"]],
        tie_break=rec["tie_break"].fillna("first").tolist())


def _score_choices(fn: Callable[[_Batch], np.ndarray]) -> Callable[[_Batch], list[_Part]]:
    def score(b: _Batch) -> list[_Part]:
        if not b.mc.any():
            return []
        return [_Part(b.mc, *_na(fn(b), b.all_inf, _ALL_INF))]
    return score


def _score_loglik(name: str) -> Callable[[_Batch], list[_Part]]:
    def score(b: _Batch) -> list[_Part]:
        ll = b.loglik
        if ll is None:
            return []
        if name == "target_loglik":
            v, n = _na(ll.tll, ll.neginf, _LL_INF)
        elif name == "p_vocab":
            v, n = p_vocab(ll.tll), None
        elif name == "loglik_per_token":
            v, n = _na(loglik_per_token(ll.tll, ll.ntok), ll.neginf, _LL_INF,
                       ll.unit_note.copy())
            v, n = _na(v, ll.zero_tok & ~ll.neginf, _ZERO_TOKENS, n)
        else:
            v, n = _na(p_token(ll.tll, ll.ntok), ll.zero_tok, _ZERO_TOKENS, ll.unit_note.copy())
        return [_Part(ll.mask, v, n)]
    return score


@dataclass(frozen=True)
class MetricDef:
    """How :func:`rescore` computes one metric.

    Attributes
    ----------
    name : str
        Metric name in the score table (an lm-eval filter other than ``none`` is appended).
    applies_to : frozenset of str
        Output types of the records it scores.
    score : callable
        Records of one batch -> the parts of the score table (internal).
    definition : str
        What the score is, in one line.
    needs_loglik : bool, default=False
        Scores only records with a target log-likelihood; generations have one only when it
        was attached (:func:`attach_loglik`).
    optional : bool, default=False
        Computed only when asked for (needs an optional package).
    columns : tuple of str, default=()
        Per-row columns it adds to the score table (``normalize``: the exact-match rule applied).

    Examples
    --------
    >>> from emergence.scoring.rescore import DEFINITIONS
    >>> [d.name for d in DEFINITIONS if d.needs_loglik]
    ['target_loglik', 'loglik_per_token', 'p_vocab', 'p_token']
    """

    name: str
    applies_to: frozenset[str]
    score: Callable[[_Batch], list[_Part]]
    definition: str
    needs_loglik: bool = False
    optional: bool = False
    columns: tuple[str, ...] = ()

    @property
    def info(self) -> MetricInfo:
        """The metric's facts (direction, range, kind, latent link) from :mod:`emergence.registry`."""
        return metric_info(self.name)

    def scorable_types(self, has_generation_loglik: bool) -> frozenset[str]:
        """Output types it can score, given whether any generation has a target log-likelihood."""
        if self.needs_loglik and not has_generation_loglik:
            return self.applies_to - {"generate_until"}
        return self.applies_to


_GEN = frozenset({"generate_until"})
_MC = frozenset({"multiple_choice"})

#: Every metric :func:`rescore` computes, in output order (optional metrics last).
DEFINITIONS: tuple[MetricDef, ...] = (
    MetricDef("exact_match", frozenset({"generate_until", "loglikelihood"}), _score_exact_match,
              "prediction equals a target after normalisation; for log-likelihood requests the "
              "harness's is_greedy", columns=("normalize",)),
    MetricDef("multiple_choice_grade", _MC, _score_choices(_source_grade),
              "credit of the choice with the highest log-likelihood, as the source grades it"),
    MetricDef("token_edit_distance", _GEN, _score_edit(False),
              "Levenshtein distance between token lists (min over targets)"),
    MetricDef("normalized_edit_distance", _GEN, _score_edit(True),
              "token edit distance / max(len(pred), len(target))"),
    MetricDef("target_loglik", _LL_TYPES, _score_loglik("target_loglik"),
              "summed log-likelihood of the target, nats", needs_loglik=True),
    MetricDef("loglik_per_token", _LL_TYPES, _score_loglik("loglik_per_token"),
              "target_loglik / number of target tokens", needs_loglik=True),
    MetricDef("p_vocab", _LL_TYPES, _score_loglik("p_vocab"),
              "exp(target_loglik): p(correct) over the vocabulary", needs_loglik=True),
    MetricDef("p_token", _LL_TYPES, _score_loglik("p_token"),
              "exp(target_loglik / tokens): per-token p", needs_loglik=True),
    MetricDef("p_choices", _MC, _score_choices(lambda b: p_choices(b.choice_loglik, b.gold)),
              "softmax over the choices' log-likelihoods, mass on the gold choice"),
    MetricDef("brier_score", _MC, _score_choices(lambda b: brier_score(b.choice_loglik, b.gold)),
              "sum over choices of (p_k - 1[k = gold])^2, choice-renormalised p"),
    MetricDef("bleu", _GEN, _score_text(bleu), "sentence BLEU (sacrebleu), 0-100",
              optional=True),
    MetricDef("rougeL", _GEN, _score_text(rouge_l), "ROUGE-L F-measure (rouge_score), 0-100",
              optional=True),
)

_BY_NAME: dict[str, MetricDef] = {d.name: d for d in DEFINITIONS}

#: Metrics computed by :func:`rescore`, in output order.
METRICS: tuple[str, ...] = tuple(d.name for d in DEFINITIONS if not d.optional)

#: Metrics computed only when asked for (they need optional packages; both are sharp metrics).
OPTIONAL_METRICS: tuple[str, ...] = tuple(d.name for d in DEFINITIONS if d.optional)

#: Output types each metric applies to (generations get log-likelihood metrics only when a
#: ``target_loglik`` was attached, e.g. from a companion loglikelihood task).
APPLIES_TO: dict[str, frozenset[str]] = {d.name: d.applies_to for d in DEFINITIONS}


def _frame(b: _Batch, part: _Part, base: str, empty_target: np.ndarray,
           n_choices: pd.arrays.IntegerArray, target_tokens: pd.arrays.IntegerArray,
           tokenizer: np.ndarray) -> pd.DataFrame:
    """Rows of the score table for one part."""
    mask = part.mask
    sub = b.rec.loc[mask]
    vals = np.asarray(part.values, dtype=np.float64).copy()
    note = (np.full(len(sub), None, dtype=object) if part.notes is None
            else part.notes.astype(object))
    et = empty_target[mask] & b.valid[mask]
    vals[et] = np.nan
    note[et] = "empty target"
    out = pd.DataFrame({
        "family": sub["family"].to_numpy(),
        "model": sub["model"].to_numpy(),
        "step": sub["step"].to_numpy(),
        "task": sub["task"].to_numpy(),
        "shots": sub["shots"].to_numpy(),
        "metric": _metric_name(base, sub["filter"]).to_numpy(),
        "item": sub["item"].to_numpy(),
        "run": sub["run"].to_numpy(),
        "value": vals,
        "n_choices": n_choices[mask],
        "target_tokens": target_tokens[mask],
        "tokenizer": pd.array(tokenizer[mask], dtype="string"),
        "params": sub["params"].to_numpy(),
        "tokens": sub["tokens"].to_numpy(),
        "flops": sub["flops"].to_numpy(),
        "revision": sub["revision"].to_numpy(),
        "source": sub["source"].to_numpy(),
        "note": note,
    })
    if part.norm is not None:
        out["normalize"] = part.norm
    if "nonembedding_params" in sub.columns:
        out["nonembedding_params"] = sub["nonembedding_params"].to_numpy()
    return out


def _check_wanted(rec: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    """The metrics asked for; unknown names, or named metrics no record can get, raise."""
    wanted = list(METRICS) if metrics is None else list(metrics)
    unknown = [m for m in wanted if m not in _BY_NAME]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from "
                         f"{list(METRICS) + list(OPTIONAL_METRICS)}.")
    if metrics is None:
        return wanted
    have_types = set(rec["output_type"])
    has_gen_ll = bool(((rec["output_type"] == "generate_until") & rec["target_loglik"].notna())
                      .any())
    for m in wanted:
        d = _BY_NAME[m]
        if not d.scorable_types(has_gen_ll) & have_types:
            raise ValueError(
                f"metric '{m}' applies to output types {sorted(d.applies_to)}, but the "
                f"records hold only {sorted(have_types)}."
                + (" Attach target log-likelihoods from a loglikelihood task first "
                   "(emergence.scoring.attach_loglik)." if "generate_until" in have_types
                   and d.needs_loglik else "")
            )
    return wanted


def _item_facts(b: _Batch) -> tuple[np.ndarray, pd.arrays.IntegerArray,
                                     pd.arrays.IntegerArray, np.ndarray]:
    """Per-item facts carried on every score row of the item: an empty target, the number of
    choices, the target's length in tokens and the tokenizer that counted them."""
    rec = b.rec
    empty_target = rec["target"].fillna("").str.strip().eq("").to_numpy() & (
        b.otype != "multiple_choice")
    for i, ts in enumerate(rec["targets"]):
        if empty_target[i] and isinstance(ts, list) and any(str(t).strip() for t in ts):
            empty_target[i] = False
    target_tokens = _target_lengths(rec, b.tokenizer, b.valid)
    n_scored = np.array([len(v) if isinstance(v, list) else -1 for v in rec["choice_loglik"]])
    # choices shown with a generation that answers a multiple-choice item (HELM's joint method)
    n_shown = np.array([len(v) if isinstance(v, list) and v else -1 for v in rec["choices"]])
    stated = rec["n_choices"].astype("float64").to_numpy()
    n_choices = np.where(np.isfinite(stated), stated,
                         np.where((b.otype == "multiple_choice") & (n_scored >= 0), n_scored,
                                  np.where(n_shown >= 0, n_shown, np.nan)))
    n_choices = pd.array([None if np.isnan(v) else int(v) for v in n_choices], dtype="Int64")
    counted = ~pd.isna(target_tokens)
    tok = np.full(len(rec), None, dtype=object)
    if counted.any():
        tok[counted] = tokenizer_labels(rec["target"].to_numpy()[counted], b.tokenizer)
    return empty_target, n_choices, target_tokens, tok


def rescore(
    records: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    tokenizer: str | Callable[[str], Any] = "auto",
    normalize: str | Callable[[str], str] = "source",
    regex: str | None = None,
    family: str | None = None,
    workers: int = -1,
) -> pd.DataFrame:
    """Score every record under every applicable metric.

    Parameters
    ----------
    records : DataFrame
        Per-item records (from :func:`emergence.io.samples.read_samples`,
        :func:`emergence.io.bigbench.read_bigbench`, :func:`emergence.io.helm.read_helm` or
        :func:`emergence.io.records.read_records`).
    metrics : list of str, optional
        Subset of :data:`METRICS` plus :data:`OPTIONAL_METRICS` (``bleu``, ``rougeL``: sharp
        metrics needing sacrebleu / rouge_score); default all of :data:`METRICS`. Each metric is
        computed for the output types in :data:`APPLIES_TO`; asking for a metric that applies to
        no record raises.
    tokenizer : {"auto", "whitespace", "characters", "digits"} or callable, default="auto"
        Tokens for the edit distances (``auto``: numeric answers digit by digit, other text by
        words; see :func:`tokenize`), for the ``target_tokens`` column (target length L of each
        item, for the Mirage model exact match ~ p^L), and for counting target tokens where the
        records do not give ``target_ntokens`` (the unit is then stated in ``note``). Pass the
        model tokenizer's ``encode`` to make per-token metrics per model token.
    normalize : str or callable, default="source"
        Exact-match normalisation (see :func:`normalize_text`). ``"source"`` applies each
        record's own rule (column ``normalize``: ``none`` for BIG-bench, which matches its
        ``exact_str_match``; ``strip`` for HELM's ``exact_match``; the task's settings for
        lm-eval) and ``strip`` where the source states none. The rule applied is stated in the
        ``normalize`` column of every exact-match row.
    regex : str, optional
        Extract the first match from each prediction before exact matching.
    family : str, optional
        Model family for rows whose records have no ``family`` (the schema otherwise uses the
        model name, which gives one curve per model instead of one across sizes).
    workers : int, default=-1
        Threads for the edit distances.

    Returns
    -------
    DataFrame
        The tidy table of :mod:`emergence.schema` (validated), one row per model x checkpoint x
        task x item x metric, with ``item`` set. lm-eval filters other than ``none`` are kept in
        the metric name (``exact_match,strict-match``). Rows that cannot be scored keep
        ``value = NaN`` and say why in ``note`` (empty target, missing prediction, all choices
        ``-inf``, target log-likelihood ``-inf``, a corrupt logged value flagged by the reader
        in ``invalid``, a score outside the metric's range); a :class:`DataExclusionWarning`
        gives counts and ``attrs["nan_counts"]`` holds them. Per-item columns:
        ``target_tokens`` (tokens of the target under ``tokenizer``), ``n_choices`` (options of a
        multiple-choice item, also when a generation answers it and the records list the
        choices shown, as in HELM's joint method), ``run``, and ``normalize`` on exact-match rows.

    Raises
    ------
    ValueError
        Unknown metric names, or a metric that applies to none of the records.

    Examples
    --------
    >>> import pandas as pd
    >>> rec = pd.DataFrame({"model": "m", "task": "t", "item": ["0", "1"],
    ...                     "output_type": "multiple_choice", "params": 1e6,
    ...                     "choice_loglik": [[-1.0, -2.0], [-1.0, -0.5]], "gold": [0, 0]})
    >>> s = rescore(rec, metrics=["multiple_choice_grade", "brier_score"])
    >>> s.pivot(index="item", columns="metric", values="value").round(3).to_dict("list")
    {'brier_score': [0.145, 0.775], 'multiple_choice_grade': [1.0, 0.0]}
    """
    rec = validate_records(records)
    wanted = _check_wanted(rec, metrics)
    if isinstance(normalize, str) and normalize != "source":
        check_option(normalize, "normalize", NORMALIZATIONS + ("source",))
    b = _Batch(rec, tokenizer=tokenizer, normalize=normalize, regex=regex, workers=workers)
    facts = _item_facts(b)
    parts: list[pd.DataFrame] = []
    for d in DEFINITIONS:
        if d.name in wanted:
            parts.extend(_frame(b, p, d.name, *facts) for p in d.score(b) if p.mask.any())
    # records whose logged values are corrupt: NaN under every metric of their output type
    bad = ~b.valid
    if bad.any():
        reason = ("invalid value: " + rec.loc[bad, "invalid"].astype(str)).to_numpy(object)
        for name in wanted:
            types = _BY_NAME[name].scorable_types(False)
            m = bad & np.isin(b.otype, list(types))
            if m.any():
                part = _Part(m, np.full(int(m.sum()), np.nan), reason[m[bad]].copy())
                parts.append(_frame(b, part, name, *facts))
    if not parts:
        raise ValueError(
            f"no record could be scored under {wanted}; the records hold output types "
            f"{sorted(set(rec['output_type']))} (see emergence.scoring.APPLIES_TO)."
        )
    return _finish(pd.concat(parts, ignore_index=True), family)


def _finish(out: pd.DataFrame, family: str | None) -> pd.DataFrame:
    """Range check, family, output order, NaN counts (warned and in ``attrs``), schema check."""
    _out_of_range(out)
    if family is not None:
        out["family"] = out["family"].fillna(family)
    order = {m: i for i, m in enumerate(METRICS + OPTIONAL_METRICS)}
    out["_o"] = out["metric"].str.split(",").str[0].map(order)
    out = out.sort_values(["family", "model", "step", "task", "shots", "run", "_o", "metric",
                           "item"], kind="mergesort", na_position="first"
                          ).drop(columns="_o").reset_index(drop=True)
    n_nan = int(out["value"].isna().sum())
    counts = {}
    if n_nan:
        counts = out.loc[out["value"].isna(), "note"].fillna("unknown").value_counts().to_dict()
        warnings.warn(
            f"{n_nan} scores are NaN and will be excluded from analyses: "
            + "; ".join(f"{k}: {v}" for k, v in list(counts.items())[:6])
            + (f"; ... ({len(counts) - 6} more reasons)" if len(counts) > 6 else ""),
            DataExclusionWarning,
            stacklevel=3,
        )
    out = validate(out)
    out.attrs["nan_counts"] = counts
    return out


def attach_loglik(
    records: pd.DataFrame,
    *,
    to_task: str,
    from_task: str,
    on: Sequence[str] = ("model", "step", "item"),
) -> pd.DataFrame:
    """Copy target log-likelihoods from a loglikelihood task onto a generative task's records.

    The harness logs no log-probabilities for ``generate_until`` requests, so the Mirage check and
    the continuous log-likelihood metrics of a generative task need a companion ``loglikelihood``
    task over the same documents (``doc_to_target`` as the continuation). This joins the two.

    Parameters
    ----------
    records : DataFrame
        Records holding both tasks.
    to_task, from_task : str
        The generative task and its loglikelihood companion.
    on : sequence of str, default=("model", "step", "item")
        Join keys (``doc_hash`` is also a good key when both tasks read the same documents).

    Returns
    -------
    DataFrame
        A copy of ``records`` with ``target_loglik``, ``target_ntokens`` and ``is_greedy`` filled
        on the ``to_task`` rows that have a partner; ``attrs["unmatched"]`` counts the rest.

    Raises
    ------
    ValueError
        Either task is absent, or ``from_task`` has no target log-likelihoods.

    Examples
    --------
    >>> import pandas as pd
    >>> rec = pd.DataFrame({"model": "m", "task": ["gen", "ll"], "item": "0",
    ...                     "output_type": ["generate_until", "loglikelihood"],
    ...                     "prediction": ["4", None], "target": "4",
    ...                     "target_loglik": [None, -0.7]})
    >>> float(attach_loglik(rec, to_task="gen", from_task="ll").loc[0, "target_loglik"])
    -0.7
    """
    rec = validate_records(records)
    for t in (to_task, from_task):
        if not (rec["task"] == t).any():
            raise ValueError(f"task '{t}' is not in the records; tasks: "
                             f"{sorted(set(rec['task']))}.")
    src = rec[rec["task"] == from_task]
    if src["target_loglik"].isna().all():
        raise ValueError(f"task '{from_task}' has no target log-likelihoods to attach.")
    keys = list(on)
    src = src[keys + ["target_loglik", "target_ntokens", "is_greedy"]].drop_duplicates(keys)
    dst_mask = rec["task"] == to_task
    dst = rec.loc[dst_mask, keys].reset_index()
    merged = dst.merge(src, on=keys, how="left").set_index("index")
    out = rec.copy()
    for col in ("target_loglik", "target_ntokens", "is_greedy"):
        fill = merged[col].reindex(out.index[dst_mask])
        out.loc[dst_mask, col] = out.loc[dst_mask, col].fillna(fill) if col != "is_greedy" else \
            out.loc[dst_mask, col].where(out.loc[dst_mask, col].notna(), fill)
    out.attrs["unmatched"] = int(merged["target_loglik"].isna().sum())
    return out
