"""Token sequences as strings of per-batch token codes, for rapidfuzz.

Each distinct token of a batch gets an integer id and one character (from U+0002 when the batch
has fewer than 255 distinct tokens, else from U+0100, the surrogate block skipped), so a token
sequence becomes a plain string and the character-level Levenshtein distance between two encoded
strings is the token-level distance. rapidfuzz compares strings in its fastest path, and strings
are not tracked by the garbage collector.

:func:`encode_batch` does this for whitespace tokens (and the whitespace-free ``digits`` form)
without per-token Python work: the batch is joined into one buffer, token boundaries are found
with numpy, each token of up to 7 bytes is keyed exactly by its bytes (length and content packed
into one 64-bit word), a longer token by a hash of its 8-byte words checked afterwards against one
member of its key (a collision sends the batch to the per-token path), and the keys are numbered
with one hash table (``pandas.factorize``). The result equals ``str.split()`` token for
token, including Python's whitespace set (``\x1c``-``\x1f``, U+0085, U+00A0, U+3000, ...).
:class:`_Codes` is the per-token fallback, used for callable tokenizers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .text import _clean, _no_gc, tokenize

#: Python's whitespace (``str.split()``, ``str.isspace``) up to U+3000, the last such character.
_WS = np.array([chr(c).isspace() for c in range(0x3002)], dtype=bool)
#: bytes -> 1 for a token character, 0 for whitespace (one-byte text)
_TOKEN_BYTES = bytes(0 if _WS[c] else 1 for c in range(256))
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_U56 = np.uint64(56)
#: The separator token between texts; a text holding it as a token of its own falls back.
_SEP = "\x00"
#: Distinct tokens one batch can code (U+0100 to U+10FFFF without the surrogates).
_MAX_CODES = 0x110000 - 0x100 - 0x800
#: Words of a long token kept for the exact check (longer tokens are compared as bytes).
_KEPT_WORDS = 4
#: Characters per chunk of token detection (about).
_CHUNK = 1 << 18
#: Top byte of the hash key of a token longer than 7 bytes (short keys hold 1..7 there).
_LONG = np.uint64(0xFF) << np.uint64(56)
#: Odd multiplier of the long-token hash (2^64 / golden ratio).
_MIX = np.uint64(0x9E3779B97F4A7C15)


#: Code units tried in turn: one byte per character (every character below U+0100), UTF-16,
#: UTF-32 (text with lone surrogates, which UTF-16 could not tell from a pair).
_CODECS = (("latin-1", 1, "strict"), ("utf-16-le", 2, "strict"),
           ("utf-32-le", 4, "surrogatepass"))


def _codec(joined: str) -> tuple[str, int, str]:
    """How to cut the joined text into code units: (codec, bytes per unit, error handler).

    One byte per character when every character is below U+0100, UTF-16 otherwise, UTF-32 when
    the text holds lone surrogates (UTF-16 could not tell them from a pair).
    """
    if joined.isascii():
        return "latin-1", 1, "strict"
    try:
        joined.encode("latin-1")
        return "latin-1", 1, "strict"
    except UnicodeEncodeError:
        pass
    try:
        joined.encode("utf-16-le")
        return "utf-16-le", 2, "strict"
    except UnicodeEncodeError:
        return "utf-32-le", 4, "surrogatepass"


def _token_mask(buf: bytes, e: int) -> np.ndarray:
    """True on code units that belong to a token (not Python whitespace)."""
    if e == 1:
        return np.frombuffer(buf.translate(_TOKEN_BYTES), dtype=bool)
    a = np.frombuffer(buf, dtype=np.uint16 if e == 2 else np.uint32)
    return ~_WS[np.minimum(a, len(_WS) - 1)]


def _units(joined: str) -> tuple[bytes, np.ndarray, int, np.ndarray]:
    """The joined text as code units: (buffer, units, bytes per unit, token-character mask)."""
    codec, e, errors = _codec(joined)
    buf = joined.encode(codec, errors)
    a = np.frombuffer(buf, dtype={1: np.uint8, 2: np.uint16, 4: np.uint32}[e])
    return buf, a, e, _token_mask(buf, e)


class _Words:
    """The 8 bytes starting at byte offsets of a buffer, as little-endian uint64 (zero past the
    end), read without copying the buffer."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.safe = max(len(buf) - 7, 0)
        self.view = np.ndarray(shape=(self.safe,), dtype="<u8", buffer=buf, strides=(1,))

    def at(self, pos: np.ndarray) -> np.ndarray:
        """Words at the byte offsets ``pos`` (ascending)."""
        if not len(pos) or pos[-1] < self.safe:
            return self.view[pos]
        cut = int(np.searchsorted(pos, self.safe))
        tail = [int.from_bytes(self.buf[p:p + 8], "little") for p in pos[cut:].tolist()]
        return np.concatenate([self.view[pos[:cut]], np.array(tail, dtype=np.uint64)])


class _LongTokens:
    """Tokens longer than 7 bytes: hashed for the key, kept for an exact check afterwards.

    A token's key is a 56-bit hash of its length and 8-byte words (top byte :data:`_LONG`, so it
    never equals the exact key of a short token). :meth:`distinct` then checks, against one
    member of each key, that the tokens sharing a key are equal: their lengths and first
    :data:`_KEPT_WORDS` words compared in numpy, the bytes of longer tokens in Python.
    """

    def __init__(self) -> None:
        self.lb: list[np.ndarray] = []
        self.words: list[list[np.ndarray]] = []
        self.at: list[np.ndarray] = []  # positions in the batch's token sequence
        self.very: dict[int, bytes] = {}  # position -> bytes, tokens beyond the kept words

    def keys(self, win: _Words, sb: np.ndarray, lb: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Hash keys of the tokens at byte offsets ``sb`` (ascending) of ``win`` with ``lb``
        bytes; ``at`` are their positions in the batch's token sequence."""
        w0 = win.at(sb)  # every long token fills its first word
        w1 = win.at(sb + 8) & _MASKS[np.minimum(lb - 8, 8)]
        h = (((lb.astype(np.uint64) * _MIX) ^ w0) * _MIX ^ w1) * _MIX
        words = [w0, w1]
        active = np.flatnonzero(lb > 16)
        k = 2
        while active.size:
            rem = lb[active] - 8 * k
            w = win.at(sb[active] + 8 * k) & _MASKS[np.minimum(rem, 8)]
            if k < _KEPT_WORDS:
                full = np.zeros(len(lb), dtype=np.uint64)
                full[active] = w
                words.append(full)
            h[active] = (h[active] ^ w) * _MIX
            k += 1
            active = active[rem > 8]
        for i in np.flatnonzero(lb > 8 * _KEPT_WORDS).tolist():
            self.very[int(at[i])] = win.buf[int(sb[i]):int(sb[i]) + int(lb[i])]
        self.lb.append(lb)
        self.words.append(words)
        self.at.append(at)
        return ((h ^ (h >> np.uint64(29))) >> np.uint64(8)) | _LONG

    def distinct(self, ids: np.ndarray) -> bool:
        """True when the tokens that got the same id (``ids`` over the whole token sequence)
        are equal: each compared with the last member of its id, chunk by chunk."""
        if not self.lb:
            return True
        n = int(ids.max()) + 1
        n_words = max(map(len, self.words))
        rep_lb = np.zeros(n, dtype=np.int64)
        rep_at = np.zeros(n, dtype=np.int64)
        rep_w = [np.zeros(n, dtype=np.uint64) for _ in range(n_words)]
        groups = [ids[at] for at in self.at]
        for g, at, lb, ws in zip(groups, self.at, self.lb, self.words, strict=True):
            rep_lb[g] = lb
            rep_at[g] = at
            for k, w in enumerate(ws):
                rep_w[k][g] = w
        for g, lb, ws in zip(groups, self.lb, self.words, strict=True):
            if not np.array_equal(rep_lb[g], lb):
                return False
            for k in range(n_words):
                if not (rep_w[k][g] == (ws[k] if k < len(ws) else np.uint64(0))).all():
                    return False
        very = {p: self.very[int(rep_at[ids[p]])] for p in self.very}
        return very == self.very


def _word_keys(texts: list[str], per_chunk: int, codec: str, e: int, errors: str
               ) -> tuple[np.ndarray, _LongTokens] | None:
    """Keys of every token of the texts joined by the separator token, ``per_chunk`` texts at a
    time (small buffers stay in cache); None when a text does not fit ``codec``."""
    longs = _LongTokens()
    keys: list[np.ndarray] = []
    sep = np.array([np.uint64(e) << _U56], dtype=np.uint64)  # one NUL unit
    n_tok = 0
    for i in range(0, len(texts), per_chunk):
        try:  # a space at both ends: every token starts and ends inside
            buf = (" " + f" {_SEP} ".join(texts[i:i + per_chunk]) + " ").encode(codec, errors)
        except UnicodeEncodeError:
            return None
        if i:
            keys.append(sep)
            n_tok += 1
        tok = _token_mask(buf, e)
        ch = np.flatnonzero(tok[1:] != tok[:-1]) + 1
        st = ch[0::2]
        lb = (ch[1::2] - st) * e
        sb = st * e
        win = _Words(buf)
        key = (win.at(sb) & _MASKS[np.minimum(lb, 8)]) | (lb.astype(np.uint64) << _U56)
        long = np.flatnonzero(lb > 7)
        if long.size:
            key[long] = longs.keys(win, sb[long], lb[long], long + n_tok)
        keys.append(key)
        n_tok += len(key)
    return (np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)), longs


def encode_batch(texts: list[str], mode: str = "whitespace") -> list[str] | None:
    """Encode a batch of texts for :func:`rapidfuzz.process.cpdist`, vectorised.

    Parameters
    ----------
    texts : list of str
        Every text of the batch (predictions and targets together share the vocabulary).
    mode : {"whitespace", "digits"}
        ``"whitespace"``: one code character per ``str.split()`` token. ``"digits"``: the text
        with its whitespace removed (``"".join(s.split())``), one character per character.

    Returns
    -------
    list of str or None
        One string per text; None when this batch needs the per-token fallback (a text holds
        the separator token, two long tokens share a hash, or more than 1.1 million distinct
        tokens).

    Raises
    ------
    TypeError
        A text is not a ``str`` (the caller cleans the batch and retries).

    Examples
    --------
    >>> enc = encode_batch(["the cat", "the  dog\tsat", ""])
    >>> [len(s) for s in enc], enc[0][0] == enc[1][0]
    ([2, 3, 0], True)
    >>> encode_batch([" 1 234", "12"], "digits")
    ['1234', '12']
    """
    n = len(texts)
    if n == 0:
        return []
    if mode == "digits":
        joined = _SEP.join(texts)
        buf, a, e, tok = _units(joined)
        kept = a[tok].tobytes()
        out = (kept.decode("latin-1") if e == 1 else kept.decode("utf-16-le") if e == 2
               else kept.decode("utf-32-le", "surrogatepass")).split(_SEP)
        return out if len(out) == n else None
    # texts per chunk: about _CHUNK characters, from a sample of lengths
    sample = texts[:: max(1, n // 200)]
    per_chunk = max(64, _CHUNK // max(1, sum(map(len, sample)) // len(sample) + 3))
    for codec, e, errors in _CODECS:
        keys = _word_keys(texts, per_chunk, codec, e, errors)
        if keys is not None:
            break
    all_keys, longs = keys
    # one vocabulary for the batch
    ids, uniq = pd.factorize(all_keys)
    if not longs.distinct(ids):
        return None  # two different long tokens share a hash: the per-token path is exact
    n_codes = len(uniq)
    if n_codes > _MAX_CODES:
        return None
    # the narrowest string kind that holds every code: one byte (codes 2..255) for small
    # vocabularies, UTF-16 units below the surrogates, else UTF-32
    if n_codes + 2 <= 0x100:
        dtype, first, encoding = np.uint8, 2, "latin-1"
    elif n_codes + 0x100 <= 0xD800:
        dtype, first, encoding = np.uint16, 0x100, "utf-16-le"
    else:
        dtype, first, encoding = np.uint32, 0x100, "utf-32-le"
    codes = np.arange(first, first + n_codes, dtype=dtype)
    if dtype is np.uint32:
        codes[codes >= 0xD800] += np.uint32(0x800)
    codes[uniq == np.uint64(e) << _U56] = 1  # the separator
    parts = str(codes[ids].data, encoding).split("\x01")
    return parts if len(parts) == n else None


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

