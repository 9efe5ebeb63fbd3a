"""The README's Python quickstart runs as written, with one import line, on the files it creates."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _quickstart() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quickstart (Python)", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_has_one_import_line():
    imports = [ln for ln in _quickstart().splitlines() if re.match(r"\s*(import|from) ", ln)]
    assert imports == ["import emergence as em"]


def test_quickstart_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_quickstart(), str(README) + ":quickstart", "exec"), namespace)  # noqa: S102
    an = namespace["an"]
    assert (an.seed, an.n_boot) == (0, 99)
    assert len(an.to_frame()) >= 3 and not an.verdicts.empty
    assert (tmp_path / "my-report" / "index.html").is_file()
    assert (tmp_path / "my_results.csv").is_file()
    assert "verdict" in capsys.readouterr().out
