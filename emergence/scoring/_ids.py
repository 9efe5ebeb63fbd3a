"""Token sequences as strings of per-batch token codes, for rapidfuzz.

Each distinct token of a batch gets one private character, so a token sequence becomes a plain
string and the character-level Levenshtein distance between two encoded strings is the token-level
distance. rapidfuzz compares strings in its fastest path, and strings are not tracked by the
garbage collector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .text import _clean, _no_gc, tokenize


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

