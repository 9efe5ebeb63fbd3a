"""The vectorised batch encoder gives each distinct str.split() token its own code, exactly.

Null: for any batch of texts, the encoded strings have one character per ``str.split()`` token
(one per non-whitespace character in ``digits`` mode, the text without its whitespace), and two
tokens share a character exactly when they are equal strings. Reference: Python's own
``str.split()`` and string equality, checked on adversarial texts (every kind of Python
whitespace, the NUL separator, lone surrogates, characters beyond the BMP, tokens of every length
around the 7-byte and 64-byte key boundaries, batches larger than one chunk).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emergence.scoring import _ids
from emergence.scoring._ids import encode_batch
from emergence.scoring.metrics import token_edit_distance

WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]
ALPHABET = ["a", "b", "é", "ÿ", "中", "😀", "\ud800", "\x00", "\x01", "0", "1"] + WHITESPACE


def check(texts: list[str]) -> None:
    enc = encode_batch(texts)
    if enc is None:  # the separator token inside a text: the caller falls back
        assert any("\x00" in t.split() for t in texts)
        return
    assert len(enc) == len(texts)
    code: dict[str, str] = {}
    for t, e in zip(texts, enc, strict=True):
        toks = t.split()
        assert len(e) == len(toks), (t, e)
        for tok, c in zip(toks, e, strict=True):
            assert code.setdefault(tok, c) == c, f"token {tok!r} got two codes"
    assert len(set(code.values())) == len(code), "two tokens share a code"
    digits = encode_batch(texts, "digits")
    if digits is not None:
        assert digits == ["".join(t.split()) for t in texts]


def _token(rng: np.random.Generator) -> str:
    n = int(rng.choice([1, 2, 3, 6, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100]))
    chars = rng.choice(["a", "b", "é", "中", "😀"], size=n, p=[0.4, 0.4, 0.1, 0.05, 0.05])
    return "".join(chars)


@pytest.mark.parametrize("alphabet", ["ascii", "latin", "bmp", "astral", "surrogate"])
def test_codes_match_python_split_on_long_and_short_tokens(alphabet):
    rng = np.random.default_rng(7)
    extra = {"ascii": "", "latin": "é", "bmp": "中", "astral": "😀", "surrogate": "\ud800"}[alphabet]
    texts = []
    for _ in range(3000):
        toks = [_token(rng).replace("é", "e" if alphabet == "ascii" else "é") for _ in
                range(int(rng.integers(0, 6)))]
        seps = rng.choice([" ", "  ", "\t", "\n", "\x1f", "\xa0", "\u3000"], size=len(toks))
        texts.append("".join(f"{s}{t}" for s, t in zip(seps, toks, strict=True)) + extra)
    texts += ["", "   ", "x" * 200, "x" * 200 + "y", texts[0]]
    check(texts)


def test_batches_larger_than_a_chunk(monkeypatch):
    monkeypatch.setattr(_ids, "_CHUNK", 64)
    rng = np.random.default_rng(1)
    texts = [" ".join(_token(rng) for _ in range(int(rng.integers(0, 9)))) for _ in range(500)]
    check(texts)
    check(["a" * 300, "b", "a" * 300])


def test_the_separator_inside_a_text():
    check(["a\x00b c", "a\x00b"])
    assert encode_batch(["a \x00 b", "c"]) is None
    assert encode_batch(["a\x00", "b"], "digits") is None
    # the metric falls back to per-token codes and still gives the right distance
    assert token_edit_distance(["a \x00 b"], ["a b"], tokenizer="whitespace").tolist() == [1.0]


def test_non_strings_raise_type_error_for_the_caller_to_clean():
    with pytest.raises(TypeError):
        encode_batch(["a", None])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(ALPHABET), max_size=30), min_size=1,
                max_size=12))
def test_any_batch(texts):
    check(texts)


def _reference(p: str, t: str) -> int:
    """Wagner-Fischer on str.split() tokens."""
    a, b = p.split(), t.split()
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@pytest.mark.parametrize("normalized", [False, True])
def test_repeated_texts_are_scored_once_per_distinct_pair(normalized):
    rng = np.random.default_rng(5)
    targets = [" ".join(_token(rng) for _ in range(int(rng.integers(1, 5)))) for _ in range(40)]
    preds = [t if rng.random() < 0.3 else " ".join(_token(rng) for _ in range(2))
             for t in targets]
    p, t = preds * 25, targets * 25  # 25 models, the same items
    from emergence.scoring.metrics import _repeats, normalized_edit_distance

    assert _repeats(t)
    fn = normalized_edit_distance if normalized else token_edit_distance
    got = fn(p, t, tokenizer="whitespace", workers=1)
    want = [_reference(a, b) / (max(len(a.split()), len(b.split())) or 1) if normalized
            else _reference(a, b) for a, b in zip(p, t, strict=True)]
    np.testing.assert_array_equal(got, want)
    # a missing prediction among the repeats takes the cleaning path: "" for None
    p[3] = None
    got = token_edit_distance(p, t, tokenizer="whitespace")
    assert got[3] == len(t[3].split())
