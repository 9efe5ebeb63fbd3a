"""Expanding user-given paths (files or folders) into the files a reader takes: the one folder
walker of :mod:`emergence.io` (the reader registry and every reader's own folder search use it)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from .._exceptions import FormatError

__all__ = ["expand_paths", "walk_files"]


def walk_files(folder: Path, accept: Callable[[Path], bool] | None = None,
               claim: Callable[[Path], list[Path] | None] | None = None) -> list[Path]:
    """Files under ``folder`` (recursively, symbolic links to folders not followed) that
    ``accept`` (default: all).

    ``claim(subfolder)`` may return the files that stand for a whole subfolder (a HELM run
    folder is read through its ``scenario_state.json``); the walk then takes those and does not
    look further inside it.

    Raises
    ------
    FormatError
        A subfolder cannot be listed (no permission), or a FIFO, socket or device sits among the
        files: skipping either would lose data without a word.
    """
    out: list[Path] = []

    def fail(exc: OSError) -> None:
        where = exc.filename or folder
        raise FormatError(f"{where}: folder cannot be read ({exc.strerror or exc}); fix its "
                          "permissions or name the files to read.")

    for root, dirs, names in os.walk(folder, onerror=fail):
        dirs.sort()
        claimed = claim(Path(root)) if claim is not None else None
        if claimed is not None:
            out.extend(claimed)
            dirs[:] = []
            continue
        for n in sorted(names):
            f = Path(root) / n
            try:
                mode = f.stat().st_mode
            except OSError:
                continue  # a dangling symbolic link: nothing to read
            if accept is not None and not accept(f):
                continue
            if stat.S_ISREG(mode):
                out.append(f)
            elif not stat.S_ISDIR(mode):
                raise FormatError(f"{f}: not a regular file (FIFO, socket or device) inside a "
                                  "folder given to read; move it out or name the files to read.")
    return out


def expand_paths(
    paths: str | Path | Iterable[str | Path],
    accept: Callable[[Path], bool],
    what: str,
    hint: str = "",
    claim: Callable[[Path], list[Path] | None] | None = None,
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
            found = walk_files(p, accept, claim)
            if not found:
                raise FormatError(f"{p}: directory holds no {what} files{hint}.")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or directory.")
    return files
