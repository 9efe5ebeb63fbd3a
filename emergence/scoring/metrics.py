"""Per-item metrics, each a function vectorised over items.

Discontinuous: :func:`exact_match`, :func:`multiple_choice_grade`. Continuous:
:func:`token_edit_distance`, :func:`normalized_edit_distance`, :func:`p_choices`,
:func:`brier_score`, :func:`p_vocab`, :func:`loglik_per_token`, :func:`p_token`. Sharp
(optional packages): :func:`bleu`, :func:`rouge_l`. Their facts (direction, range, latent link)
are in :mod:`emergence.registry`.

Examples
--------
>>> from emergence.scoring.metrics import exact_match, token_edit_distance, brier_score
>>> exact_match([" 42", "41"], ["42", "42"]).tolist()
[1.0, 0.0]
>>> token_edit_distance(["the cat sat"], ["the dog sat down"]).tolist()
[2.0]
>>> round(float(brier_score([[0.0, 0.0]], [0])[0]), 3)
0.5
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ._ids import _Codes, _encode, encode_batch
from .text import (
    _NUMERIC,
    TOKENIZERS,
    _clean,
    _explode_targets,
    _lengths,
    _normalized,
    _single,
    tokenize,
)

__all__ = [
    "exact_match",
    "multiple_choice_grade",
    "chosen_choice",
    "token_edit_distance",
    "normalized_edit_distance",
    "choice_probabilities",
    "p_choices",
    "brier_score",
    "p_vocab",
    "loglik_per_token",
    "p_token",
    "bleu",
    "rouge_l",
]


def exact_match(
    predictions: Sequence[str],
    targets: Sequence[str | Sequence[str]],
    *,
    normalize: str | Callable[[str], str] = "strip",
    regex: str | None = None,
) -> np.ndarray:
    """1.0 where the prediction equals one of its targets after normalisation, else 0.0.

    Parameters
    ----------
    predictions : sequence of str
    targets : sequence of str or of lists of str
        One target per item, or a list of acceptable targets (any match counts).
    normalize : str or callable, default="strip"
        See :func:`normalize_text` (``"none"`` reproduces lm-eval's default ``exact_match``).
    regex : str, optional
        Extract the first match from each prediction first (see :func:`normalize_text`).

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> exact_match(["Five", "5 "], [["five", "5"], "6"], normalize="lower").tolist()
    [1.0, 0.0]
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets.")
    if regex is None and normalize == "strip":
        # plain strings, one target each: strip and compare in C, no intermediate lists (a
        # non-string, such as a list of targets or None, raises TypeError in str.strip)
        try:
            return np.frombuffer(bytes(map(operator.eq, map(str.strip, predictions),
                                           map(str.strip, targets))),
                                 dtype=np.uint8).astype(np.float64)
        except TypeError:
            pass
    elif (regex is None and normalize == "none" and set(map(type, predictions)) <= {str}
            and set(map(type, targets)) <= {str}):
        return np.frombuffer(bytes(map(operator.eq, predictions, targets)),
                             dtype=np.uint8).astype(np.float64)
    pred = _normalized(predictions, normalize, regex)
    # Inspect: a target with no content after normalisation never matches
    never = "\x00" if normalize == "inspect" else None
    if _single(targets):
        tgt = _normalized(targets, normalize)
        if never:
            tgt = [t if t else never for t in tgt]
        # bools are 0/1 ints: bytes() collects them in C
        return np.frombuffer(bytes(map(str.__eq__, pred, tgt)), dtype=np.uint8).astype(
            np.float64)
    flat, starts = _explode_targets(targets)
    counts = np.diff(np.append(starts, len(flat)))
    tgt = _normalized(flat, normalize)
    if never:
        tgt = [t if t else never for t in tgt]
    rep = [pred[i] for i in np.repeat(np.arange(len(pred)), counts)]
    hit = np.fromiter(map(str.__eq__, rep, tgt), dtype=bool, count=len(tgt)).astype(np.float64)
    return np.maximum.reduceat(hit, starts) if len(hit) else hit

def _encode_pair(predictions: list[str], targets: list[str],
                 tokenizer: str | Callable[[str], Any]) -> tuple[list[Any], list[Any]]:
    """Predictions and targets encoded with one vocabulary (see :mod:`._ids`)."""
    n = len(predictions)
    if tokenizer in ("whitespace", "digits"):
        enc = encode_batch(predictions + targets, tokenizer)
        if enc is not None:
            return enc[:n], enc[n:]
    codes = _Codes()
    try:
        return _encode(predictions, tokenizer, codes), _encode(targets, tokenizer, codes)
    except OverflowError:  # pragma: no cover - gigantic vocabularies: compare token lists
        return tokenize(predictions, tokenizer), tokenize(targets, tokenizer)


def _repeats(texts: Sequence[Any]) -> bool:
    """A sample of the texts says they repeat (targets repeat once per model in a log)."""
    sample = texts[:: max(1, len(texts) // 2000)]
    try:
        return len(set(sample)) < 0.7 * len(sample)
    except TypeError:  # unhashable (lists of targets)
        return False


def _edit_distinct(predictions: Sequence[str], targets: Sequence[str], tokenizer: str,
                   normalized: bool, workers: int) -> np.ndarray | None:
    """Distances of plain-string pairs computed once per distinct pair; None when a text is
    missing or the batch needs the per-token path. Raises TypeError on a non-string."""
    pi, pu = pd.factorize(pd.Series(predictions, dtype=object))
    ti, tu = pd.factorize(pd.Series(targets, dtype=object))
    if (pi < 0).any() or (ti < 0).any():
        return None
    enc = encode_batch([*pu, *tu], tokenizer)
    if enc is None:
        return None
    pair, first = pd.factorize(pi * len(tu) + ti)
    p_enc = [enc[i] for i in (first // len(tu)).tolist()]
    t_enc = [enc[len(pu) + j] for j in (first % len(tu)).tolist()]
    d = process.cpdist(p_enc, t_enc, scorer=Levenshtein.distance, workers=workers,
                       dtype=np.int32).astype(np.float64)
    if normalized:
        denom = np.maximum(_lengths(p_enc), _lengths(t_enc))
        d = np.divide(d, denom, out=np.zeros_like(d), where=denom > 0)
    return d[pair]


def _edit(
    predictions: Sequence[str],
    targets: Sequence[str | Sequence[str]],
    tokenizer: str | Callable[[str], Any],
    normalized: bool,
    workers: int,
) -> np.ndarray:
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets.")
    if tokenizer not in TOKENIZERS and not callable(tokenizer):
        raise ValueError(f"`tokenizer` must be one of {', '.join(map(repr, TOKENIZERS))} or a "
                         f"callable; got {tokenizer!r}.")
    if len(predictions) == 0:
        return np.empty(0, dtype=np.float64)
    if tokenizer == "auto":
        # per item, by its target: numeric answers digit by digit, other text by words
        if _single(targets):
            first = _clean(targets)
        else:
            flat_t, st = _explode_targets(targets)
            first = [flat_t[i] for i in st]
        num = np.array(list(map(bool, map(_NUMERIC.match, first))), dtype=bool)
        if num.all() or not num.any():
            return _edit(predictions, targets, "digits" if num.all() else "whitespace",
                         normalized, workers)
        out = np.empty(len(predictions), dtype=np.float64)
        for mode, m in (("digits", num), ("whitespace", ~num)):
            idx = np.flatnonzero(m).tolist()
            out[idx] = _edit([predictions[i] for i in idx], [targets[i] for i in idx], mode,
                             normalized, workers)
        return out
    single, p_enc, t_enc = True, None, None
    if tokenizer in ("whitespace", "digits"):
        try:  # plain strings, one target each: one vectorised pass
            if _repeats(predictions) or _repeats(targets):
                d = _edit_distinct(predictions, targets, tokenizer, normalized, workers)
                if d is not None:
                    return d
            enc = encode_batch([*predictions, *targets], tokenizer)
            if enc is not None:
                p_enc, t_enc = enc[:len(predictions)], enc[len(predictions):]
        except TypeError:
            pass
    if p_enc is None:
        single = _single(targets)
        flat, starts = (_clean(targets), None) if single else _explode_targets(targets)
        p_enc, t_enc = _encode_pair(_clean(predictions), flat, tokenizer)
    if not single:
        counts = np.diff(np.append(starts, len(flat)))
        idx = np.repeat(np.arange(len(p_enc)), counts)
        p_enc = [p_enc[i] for i in idx]
    d = process.cpdist(p_enc, t_enc, scorer=Levenshtein.distance, workers=workers,
                       dtype=np.int32).astype(np.float64)
    if normalized:
        denom = np.maximum(_lengths(p_enc), _lengths(t_enc))
        d = np.divide(d, denom, out=np.zeros_like(d), where=denom > 0)
    return d if single else np.minimum.reduceat(d, starts)


def token_edit_distance(
    predictions: Sequence[str],
    targets: Sequence[str | Sequence[str]],
    *,
    tokenizer: str | Callable[[str], Any] = "auto",
    workers: int = -1,
) -> np.ndarray:
    """Token-level Levenshtein distance between each prediction and its target.

    Insertions, deletions and substitutions of whole tokens each cost 1 (Schaeffer et al. 2023,
    App. A.2). With several targets the smallest distance is returned. Computed element-wise in C
    by ``rapidfuzz.process.cpdist`` (``workers=-1`` uses every core).

    Parameters
    ----------
    predictions : sequence of str
    targets : sequence of str or of lists of str
    tokenizer : {"auto", "whitespace", "characters", "digits"} or callable, default="auto"
        See :func:`tokenize` (``auto``: numeric targets digit by digit, text by words).
    workers : int, default=-1

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> token_edit_distance(["12 3", "123", "the cat"], ["12 4", "124", "a cat"]).tolist()
    [1.0, 1.0, 1.0]
    >>> token_edit_distance(["12 3"], ["12 4"], tokenizer="whitespace").tolist()
    [1.0]
    >>> token_edit_distance(["123"], ["124"], tokenizer="characters").tolist()
    [1.0]
    """
    return _edit(predictions, targets, tokenizer, False, workers)


def normalized_edit_distance(
    predictions: Sequence[str],
    targets: Sequence[str | Sequence[str]],
    *,
    tokenizer: str | Callable[[str], Any] = "auto",
    workers: int = -1,
) -> np.ndarray:
    """Token edit distance divided by the longer of the two token sequences (in [0, 1]).

    Two empty sequences have distance 0. With several targets the smallest value is returned.

    Examples
    --------
    >>> normalized_edit_distance(["the cat sat"], ["the dog sat down"]).tolist()
    [0.5]
    """
    return _edit(predictions, targets, tokenizer, True, workers)


def _pad(choice_loglik: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Ragged per-choice log-likelihoods -> (n, max_choices) float matrix padded with -inf."""
    if isinstance(choice_loglik, np.ndarray) and choice_loglik.ndim == 2:
        return choice_loglik.astype(np.float64)
    rows = [np.asarray(r, dtype=np.float64) for r in choice_loglik]
    k = max((r.size for r in rows), default=0)
    out = np.full((len(rows), k), -np.inf)
    for i, r in enumerate(rows):
        out[i, : r.size] = r
    return out


def choice_probabilities(choice_loglik: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Softmax of each item's choice log-likelihoods (choice-renormalised probabilities).

    Rows are padded with probability 0 to the largest number of choices. A row whose choices are
    all ``-inf`` gives NaN.

    Examples
    --------
    >>> choice_probabilities([[0.0, 0.0], [0.0, -np.inf, 0.0]]).round(2).tolist()
    [[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]]
    """
    ll = _pad(choice_loglik)
    if ll.size == 0:
        return ll
    m = np.max(ll, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(ll - m)
        return e / e.sum(axis=1, keepdims=True)


def _gold_index(gold: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    g = np.asarray(gold, dtype=np.int64)
    if g.shape != (n,):
        raise ValueError(f"`gold` must have one index per item ({n}); got shape {g.shape}.")
    return g


def _bigbench_argmax(scores: Sequence[float]) -> int:
    """BIG-bench's argmax: ties broken by the sha256 of the float64 bytes of the scores."""
    arr = np.asarray(scores, dtype=np.float64)
    top = np.flatnonzero(arr == arr.max())
    if top.size == 1:
        return int(top[0])
    return int(top[int(hashlib.sha256(arr.tobytes()).hexdigest(), 16) % top.size])


def chosen_choice(
    choice_loglik: Sequence[Sequence[float]] | np.ndarray,
    *,
    tie_break: str | Sequence[str] = "first",
) -> np.ndarray:
    """Index of the choice a model picks: the highest score, ties broken as the source does.

    Parameters
    ----------
    choice_loglik : sequence of sequences of float
        Per-choice scores of each item (ragged lists allowed).
    tie_break : {"first", "bigbench"} or sequence of them, default="first"
        ``"first"``: the first maximum (numpy ``argmax``; lm-eval's ``acc``). ``"bigbench"``:
        among the maxima, index ``sha256(scores.tobytes()) mod k`` of the float64 scores, as
        BIG-bench's ``multiple_choice_grade`` does (``bigbench/api/task_metrics.py``). One value
        per item is accepted.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> chosen_choice([[-1.0, -1.0, -3.0], [-2.0, -1.0]]).tolist()
    [0, 1]
    """
    ll = _pad(choice_loglik)
    out = np.argmax(ll, axis=1) if ll.size else np.zeros(0, dtype=np.int64)
    rules = [tie_break] * ll.shape[0] if isinstance(tie_break, str) else list(tie_break)
    if len(rules) != ll.shape[0]:
        raise ValueError(f"`tie_break` must have one value per item ({ll.shape[0]}).")
    bad = sorted({r for r in rules if r not in ("first", "bigbench")})
    if bad:
        raise ValueError(f"`tie_break` must be 'first' or 'bigbench'; got {bad}.")
    if "bigbench" in rules:
        rows = choice_loglik if not isinstance(choice_loglik, np.ndarray) else list(choice_loglik)
        for i, r in enumerate(rules):
            if r == "bigbench":
                out[i] = _bigbench_argmax(rows[i])
    return out.astype(np.int64)


def multiple_choice_grade(
    choice_loglik: Sequence[Sequence[float]] | np.ndarray,
    gold: Sequence[int] | np.ndarray,
    *,
    choice_values: Sequence[Sequence[float] | None] | None = None,
    tie_break: str | Sequence[str] = "first",
) -> np.ndarray:
    """Credit for the choice with the highest log-likelihood.

    Without ``choice_values``: 1.0 where the chosen choice is the gold one, else 0.0 (lm-eval's
    ``acc``). With ``choice_values`` (BIG-bench ``target_scores``): the value of the chosen
    choice, which can be fractional and can be 1 for several choices; this is BIG-bench's
    ``multiple_choice_grade`` (``count += target_scores[choice]``).

    Parameters
    ----------
    choice_loglik : sequence of sequences of float
        Per-choice log-likelihoods (or the scores the source ranked).
    gold : sequence of int
        Index of the correct choice (used where ``choice_values`` is None).
    choice_values : sequence of (sequence of float or None), optional
        Credit of each choice per item; None for an item means one-hot on ``gold``.
    tie_break : {"first", "bigbench"} or sequence of them, default="first"
        See :func:`chosen_choice`.

    Examples
    --------
    >>> multiple_choice_grade([[-1.0, -2.0], [-3.0, -1.0, -2.0]], [0, 0]).tolist()
    [1.0, 0.0]
    >>> multiple_choice_grade([[-2.0, -1.0, -3.0]], [0],
    ...                       choice_values=[[1.0, 0.5, 0.0]]).tolist()
    [0.5]
    """
    ll = _pad(choice_loglik)
    g = _gold_index(gold, ll.shape[0])
    pick = chosen_choice(choice_loglik, tie_break=tie_break)
    out = (pick == g).astype(np.float64)
    if choice_values is not None:
        if len(choice_values) != ll.shape[0]:
            raise ValueError(f"`choice_values` must have one entry per item ({ll.shape[0]}).")
        for i, cv in enumerate(choice_values):
            if cv is not None and cv is not pd.NA:
                out[i] = float(cv[pick[i]])
    out[np.all(np.isneginf(ll), axis=1)] = np.nan
    return out


def p_choices(
    choice_loglik: Sequence[Sequence[float]] | np.ndarray, gold: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Probability of the gold choice renormalised over the available choices.

    :math:`p^{Choices} = p(gold) / \\sum_i p(choice_i)` (Schaeffer et al. 2024, step B).

    Examples
    --------
    >>> p_choices([[np.log(0.2), np.log(0.6)]], [1]).round(3).tolist()
    [0.75]
    """
    p = choice_probabilities(choice_loglik)
    g = _gold_index(gold, p.shape[0])
    return p[np.arange(p.shape[0]), g] if p.size else np.empty(0)


def brier_score(
    choice_loglik: Sequence[Sequence[float]] | np.ndarray, gold: Sequence[int] | np.ndarray
) -> np.ndarray:
    """Multi-class Brier score on choice-renormalised probabilities, summed over choices.

    :math:`BS = \\sum_k (p_k - 1[k = gold])^2` with :math:`p` the softmax of the choice
    log-likelihoods; range [0, 2], lower is better. This equals lm-eval's per-document
    ``brier_score`` (which sums over classes) and is the convention of Brier (1950).

    Examples
    --------
    >>> brier_score([[0.0, -np.inf]], [0]).tolist()
    [0.0]
    >>> brier_score([[0.0, -np.inf]], [1]).tolist()
    [2.0]
    """
    p = choice_probabilities(choice_loglik)
    if p.size == 0:
        return np.empty(0)
    g = _gold_index(gold, p.shape[0])
    onehot = np.zeros_like(p)
    onehot[np.arange(p.shape[0]), g] = 1.0
    return np.sum((p - onehot) ** 2, axis=1)


def p_vocab(target_loglik: Sequence[float] | np.ndarray) -> np.ndarray:
    """Probability of the whole target under the model: ``exp(target_loglik)``.

    Examples
    --------
    >>> p_vocab([0.0, -np.inf]).tolist()
    [1.0, 0.0]
    """
    return np.exp(np.asarray(target_loglik, dtype=np.float64))


def loglik_per_token(
    target_loglik: Sequence[float] | np.ndarray, ntokens: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Mean log-likelihood per target token (nats); NaN where the token count is 0 or unknown.

    Examples
    --------
    >>> loglik_per_token([-3.0, -1.0], [3, 0]).tolist()
    [-1.0, nan]
    """
    ll = np.asarray(target_loglik, dtype=np.float64)
    n = np.asarray(ntokens, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, ll / np.where(n > 0, n, 1.0), np.nan)


def p_token(
    target_loglik: Sequence[float] | np.ndarray, ntokens: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Estimated per-token probability of the correct token: ``exp(mean per-token log p)``.

    The quantity the analytic model of Schaeffer et al. (2023) raises to the power L.

    Examples
    --------
    >>> p_token([2 * np.log(0.5)], [2]).round(3).tolist()
    [0.5]
    """
    return np.exp(loglik_per_token(target_loglik, ntokens))


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this metric needs the '{module}' package; install it (pip install {extra})."
        ) from None


def bleu(
    predictions: Sequence[str], targets: Sequence[str | Sequence[str]]
) -> np.ndarray:
    """Sentence BLEU (0-100) of each prediction against its target(s), with sacrebleu.

    Uses ``sacrebleu.sentence_bleu`` defaults (exponential smoothing, effective n-gram order), so a
    perfect match shorter than 4 tokens scores 100 rather than 0. BLEU is a *sharp* metric in
    per-token error (Schaeffer et al. 2023, App. A.5). Needs the ``sacrebleu`` package.

    Examples
    --------
    >>> bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]).round(1).tolist()
    [100.0]
    """
    sb = _require("sacrebleu", "sacrebleu")
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets.")
    preds = _clean(predictions)
    refs = [[str(x) for x in t] if isinstance(t, (list, tuple, np.ndarray)) else [str(t)]
            for t in targets]
    return np.array([sb.sentence_bleu(p, r).score for p, r in zip(preds, refs, strict=True)],
                    dtype=np.float64)


def rouge_l(
    predictions: Sequence[str], targets: Sequence[str | Sequence[str]]
) -> np.ndarray:
    """ROUGE-L F-measure (0-100, best over targets) with Google's ``rouge_score`` package.

    A *sharp* metric in per-token error (Schaeffer et al. 2023, App. A.4). Needs ``rouge_score``.

    Examples
    --------
    >>> rouge_l(["the cat sat on the mat"], ["the cat sat on a mat"]).round(2).tolist()
    [83.33]
    """
    rs = _require("rouge_score.rouge_scorer", "rouge_score")
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets.")
    scorer = rs.RougeScorer(["rougeL"])
    preds = _clean(predictions)
    out = np.empty(len(preds))
    for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
        refs = t if isinstance(t, (list, tuple, np.ndarray)) else [t]
        out[i] = 100.0 * max(scorer.score(str(r), p)["rougeL"].fmeasure for r in refs)
    return out

