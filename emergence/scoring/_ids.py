"""Token sequences as strings of per-batch token codes, for rapidfuzz.

Each distinct token of a batch gets an integer id and one private character (U+0100 + id, the
surrogate block skipped), so a token sequence becomes a plain string and the character-level
Levenshtein distance between two encoded strings is the token-level distance. rapidfuzz compares
strings in its fastest path, and strings are not tracked by the garbage collector.

:func:`encode_batch` does this for whitespace tokens (and the whitespace-free ``digits`` form)
without per-token Python work: the batch is joined into one buffer, token boundaries are found
with numpy, each token is keyed exactly by its bytes (length and content packed into 64-bit words,
so two tokens share a key only when they are equal) and the keys are numbered with one hash table
(``pandas.factorize``). The result equals ``str.split()`` token for token, including Python's
whitespace set (``\x1c``-``\x1f``, U+0085, U+00A0, U+3000, ...). :class:`_Codes` is the
per-token fallback, used for callable tokenizers.
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
#: Tokens up to this many bytes are keyed by packed words; longer ones by their bytes.
_PACKED_BYTES = 64
#: Code units per chunk of token detection.
_CHUNK = 1 << 17
#: Top byte of the placeholder key of a token longer than 7 bytes (short keys hold 0..7 there).
_LONG = np.uint64(0xFF) << np.uint64(56)


def _units(joined: str) -> tuple[bytes, np.ndarray, int, np.ndarray]:
    """The joined text as code units: (buffer, units, bytes per unit, token-character mask).

    One byte per character when every character is below U+0100, UTF-16 otherwise, UTF-32 when
    the text holds lone surrogates (UTF-16 could not tell them from a pair).
    """
    try:
        buf = joined.encode("latin-1")
        tok = np.frombuffer(buf.translate(_TOKEN_BYTES), dtype=bool)
        return buf, np.frombuffer(buf, dtype=np.uint8), 1, tok
    except UnicodeEncodeError:
        pass
    try:
        buf, e, dt = joined.encode("utf-16-le"), 2, np.uint16
    except UnicodeEncodeError:
        buf, e, dt = joined.encode("utf-32-le", "surrogatepass"), 4, np.uint32
    a = np.frombuffer(buf, dtype=dt)
    return buf, a, e, ~_WS[np.minimum(a, len(_WS) - 1)]


class _Words:
    """The 8 bytes starting at any byte offset of a buffer, as little-endian uint64 (zero past
    the end), without copying the buffer."""

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


def _long_ids(buf: bytes, win: _Words, sb: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Exact ids of tokens longer than 7 bytes: length, then one 8-byte word at a time."""
    g = pd.factorize(lb)[0]
    active = np.arange(len(lb))
    k = 0
    while active.size:
        if 8 * k >= _PACKED_BYTES:  # very long tokens: their bytes are the key
            keys = np.array([buf[s:s + n] for s, n in zip(sb[active].tolist(),
                                                           lb[active].tolist(), strict=True)],
                            dtype=object)
            g[active] = pd.factorize(keys)[0] + (g.max() + 1)
            break
        rem = lb[active] - 8 * k
        word = win.at(sb[active] + 8 * k) & _MASKS[np.minimum(rem, 8)]
        wid = pd.factorize(word)[0]
        comb = g[active] * (int(wid.max()) + 1) + wid
        g[active] = pd.factorize(comb)[0] + (g.max() + 1)
        k += 1
        active = active[lb[active] > 8 * k]
    return pd.factorize(g)[0]


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
        the separator token, or more than 1.1 million distinct tokens).

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
    joined = f" {_SEP} ".join(texts)
    buf, a, e, tok = _units(joined)
    win = _Words(buf)
    space = " ".encode("utf-16-le" if e == 2 else "utf-32-le" if e == 4 else "latin-1")
    # token keys chunk by chunk (small arrays stay in cache); chunks end on a space
    local_ids, local_keys, long_sb, long_lb = [], [], [], []
    n_long = 0
    lo = 0
    while lo < len(a):
        hi = buf.find(space, (lo + _CHUNK) * e)
        while hi != -1 and hi % e:
            hi = buf.find(space, hi + 1)
        hi = len(a) if hi == -1 else hi // e
        edge = np.zeros(hi - lo + 2, dtype=bool)
        edge[1:-1] = tok[lo:hi]
        ch = np.flatnonzero(edge[1:] != edge[:-1])
        st = ch[0::2]
        lb = (ch[1::2] - st) * e
        sb = (st + lo) * e
        key = (win.at(sb) & _MASKS[np.minimum(lb, 8)]) | (lb.astype(np.uint64) << _U56)
        long = lb > 7
        if long.any():  # a placeholder key per long token, resolved below
            k = int(long.sum())
            key[long] = _LONG | np.arange(n_long, n_long + k, dtype=np.uint64)
            long_sb.append(sb[long])
            long_lb.append(lb[long])
            n_long += k
        ids, uniq = pd.factorize(key)
        local_ids.append(ids)
        local_keys.append(uniq)
        lo = hi
    # one vocabulary for the batch: distinct keys of every chunk, numbered once
    all_keys = np.concatenate(local_keys) if local_keys else np.zeros(0, dtype=np.uint64)
    gid, keys = pd.factorize(all_keys)
    placeholder = (keys & _LONG) == _LONG
    code_idx = np.empty(len(keys), dtype=np.int64)
    n_short = int((~placeholder).sum())
    code_idx[~placeholder] = np.arange(n_short)
    n_codes = n_short
    if n_long:
        cls = _long_ids(buf, win, np.concatenate(long_sb), np.concatenate(long_lb))
        code_idx[placeholder] = n_short + cls[(keys[placeholder] & ~_LONG).astype(np.int64)]
        n_codes += int(cls.max()) + 1
    if n_codes > _MAX_CODES:
        return None
    narrow = n_codes + 0x100 <= 0xD800  # every code below the surrogates: UTF-16 units
    codes = (code_idx + 0x100).astype(np.uint16 if narrow else np.uint32)
    if not narrow:
        codes[codes >= 0xD800] += np.uint32(0x800)
    codes[keys == np.uint64(e) << _U56] = 1  # the separator: one NUL unit
    out = np.empty(sum(len(i) for i in local_ids), dtype=codes.dtype)
    pos = off = 0
    for ids, uniq in zip(local_ids, local_keys, strict=True):
        out[pos:pos + len(ids)] = codes[gid[off:off + len(uniq)]][ids]
        pos += len(ids)
        off += len(uniq)
    parts = out.tobytes().decode("utf-16-le" if narrow else "utf-32-le").split("\x01")
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

