"""Opening input files safely: one place for every reader.

* only regular files are opened: a FIFO, socket or device named ``pipe.json`` is refused (reading
  it would block forever), and so is a folder where a file is expected;
* unreadable files raise :class:`~emergence.FormatError` naming the file, not ``PermissionError``;
* gzip content is recognised by its magic bytes, whatever the file name;
* text is decoded from its byte-order mark (UTF-8, UTF-16, UTF-32), from the NUL pattern of
  UTF-16 without a mark, or as UTF-8; undecodable bytes are an error naming the line;
* JSON is parsed with a nesting limit (:data:`MAX_JSON_DEPTH`), a clear error for a truncated file,
  numbers too long to convert, and keys that appear twice in one object with different values.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "r.json"
>>> _ = p.write_bytes(b"\\xef\\xbb\\xbf" + b'{"results": {"t": {"acc": 0.5}}}')
>>> load_json(p)
{'results': {'t': {'acc': 0.5}}}
>>> _ = p.write_text('{"a": ' * 200 + '1' + '}' * 200)
>>> try:
...     load_json(p)
... except Exception as e:
...     print(str(e).split(": ", 1)[1][:38])
JSON nested 200 levels deep (limit 64)
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import EmergenceError, FormatError

__all__ = ["MAX_JSON_DEPTH", "HEAD_BYTES", "Head", "read_head", "parse_once", "check_file",
           "read_bytes", "read_text", "load_json", "parsed_json", "parse_json", "iter_jsonl",
           "decode", "read_csv_text", "guarded", "now_reading"]

#: Deepest nesting of JSON arrays and objects accepted. Result files nest 3-6 levels.
MAX_JSON_DEPTH = 64

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def check_file(path: str | Path) -> Path:
    """``path`` as a Path if it is an existing regular file this process can read.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    FormatError
        A folder, a FIFO, socket or device, or a file without read permission.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: no such file.") from None
    except OSError as exc:
        raise FormatError(f"{p}: cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(st.st_mode):
        raise FormatError(f"{p}: is a folder, not a file; give the folder where a folder is "
                          "accepted or name a file inside it.")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "a device or special file")
        raise FormatError(f"{p}: is {kind}, not a regular file; copy the data into a file.")
    if not os.access(p, os.R_OK):
        raise FormatError(f"{p}: no permission to read it; check the file's permissions "
                          "(chmod +r).")
    return p


#: Bytes read from the start of a file to tell its format (:func:`read_head`).
HEAD_BYTES = 65536

#: Heads read and JSON files parsed inside :func:`parse_once` (None outside it).
_PARSED: ContextVar[dict[Any, Any] | None] = ContextVar("emergence_parsed_json", default=None)


@dataclass(frozen=True)
class Head:
    """The start of a file, read once to tell its format without parsing the whole file.

    Attributes
    ----------
    path : Path
        The file.
    data : bytes
        Its first :data:`HEAD_BYTES` bytes (decompressed when the file is gzip).
    complete : bool
        ``data`` is the whole file.
    columns : tuple of (str, str)
        A declared column mapping (our name -> the file's column), for detectors that judge a
        table by its header.
    """

    path: Path
    data: bytes
    complete: bool
    columns: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """File name."""
        return self.path.name

    @property
    def suffix(self) -> str:
        """Last suffix, lower case, ``.gz`` skipped (``r.csv.gz`` -> ``.csv``)."""
        suffixes = [x.lower() for x in self.path.suffixes]
        if suffixes and suffixes[-1] == ".gz":
            suffixes = suffixes[:-1]
        return suffixes[-1] if suffixes else ""

    @functools.cached_property
    def text(self) -> str:
        """The head as text (encoding as in :func:`decode`; undecodable bytes replaced)."""
        enc, skip = None, 0
        for bom, name in _BOMS:
            if self.data.startswith(bom):
                enc, skip = name, len(bom)
                break
        if enc is None:
            enc = _guess_utf16(self.data) or "utf-8"
        return self.data[skip:].decode(enc, errors="replace")

    @property
    def first_char(self) -> str:
        """First character that is not white space ('' for a blank head)."""
        return self.text.lstrip()[:1]

    @functools.cached_property
    def first_line(self) -> str | None:
        """First non-blank line, or None when it runs past the head."""
        text = self.text.lstrip()
        line, sep, _ = text.partition("\n")
        return line if (sep or self.complete) else None

    @functools.cached_property
    def first_object(self) -> Any:
        """The first line parsed as JSON when the file starts with a one-line JSON object and
        more lines follow, or the file is named ``.jsonl`` (JSON lines); None otherwise."""
        line = self.first_line
        if self.first_char != "{" or line is None:
            return None
        lines = self.suffix in (".jsonl", ".ndjson")
        if not lines and not self.text.lstrip()[len(line):].strip():
            return None  # one line only: a JSON document, not JSON lines
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return None
        return obj if isinstance(obj, dict) else None

    @functools.cached_property
    def header(self) -> tuple[str, ...]:
        """Column names of a CSV/TSV head (first line split on tabs for ``.tsv``, else commas)."""
        line = self.first_line
        if line is None or self.first_char in ("{", "["):
            return ()
        sep = "\t" if self.suffix == ".tsv" or ("\t" in line and "," not in line) else ","
        try:
            row = next(csv.reader([line.rstrip("\r")], delimiter=sep), [])
        except csv.Error:
            return ()
        return tuple(h.strip() for h in row)

    def has(self, *keys: str) -> bool:
        """Every ``"key"`` (quoted, as a JSON key would be) appears in the head."""
        return all(f'"{k}"'.encode() in self.data or f'"{k}"' in self.text for k in keys)


def read_head(path: str | Path, size: int = HEAD_BYTES) -> Head:
    """The first ``size`` bytes of a regular file (gunzipped when it starts with the gzip magic
    bytes), to tell its format. Inside :func:`parse_once` a file's head is read once (until the
    whole file is read).

    Raises
    ------
    FileNotFoundError, FormatError
        As :func:`check_file`, or the file cannot be opened.
    """
    cache = _PARSED.get()
    if cache is None or size != HEAD_BYTES:
        return _read_head(path, size)
    key = ("head", _key(path))
    if key not in cache:
        cache[key] = _read_head(path, size)
    return cache[key]


def _key(path: str | Path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)


def _read_head(path: str | Path, size: int) -> Head:
    p = check_file(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(size + 1)
    except OSError as exc:
        raise FormatError(f"{p}: cannot be read ({exc.strerror or exc}).") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            with gzip.open(p, "rb") as fh:
                data = fh.read(size + 1)
        except (OSError, EOFError, zlib.error):
            data = b""  # the reader says what is wrong with the file
        return Head(p, data[:size], len(data) <= size)
    return Head(p, raw[:size], len(raw) <= size)


def read_bytes(path: str | Path) -> bytes:
    """Content of a regular file, gunzipped when it starts with the gzip magic bytes."""
    p = check_file(path)
    cache = _PARSED.get()
    if cache is not None:
        cache.pop(("head", _key(p)), None)  # the whole file is read now: its head is not needed
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise FormatError(f"{p}: cannot be read ({exc.strerror or exc}).") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"{p}: gzip-compressed but cannot be decompressed ({exc}); the file "
                              "may be truncated.") from None
    return data


def _guess_utf16(data: bytes) -> str | None:
    head = data[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode(data: bytes, where: str | Path) -> str:
    """Text of ``data``: encoding from the byte-order mark, the UTF-16 NUL pattern, else UTF-8.

    Raises
    ------
    FormatError
        Bytes that are not text in the detected encoding (the message names the line).
    """
    enc, skip = None, 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            enc, skip = name, len(bom)
            break
    if enc is None:
        enc = _guess_utf16(data) or "utf-8"
    try:
        return data[skip:].decode(enc)
    except UnicodeDecodeError as exc:
        start = skip + exc.start
        line = data[:start].count(b"\n") + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        bad = data[start:start + 1].hex()
        raise FormatError(
            f"{where}: line {line}, column {col}: byte 0x{bad} is not {enc.upper()} text. Save the "
            "file as UTF-8 (most editors: 'Save with encoding')."
        ) from None


def read_text(path: str | Path) -> str:
    """Decoded text of a regular file (gzip, BOM and UTF-16 handled; see :func:`decode`)."""
    return decode(read_bytes(path), path)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> tuple[int, int]:
    """Deepest bracket nesting outside strings, and the offset (in the bracket stream) of it."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0, 0
    brackets = _NOT_BRACKET.sub("", _STRING.sub('""', text))
    if not brackets:
        return 0, 0
    b = np.frombuffer(brackets.encode("ascii"), dtype=np.uint8)
    step = np.where((b == ord("[")) | (b == ord("{")), 1, -1)
    depth = np.cumsum(step)
    i = int(np.argmax(depth))
    return int(depth[i]), i


def _pairs_hook(where: str | Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d = dict(pairs)
        if len(d) != len(pairs):
            seen: dict[str, Any] = {}
            for k, v in pairs:
                if k in seen and seen[k] != v and not (v != v and seen[k] != seen[k]):
                    raise FormatError(
                        f"{where}: key {k[:60]!r} appears twice in one JSON object with different "
                        f"values ({str(seen[k])[:40]} and {str(v)[:40]}); keep one of them."
                    )
                seen[k] = v
        return d

    return hook


def parse_json(text: str, where: str | Path, *, line: int | None = None) -> Any:
    """Parse JSON text read from ``where`` (``line``: the line it came from, for messages).

    Raises
    ------
    FormatError
        Invalid or truncated JSON, nesting deeper than :data:`MAX_JSON_DEPTH`, a number too long
        to convert, or a key repeated with different values in one object.
    """
    at = f"{where}:{line}" if line is not None else str(where)
    depth, _ = _depth(text)
    if depth > MAX_JSON_DEPTH:
        raise FormatError(f"{at}: JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH}); "
                          "this is not a results or log file this package reads.")
    try:
        return json.loads(text, object_pairs_hook=_pairs_hook(at))
    except json.JSONDecodeError as exc:
        if line is not None:
            raise FormatError(
                f"{where}: line {line} is not valid JSON ({exc.msg} at column {exc.colno}); the "
                "file is probably truncated (an interrupted run). Re-run the task or delete that "
                "line and pass the file again."
            ) from None
        tail = ("; the file ends early (is it truncated?)" if not text[exc.pos:].strip()
                else "")
        raise FormatError(f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno} "
                          f"({exc.msg}){tail}.") from None
    except RecursionError:
        raise FormatError(f"{at}: JSON nested too deeply to read.") from None
    except FormatError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise FormatError(f"{at}: JSON holds a value that cannot be read ({str(exc)[:80]}).") \
            from None


@contextmanager
def parse_once() -> Iterator[None]:
    """Within this block each JSON file is parsed once: :func:`load_json` hands a file's parsed
    object to every later caller (format detection, then the reader; a results file shared by
    several sample logs), and :func:`read_head` reads a file's head once (until
    :func:`read_bytes` reads the whole file). Nested blocks share the outer one; the objects are
    released when the outermost block ends. Callers must not modify the objects they get."""
    if _PARSED.get() is not None:
        yield
        return
    token = _PARSED.set({})
    try:
        yield
    finally:
        _PARSED.reset(token)


def parsed_json(path: str | Path) -> Any:
    """The object :func:`load_json` parsed from ``path`` inside this :func:`parse_once` block,
    or None when it has not been parsed (or outside a block)."""
    cache = _PARSED.get()
    return None if cache is None else cache.get(_key(path))


def load_json(path: str | Path) -> Any:
    """Parse a JSON file (see :func:`read_text` and :func:`parse_json`); inside
    :func:`parse_once`, a file already parsed is not read again."""
    cache = _PARSED.get()
    if cache is None:
        return parse_json(read_text(path), path)
    key = _key(path)
    if key not in cache:
        cache[key] = parse_json(read_text(path), path)
    return cache[key]


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` for each non-blank line of a JSON-lines file."""
    text = read_text(path)
    # split on newlines only: U+2028 and other separators may stand inside JSON strings
    for ln, line in enumerate(text.split("\n"), 1):
        if line.strip():
            yield ln, parse_json(line, path, line=ln)


def read_csv_text(path: str | Path, *, sep: str | None = None, **kwargs) -> pd.DataFrame:
    """Read a CSV/TSV file (gzip, BOM, UTF-16 handled) with errors naming the file and line.

    ``sep`` defaults to a tab for ``.tsv`` names, else a comma; ``kwargs`` go to
    :func:`pandas.read_csv`.

    Raises
    ------
    FormatError
        Undecodable text, a malformed table, or a column name that appears twice in the header.
    """
    p = Path(path)
    text = read_text(p)
    if sep is None:
        sep = "\t" if ".tsv" in [s.lower() for s in p.suffixes] else ","
    kind = "TSV" if sep == "\t" else "CSV"
    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        header = next(csv.reader([first], delimiter=sep), [])
    except csv.Error:
        header = []
    names = [h.strip() for h in header]
    dups = sorted({h for h in names if h and names.count(h) > 1})
    if dups:
        raise FormatError(f"{p}: line 1: column name(s) {dups[:5]} appear more than once in the "
                          "header; rename them so that each column has its own name.")
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, **kwargs)
    except pd.errors.EmptyDataError:
        raise FormatError(f"{p}: empty file; expected a {kind} table with a header line.") \
            from None
    except (pd.errors.ParserError, ValueError, OverflowError, csv.Error) as exc:
        msg = " ".join(str(exc).split())[:160]
        raise FormatError(f"{p}: could not be read as a {kind} table ({msg}).") from None


# ------------------------------------------------------------------------------------------
# one guard for every reader: whatever goes wrong inside a file names that file

_CURRENT: ContextVar[Path | None] = ContextVar("emergence_current_file", default=None)


def now_reading(path: str | Path | None) -> None:
    """Record the file a reader is interpreting (named by :func:`guarded` errors)."""
    _CURRENT.set(None if path is None else Path(path))


def _first_path(args: tuple, kwargs: dict) -> str | None:
    v = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(v, (str, Path)):
        return str(v)
    if isinstance(v, (list, tuple)) and v and isinstance(v[0], (str, Path)):
        return str(v[0]) + (f" (and {len(v) - 1} more)" if len(v) > 1 else "")
    return None  # data given in memory (a DataFrame): errors are left as they are


def guarded(what: str) -> Callable:
    """Decorator for a public reader: an input file whose structure the reader does not expect
    (a list where an object belongs, a string where a number belongs, ...) raises a
    :class:`~emergence.FormatError` naming the file and ``what`` was expected, not a
    ``TypeError`` or ``AttributeError`` from deep inside; every error names a file."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            token = _CURRENT.set(None)
            try:
                return fn(*args, **kwargs)
            except EmergenceError as exc:
                cur = _CURRENT.get()
                where = str(cur) if cur is not None else _first_path(args, kwargs)
                msg = str(exc)
                if where is None or (cur is not None and (str(cur) in msg or cur.name in msg)):
                    raise
                if cur is None and where.split(" (and")[0] in msg:
                    raise
                raise type(exc)(f"{where}: {msg}") from None
            except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError,
                    RecursionError, UnicodeError) as exc:
                cur = _CURRENT.get()
                if cur is None:  # not inside a file: an argument error, left as it is
                    raise
                where = str(cur)
                detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:120]
                raise FormatError(f"{where}: not a {what} this package can read (unexpected "
                                  f"structure: {detail}).") from None
            finally:
                _CURRENT.reset(token)

        return wrapper

    return deco
