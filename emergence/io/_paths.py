"""Expanding user-given paths (files or folders) into the files a reader takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .._exceptions import FormatError

__all__ = ["expand_paths"]


def expand_paths(
    paths: str | Path | Iterable[str | Path],
    accept: Callable[[Path], bool],
    what: str,
    hint: str = "",
) -> list[Path]:
    """Files given directly, plus the files under given folders (recursively) that ``accept``.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    FormatError
        A folder holds no file the reader takes (``what`` names them in the message).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and accept(f))
            if not found:
                raise FormatError(f"{p}: directory holds no {what} files{hint}.")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory.")
    return files
