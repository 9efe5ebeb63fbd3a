"""Score per-item records under discontinuous and continuous metrics.

The same model outputs, scored with an all-or-nothing metric and with continuous ones, at every
scale. Every metric is a function vectorised over items; :func:`rescore` applies them to a records
table (:mod:`emergence.io.records`) and returns the tidy long table of :mod:`emergence.schema`
with one row per model x item x metric.

Metrics and the output types they apply to:

================================  =========================================  ======================
metric                            definition                                 output types
================================  =========================================  ======================
``exact_match``                   prediction equals a target after           generate_until
                                  ``normalize``; for log-likelihood          (loglikelihood
                                  requests the harness's ``is_greedy``       with ``is_greedy``)
``multiple_choice_grade``         1 if the gold choice has the highest       multiple_choice
                                  log-likelihood (first maximum on ties)
``token_edit_distance``           Levenshtein distance between token lists   generate_until
                                  (min over targets)
``normalized_edit_distance``      distance / max(len(pred), len(target))     generate_until
``target_loglik``                 summed log-likelihood of the target, nats  all with a target
                                                                             log-likelihood
``loglik_per_token``              target_loglik / number of target tokens    same
``p_vocab``                       exp(target_loglik): p(correct) over the    same
                                  vocabulary
``p_token``                       exp(target_loglik / tokens): per-token p   same
``p_choices``                     softmax over the choices' log-likelihoods, multiple_choice
                                  mass on the gold choice
``brier_score``                   sum over choices of (p_k - 1[k = gold])^2  multiple_choice
                                  with choice-renormalised p (range [0, 2])
================================  =========================================  ======================

Examples
--------
>>> from emergence.scoring import exact_match, token_edit_distance, brier_score
>>> exact_match([" 42", "41"], ["42", "42"]).tolist()
[1.0, 0.0]
>>> token_edit_distance(["the cat sat"], ["the dog sat down"]).tolist()
[2.0]
>>> round(float(brier_score([[0.0, 0.0]], [0])[0]), 3)
0.5
"""

from __future__ import annotations

import gc
import hashlib
import math
import re
import string
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ._exceptions import DataExclusionWarning
from ._validation import check_option
from .io.records import validate_records
from .registry import metric_info
from .schema import validate

__all__ = [
    "METRICS",
    "APPLIES_TO",
    "NORMALIZATIONS",
    "rescore",
    "normalize_text",
    "tokenize",
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
    "attach_loglik",
    "OPTIONAL_METRICS",
    "bleu",
    "rouge_l",
]

#: Metrics computed by :func:`rescore`, in output order.
METRICS: tuple[str, ...] = (
    "exact_match",
    "multiple_choice_grade",
    "token_edit_distance",
    "normalized_edit_distance",
    "target_loglik",
    "loglik_per_token",
    "p_vocab",
    "p_token",
    "p_choices",
    "brier_score",
)

#: Metrics computed only when asked for (they need optional packages; both are sharp metrics).
OPTIONAL_METRICS: tuple[str, ...] = ("bleu", "rougeL")

_LL_TYPES = frozenset({"loglikelihood", "multiple_choice", "loglikelihood_rolling",
                       "generate_until"})
#: Output types each metric applies to (generations get log-likelihood metrics only when a
#: ``target_loglik`` was attached, e.g. from a companion loglikelihood task).
APPLIES_TO: dict[str, frozenset[str]] = {
    "exact_match": frozenset({"generate_until", "loglikelihood"}),
    "multiple_choice_grade": frozenset({"multiple_choice"}),
    "token_edit_distance": frozenset({"generate_until"}),
    "normalized_edit_distance": frozenset({"generate_until"}),
    "target_loglik": _LL_TYPES,
    "loglik_per_token": _LL_TYPES,
    "p_vocab": _LL_TYPES,
    "p_token": _LL_TYPES,
    "p_choices": frozenset({"multiple_choice"}),
    "brier_score": frozenset({"multiple_choice"}),
    "bleu": frozenset({"generate_until"}),
    "rougeL": frozenset({"generate_until"}),
}

#: Exact-match normalisations (see :func:`normalize_text`).
NORMALIZATIONS: tuple[str, ...] = ("none", "strip", "lower", "squad", "inspect")

_SD = np.dtypes.StringDType()
_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


@contextmanager
def _no_gc():
    """Pause the cyclic garbage collector while building millions of small lists."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _finite_number(s: str) -> bool:
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


def _inspect_token(tok: str) -> str:
    tok = tok.casefold()
    if not _finite_number(tok):
        bare = tok.strip(string.whitespace + string.punctuation)
        tok = bare if _finite_number(bare) else tok.translate(_PUNCT)
    if _finite_number(tok):
        tok = str(float(tok))
    tok = _ARTICLES.sub(" ", tok)
    return " ".join(tok.split())


def _inspect(s: str) -> str:
    """Inspect's ``exact()`` scorer normalisation: tokens split on spaces and hyphens, each
    case-folded, stripped of punctuation (numbers kept, ``(3.14)`` -> ``3.14``), numbers written
    as floats (``4`` -> ``4.0``), articles removed; empty tokens dropped."""
    toks = [_inspect_token(t) for t in re.split(" |-", s)]
    return " ".join(t for t in toks if t.strip()).strip()


def _squad(s: str) -> str:
    s = s.lower().translate(_PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def normalize_text(
    texts: Sequence[str] | np.ndarray,
    normalize: str | Callable[[str], str] = "strip",
    *,
    regex: str | None = None,
) -> np.ndarray:
    """Normalise texts before exact matching (vectorised with numpy string ufuncs).

    Parameters
    ----------
    texts : sequence of str
    normalize : {"none", "strip", "lower", "squad"} or callable, default="strip"
        - ``"none"``: unchanged. This is lm-eval's ``exact_match`` with default arguments, and
          BIG-bench's ``exact_str_match`` on its logged ``output`` (BIG-bench applies its
          ``output_regex`` and stop string before logging).
        - ``"strip"``: remove surrounding whitespace (generations usually start with a space).
        - ``"lower"``: strip and lower-case (lm-eval ``ignore_case: true``).
        - ``"squad"``: lower-case, remove punctuation and the articles a/an/the, collapse
          whitespace (HELM ``quasi_exact_match``, SQuAD ``normalize_answer``).
        - ``"inspect"``: Inspect's ``exact()`` scorer: per token (split on spaces and hyphens)
          case-fold, drop punctuation except in numbers, write numbers as floats, drop
          articles; a target that normalises to nothing never matches.
        - a callable ``str -> str`` applied to every text.
    regex : str, optional
        Keep only the first match of this pattern (the first group if it has one; ``""`` when
        nothing matches) before normalising, like lm-eval's ``regex`` filter with ``take_first``
        or BIG-bench's ``output_regex``. Apply it to predictions only.

    Returns
    -------
    ndarray of numpy StringDType

    Examples
    --------
    >>> normalize_text(["  The Cat! ", "42\\n"], "squad").tolist()
    ['cat', '42']
    >>> normalize_text(["answer: 17 apples"], "none", regex=r"(-?\\d+)").tolist()
    ['17']
    """
    return np.array(_normalized(texts, normalize, regex), dtype=_SD)


def _normalized(
    texts: Sequence[Any], normalize: str | Callable[[str], str], regex: str | None = None
) -> list[str]:
    arr = _clean(texts)
    if regex is not None:
        pat = re.compile(regex)

        def first(s: str) -> str:
            m = pat.search(s)
            if m is None:
                return ""
            return m.group(1) if m.groups() else m.group(0)

        arr = [first(s) for s in arr]
    if callable(normalize):
        return [normalize(s) for s in arr]
    check_option(normalize, "normalize", NORMALIZATIONS)
    if normalize == "squad":
        return [_squad(s) for s in arr]
    if normalize == "inspect":
        return [_inspect(s) for s in arr]
    if normalize == "strip":
        return list(map(str.strip, arr))
    if normalize == "lower":
        return list(map(str.lower, map(str.strip, arr)))
    return arr


def _explode_targets(targets: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    """Flatten targets (str or list of str per item) -> flat list and per-item start offsets."""
    flat: list[str] = []
    starts = np.empty(len(targets), dtype=np.int64)
    for i, t in enumerate(targets):
        starts[i] = len(flat)
        if isinstance(t, (list, tuple, np.ndarray)):
            if len(t) == 0:
                flat.append("")
            else:
                flat.extend("" if x is None else str(x) for x in t)
        else:
            flat.append("" if t is None or t is pd.NA else str(t))
    return flat, starts


def _single(targets: Sequence[Any]) -> bool:
    return not any(issubclass(t, (list, tuple, np.ndarray)) for t in set(map(type, targets)))


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
    if (regex is None and isinstance(normalize, str) and normalize in ("none", "strip")
            and set(map(type, predictions)) <= {str} and set(map(type, targets)) <= {str}):
        # plain strings, one target each: compare in C without intermediate lists
        p_it, t_it = iter(predictions), iter(targets)
        if normalize == "strip":
            p_it, t_it = map(str.strip, p_it), map(str.strip, t_it)
        return np.frombuffer(bytes(map(str.__eq__, p_it, t_it)), dtype=np.uint8).astype(
            np.float64)
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


#: built-in tokenizers; ``auto`` tokenises numeric answers digit by digit, other text by words
TOKENIZERS = ("auto", "whitespace", "characters", "digits")
_NUMERIC = re.compile(r"^\s*[-+]?\d[\d.,\s]*$")


def tokenize(
    texts: Sequence[str],
    tokenizer: str | Callable[[str], Any] = "auto",
) -> list[Any]:
    """Tokenise texts for edit distances and token counts.

    Parameters
    ----------
    texts : sequence of str
    tokenizer : {"auto", "whitespace", "characters", "digits"} or callable, default="auto"
        ``"whitespace"`` splits on runs of whitespace; ``"characters"`` keeps each string as is
        (a string is its sequence of characters); ``"digits"`` is the characters with
        whitespace removed; ``"auto"`` uses digits for numeric texts (arithmetic answers such
        as ``"1,234"``: one token per digit, as the Mirage analysis of arithmetic assumes) and
        whitespace otherwise; a callable ``str -> sequence`` (for example a
        ``tokenizers``/``transformers`` tokenizer's ``encode``; objects with ``.ids`` or
        ``["input_ids"]`` are unwrapped) gives model tokens.

    Returns
    -------
    list
        One token sequence (list, or str for characters) per text.

    Examples
    --------
    >>> tokenize(["a  b c"]), tokenize(["ab"], "characters"), tokenize(["1 234"])
    ([['a', 'b', 'c']], ['ab'], ['1234'])
    """
    clean = ["" if t is None or t is pd.NA else str(t) for t in texts]
    if tokenizer == "characters":
        return clean
    if tokenizer == "digits":
        return ["".join(s.split()) for s in clean]
    if tokenizer == "auto":
        with _no_gc():
            return ["".join(s.split()) if _NUMERIC.match(s) else s.split() for s in clean]
    if tokenizer == "whitespace":
        with _no_gc():
            return [s.split() for s in clean]
    if not callable(tokenizer):
        raise ValueError(f"`tokenizer` must be one of {', '.join(map(repr, TOKENIZERS))} or a "
                         f"callable; got {tokenizer!r}.")

    def unwrap(tok: Any) -> list[Any]:
        for attr in ("ids", "input_ids"):
            if hasattr(tok, attr):
                return list(getattr(tok, attr))
            if isinstance(tok, dict) and attr in tok:
                return list(tok[attr])
        return list(tok)

    with _no_gc():
        return [unwrap(tokenizer(s)) for s in clean]


def _lengths(toks: list[Any]) -> np.ndarray:
    return np.fromiter(map(len, toks), dtype=np.float64, count=len(toks))


def _clean(texts: Sequence[Any]) -> list[str]:
    if set(map(type, texts)) <= {str}:
        return list(texts)
    return ["" if t is None or t is pd.NA else str(t) for t in texts]


class _Codes(dict):
    """Token -> one private character, so token sequences become plain strings.

    Strings are not tracked by the garbage collector and rapidfuzz compares them in its fastest
    path; the distance between two encoded strings is the token-level distance. Codes start at
    U+0100, so the characters below are free for separators.
    """

    def __init__(self) -> None:
        super().__init__()
        self.next = 0x100

    def __missing__(self, key: Any) -> str:
        code = self.next
        if code == 0xD800:  # skip the surrogate block
            code = 0xE000
        if code > 0x10FFFF:
            raise OverflowError("more than 1.1 million distinct tokens")
        self.next = code + 1
        ch = chr(code)
        self[key] = ch
        return ch


def _encode_words(texts: list[str], codes: _Codes) -> list[str]:
    """Whitespace tokens -> code strings, for the whole batch at once.

    Repeated texts are encoded once; the texts are joined with a NUL token, split
    in one call, mapped token by token through ``codes`` and split back on the NUL's code.
    """
    # encode distinct texts only when a sample says they repeat (targets repeat per model)
    sample = texts[:: max(1, len(texts) // 2000)]
    distinct = list(dict.fromkeys(texts)) if len(set(sample)) < 0.7 * len(sample) else texts
    joined = " \x00 ".join(distinct)
    if joined.count("\x00") != len(distinct) - 1:  # a text holds a NUL: one text at a time
        get = codes.__getitem__
        enc = ["".join(map(get, s.split())) for s in distinct]
    else:
        codes["\x00"] = "\x01"
        try:
            enc = "".join(map(codes.__getitem__, joined.split())).split("\x01")
        finally:
            del codes["\x00"]
    if distinct is texts:
        return enc
    return list(map(dict(zip(distinct, enc, strict=True)).__getitem__, texts))


def _encode(texts: Sequence[Any], tokenizer: str | Callable[[str], Any],
            codes: _Codes) -> list[str]:
    clean = _clean(texts)
    if tokenizer == "characters":
        return clean
    if tokenizer == "digits":
        return ["".join(s.split()) for s in clean]
    if tokenizer == "whitespace":
        with _no_gc():
            return _encode_words(clean, codes)
    get = codes.__getitem__
    toks = tokenize(clean, tokenizer)
    return ["".join(map(get, t)) for t in toks]


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
    single = _single(targets)
    if single:
        flat = targets
        starts = None
    else:
        flat, starts = _explode_targets(targets)
    codes = _Codes()
    try:
        p_enc = _encode(predictions, tokenizer, codes)
        t_enc = _encode(flat, tokenizer, codes)
    except OverflowError:  # pragma: no cover - gigantic vocabularies: compare token lists
        p_enc = tokenize(_clean(predictions), tokenizer)
        t_enc = tokenize(_clean(flat), tokenizer)
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


# ---------------------------------------------------------------------------------------------
# rescore


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
        Per-item records (from :func:`emergence.io.samples.load_samples`,
        :func:`emergence.io.bigbench.load_full_log`, :func:`emergence.io.helm.load_run` or
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
    wanted = list(METRICS) if metrics is None else list(metrics)
    unknown = [m for m in wanted if m not in METRICS and m not in OPTIONAL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from "
                         f"{list(METRICS) + list(OPTIONAL_METRICS)}.")
    if isinstance(normalize, str) and normalize != "source":
        check_option(normalize, "normalize", NORMALIZATIONS + ("source",))
    have_types = set(rec["output_type"])
    has_gen_ll = bool(((rec["output_type"] == "generate_until") & rec["target_loglik"].notna())
                      .any())
    if metrics is not None:
        for m in wanted:
            applicable = APPLIES_TO[m] & have_types
            if m in ("target_loglik", "loglik_per_token", "p_vocab", "p_token"):
                applicable = {t for t in applicable if t != "generate_until" or has_gen_ll}
            if not applicable:
                raise ValueError(
                    f"metric '{m}' applies to output types {sorted(APPLIES_TO[m])}, but the "
                    f"records hold only {sorted(have_types)}."
                    + (" Attach target log-likelihoods from a loglikelihood task first "
                       "(emergence.scoring.attach_loglik)." if "generate_until" in have_types
                       and m in ("target_loglik", "loglik_per_token", "p_vocab", "p_token")
                       else "")
                )

    otype = rec["output_type"].to_numpy()
    valid = rec["invalid"].isna().to_numpy()
    empty_target = rec["target"].fillna("").str.strip().eq("").to_numpy() & (
        otype != "multiple_choice")
    for i, ts in enumerate(rec["targets"]):
        if empty_target[i] and isinstance(ts, list) and any(str(t).strip() for t in ts):
            empty_target[i] = False
    # per-item facts carried on every score row of the item
    target_tokens = _target_lengths(rec, tokenizer, valid)
    n_scored = np.array([len(v) if isinstance(v, list) else -1 for v in rec["choice_loglik"]])
    # choices shown with a generation that answers a multiple-choice item (HELM's joint method)
    n_shown = np.array([len(v) if isinstance(v, list) and v else -1 for v in rec["choices"]])
    stated = rec["n_choices"].astype("float64").to_numpy()
    n_choices = np.where(np.isfinite(stated), stated,
                         np.where((otype == "multiple_choice") & (n_scored >= 0), n_scored,
                                  np.where(n_shown >= 0, n_shown, np.nan)))
    n_choices = pd.array([None if np.isnan(v) else int(v) for v in n_choices], dtype="Int64")
    parts: list[pd.DataFrame] = []

    def emit(mask: np.ndarray, base: str, values: np.ndarray, notes: np.ndarray | None,
             norm: np.ndarray | None = None) -> None:
        if not mask.any():
            return
        sub = rec.loc[mask]
        vals = np.asarray(values, dtype=np.float64).copy()
        note = np.full(len(sub), None, dtype=object) if notes is None else notes.astype(object)
        et = empty_target[mask] & valid[mask]
        vals[et] = np.nan
        note[et] = "empty target"
        part = pd.DataFrame({
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
            "params": sub["params"].to_numpy(),
            "tokens": sub["tokens"].to_numpy(),
            "flops": sub["flops"].to_numpy(),
            "revision": sub["revision"].to_numpy(),
            "source": sub["source"].to_numpy(),
            "note": note,
        })
        if norm is not None:
            part["normalize"] = norm
        if "nonembedding_params" in sub.columns:
            part["nonembedding_params"] = sub["nonembedding_params"].to_numpy()
        parts.append(part)

    gen = (otype == "generate_until") & valid
    ll_rows = (otype == "loglikelihood") & valid
    mc = (otype == "multiple_choice") & valid
    pred_na = rec["prediction"].isna().to_numpy()
    gen_targets = _targets_of(rec.loc[gen]) if gen.any() else []
    gen_pred = rec.loc[gen, "prediction"].fillna("").tolist()

    def na_note(values: np.ndarray, cond: np.ndarray, text: str,
                notes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        v = values.copy()
        n = np.full(v.shape, None, dtype=object) if notes is None else notes
        v[cond] = np.nan
        n[cond] = text
        return v, n

    if "exact_match" in wanted:
        if gen.any():
            rules = _em_rules(rec.loc[gen, "normalize"], normalize)
            v = np.empty(int(gen.sum()))
            for rule in dict.fromkeys(rules):
                sel = np.array([r == rule for r in rules])
                fn = normalize if callable(normalize) else rule
                v[sel] = exact_match([gen_pred[i] for i in np.flatnonzero(sel)],
                                     [gen_targets[i] for i in np.flatnonzero(sel)],
                                     normalize=fn, regex=regex)
            stated = rec.loc[gen, "normalize"].notna().to_numpy()
            label = np.array([_rule_label(r, normalize, st) for r, st in zip(rules, stated,
                                                                              strict=True)],
                             dtype=object)
            emit(gen, "exact_match", *na_note(v, pred_na[gen], "no prediction"), norm=label)
        # log-likelihood requests: greedy decoding reproduces the target (where logged)
        greedy_rows = ll_rows & rec["is_greedy"].notna().to_numpy()
        if greedy_rows.any():
            v = rec.loc[greedy_rows, "is_greedy"].astype("float64").to_numpy()
            emit(greedy_rows, "exact_match", v, None)
    for base, normalized in (("token_edit_distance", False), ("normalized_edit_distance", True)):
        if base in wanted and gen.any():
            v = _edit(gen_pred, gen_targets, tokenizer, normalized, workers)
            emit(gen, base, *na_note(v, pred_na[gen], "no prediction"))
    for base, fn in (("bleu", bleu), ("rougeL", rouge_l)):
        if base in wanted and gen.any():
            v = fn(gen_pred, gen_targets)
            emit(gen, base, *na_note(v, pred_na[gen], "no prediction"))
    if mc.any():
        ll = _pad(rec.loc[mc, "choice_loglik"].tolist())
        gold = rec.loc[mc, "gold"].astype("int64").to_numpy()
        allinf = np.all(np.isneginf(ll), axis=1)
        for base, fn in (("multiple_choice_grade", None),
                         ("p_choices", p_choices), ("brier_score", brier_score)):
            if base not in wanted:
                continue
            if fn is None:
                # the source's own grade: its ranked scores, its tie rule, its choice credits
                ranked = [r if isinstance(r, list) else c for r, c in
                          zip(rec.loc[mc, "rank_loglik"], rec.loc[mc, "choice_loglik"],
                              strict=True)]
                values = multiple_choice_grade(
                    ranked, gold,
                    choice_values=[cv if isinstance(cv, list) else None
                                   for cv in rec.loc[mc, "choice_values"]],
                    tie_break=rec.loc[mc, "tie_break"].fillna("first").tolist())
            else:
                values = fn(ll, gold)
            emit(mc, base, *na_note(values, allinf, "every choice has log-likelihood -inf"))
    # log-likelihood metrics
    ll_mask = (rec["target_loglik"].notna().to_numpy() & np.isin(otype, list(_LL_TYPES))
               & valid)
    ll_metrics = [m for m in ("target_loglik", "loglik_per_token", "p_vocab", "p_token")
                  if m in wanted]
    if ll_metrics and ll_mask.any():
        sub = rec.loc[ll_mask]
        tll = sub["target_loglik"].to_numpy(np.float64).copy()
        ntok = sub["target_ntokens"].astype("float64").to_numpy().copy()
        counted = np.isnan(ntok)
        unit_note = np.full(len(sub), None, dtype=object)
        if counted.any():
            texts = sub["target"].fillna("").to_numpy()[counted]
            ntok[counted] = _lengths(tokenize(list(texts), tokenizer))
            unit = tokenizer if isinstance(tokenizer, str) else getattr(
                tokenizer, "__qualname__", "callable")
            unit_note[counted] = f"tokens counted with tokenizer={unit}"
        neginf = np.isneginf(tll)
        zero_tok = ntok <= 0
        for base in ll_metrics:
            if base == "target_loglik":
                v, n = na_note(tll, neginf, "target log-likelihood is -inf (probability 0)")
            elif base == "p_vocab":
                v, n = p_vocab(tll), None
            elif base == "loglik_per_token":
                v, n = na_note(loglik_per_token(tll, ntok), neginf,
                               "target log-likelihood is -inf (probability 0)", unit_note.copy())
                v, n = na_note(v, zero_tok & ~neginf, "target has 0 tokens", n)
            else:
                v, n = na_note(p_token(tll, ntok), zero_tok, "target has 0 tokens",
                               unit_note.copy())
            emit(ll_mask, base, v, n)
    # records whose logged values are corrupt: NaN under every metric of their output type
    bad = ~valid
    if bad.any():
        reason = ("invalid value: " + rec.loc[bad, "invalid"].astype(str)).to_numpy(object)
        for base in wanted:
            types = APPLIES_TO[base]
            if base in ("target_loglik", "loglik_per_token", "p_vocab", "p_token"):
                types = types - {"generate_until"}
            m = bad & np.isin(otype, list(types))
            if m.any():
                emit(m, base, np.full(int(m.sum()), np.nan), reason[m[bad]].copy())

    if not parts:
        raise ValueError(
            f"no record could be scored under {wanted}; the records hold output types "
            f"{sorted(have_types)} (see emergence.scoring.APPLIES_TO)."
        )
    out = pd.concat(parts, ignore_index=True)
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
            stacklevel=2,
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
