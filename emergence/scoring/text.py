"""Text normalisation before exact matching, and tokenizers for edit distances and token counts.

Examples
--------
>>> from emergence.scoring.text import normalize_text, tokenize
>>> normalize_text(["  The Cat! "], "squad").tolist()
['cat']
>>> tokenize(["the cat sat", "1 234"])
[['the', 'cat', 'sat'], '1234']
"""

from __future__ import annotations

import gc
import math
import re
import string
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_option

__all__ = ["NORMALIZATIONS", "TOKENIZERS", "normalize_text", "tokenize", "tokenizer_labels"]

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


def tokenizer_labels(texts: Sequence[str], tokenizer: str | Callable[[str], Any] = "auto"
                     ) -> np.ndarray:
    """Name of the tokenizer :func:`tokenize` applies to each text (``"auto"`` resolved).

    Examples
    --------
    >>> tokenizer_labels(["1,234", "a cat"]).tolist()
    ['digits', 'whitespace']
    """
    if tokenizer == "auto":
        return np.array(["digits" if _NUMERIC.match("" if t is None or t is pd.NA else str(t))
                         else "whitespace" for t in texts], dtype=object)
    if isinstance(tokenizer, str):
        return np.full(len(texts), tokenizer, dtype=object)
    name = getattr(tokenizer, "__qualname__", None) or type(tokenizer).__name__
    owner = getattr(getattr(tokenizer, "__self__", None), "name_or_path", None)
    return np.full(len(texts), f"{owner} ({name})" if owner else str(name), dtype=object)


def _lengths(toks: list[Any]) -> np.ndarray:
    return np.fromiter(map(len, toks), dtype=np.float64, count=len(toks))


def _clean(texts: Sequence[Any]) -> list[str]:
    if set(map(type, texts)) <= {str}:
        return list(texts)
    return ["" if t is None or t is pd.NA else str(t) for t in texts]
