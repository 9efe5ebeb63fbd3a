"""Every module of emergence.commands is a command of the CLI (they are listed, not discovered)."""

from __future__ import annotations

import pkgutil

import emergence.commands as commands
from emergence.cli import build_parser


def test_every_command_module_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    modules = {m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")}
    assert modules == set(sub.choices)
