"""Screen resume keyed on the input data, and local workers that never outlive the screen.

Case 4 of the silent-loss list: a resumed screen used to reuse rows computed from different
input data (the resume check compared the settings only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from emergence.assessment import CurveAssessment, VocabularyError
from emergence.curves import Curve
from emergence.screen import ScreenSettingsError, curve_hash, screen

ROOT = Path(__file__).resolve().parents[1]


def _curves(shift: float = 0.0) -> list[Curve]:
    x = np.logspace(8, 11, 8)
    out = []
    for i in range(4):
        y = np.exp(-np.exp(14 - (1.5 + i / 10) * np.log10(x))).round(3)
        if i == 2:
            y = np.clip(y + shift, 0, 1)
        out.append(Curve("f", f"t{i}", "exact_match", 0, "params", x, y, np.full(8, np.nan),
                         np.full(8, 1000.0), tuple("abcdefgh")))
    return out


def test_resume_recomputes_curves_whose_data_changed(tmp_path):
    first = screen(_curves(), tmp_path, n_boot=99, progress=False).to_frame()
    changed = _curves(shift=0.05)
    with pytest.warns(UserWarning, match=r"1 finished row\(s\) .* other input data"):
        resumed = screen(changed, tmp_path, n_boot=99, progress=False).to_frame()
    fresh = screen(changed, tmp_path / "fresh", n_boot=99, progress=False).to_frame()
    cols = ["task", "pblrt_pvalue", "es"]
    assert resumed[cols].equals(fresh[cols])  # identical to a run from scratch
    assert not first[cols].equals(resumed[cols])
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines() if x]
    assert len(rows) == 5  # 4 first, 1 redone; the other 3 were reused
    assert {r["input_hash"] for r in rows if r["curve_key"].startswith("f|None|t2")} .__len__() == 2


def test_a_screen_written_with_the_old_column_names_is_not_mixed(tmp_path):
    # a folder as the previous version wrote it: settings without a column version, rows with
    # pblrt_p / davies_p
    cs = _curves()[:2]
    new = screen(cs, tmp_path / "new", n_boot=99, progress=False)
    settings = json.loads((tmp_path / "new" / "settings.json").read_text())
    old_rows = []
    for line in (tmp_path / "new" / "rows.jsonl").read_text().splitlines():
        r = json.loads(line)
        r["pblrt_p"] = r.pop("pblrt_pvalue")
        r["davies_p"] = r.pop("davies_pvalue")
        old_rows.append(json.dumps(r))
    old = tmp_path / "old"
    old.mkdir()
    (old / "settings.json").write_text(json.dumps({k: v for k, v in settings.items()
                                                  if k != "columns"}))
    (old / "rows.jsonl").write_text("\n".join(old_rows) + "\n")
    with pytest.raises(ScreenSettingsError, match="older version of emergence.*pblrt_pvalue"):
        screen(cs, old, n_boot=99, progress=False)
    # starting over in the same folder replaces the old rows
    fresh = screen(cs, old, n_boot=99, progress=False, resume=False)
    assert "pblrt_p" not in fresh.to_frame().columns
    assert fresh.to_frame()["pblrt_pvalue"].equals(new.to_frame()["pblrt_pvalue"])
    # an old row read directly is refused, naming the new names
    with pytest.raises(VocabularyError, match="pblrt_p.*now.*pblrt_pvalue"):
        CurveAssessment.from_dict(json.loads(old_rows[0]), ignore=("curve_key", "input_hash"))


def test_curve_hash_sees_every_field():
    a, b = _curves()[0], _curves()[0]
    assert curve_hash(a) == curve_hash(b)
    for change in ({"labels": tuple("abcdefgX")}, {"chance": 0.25}, {"notes": ("n",)},
                   {"n_items": np.full(8, 999.0)}):
        assert curve_hash(Curve(**{**a.__dict__, **change})) != curve_hash(a)


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _default_sigint() -> None:
    # a screen started from a terminal sees Ctrl-C; a test run launched in the background
    # (`pytest &` in a script) ignores SIGINT, and children inherit an ignored signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_screen(out: Path, n_boot: int = 999) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "emergence.cli", "screen", "--dataset", "pythia-v1",
         "--min-scales", "6", "--jobs", "2", "--quiet", "--n-boot", str(n_boot), "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=_default_sigint)


def _wait_for(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_sigkill_leaves_no_worker_behind(tmp_path):
    proc = _start_screen(tmp_path / "out")
    try:
        assert _wait_for(lambda: len(_children(proc.pid)) >= 2, 60), proc.stderr.read()
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _wait_for(lambda: not any(_alive(w) for w in workers), 5), \
            [w for w in workers if _alive(w)]
    finally:
        for w in _children(proc.pid):
            os.kill(w, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_ctrl_c_writes_finished_chunks_and_stops_promptly(tmp_path):
    out = tmp_path / "out"
    # B = 9,999: the whole screen takes about 20 s, so Ctrl-C after the first chunk always finds
    # it running (with the default B it can finish its 300 curves in about 3 s)
    proc = _start_screen(out, n_boot=9999)
    rows = out / "rows.jsonl"
    try:
        assert _wait_for(lambda: rows.exists() and rows.stat().st_size > 0, 120)
        workers = _children(proc.pid)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        rc = proc.wait(20)
        took = time.monotonic() - t0
        err = proc.stderr.read().decode()
        assert rc == 130, err
        assert "interrupted; finished results were kept" in err
        assert "Traceback" not in err  # workers ignore Ctrl-C; the parent stops them
        assert took < 10, took  # was 17-21 s, waiting for every queued chunk
        assert not any(_alive(w) for w in workers)
        n = len([x for x in rows.read_text().splitlines() if x.strip()])
        assert n >= 20 and n % 20 == 0  # whole chunks of 20 curves
    finally:
        if proc.poll() is None:
            proc.kill()
