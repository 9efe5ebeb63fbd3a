"""The demo report as a reader gets it: figures that agree with the verdict tables, and a page
that a browser (headless Chromium, when installed) renders within a 1,400 px wide window with
every image and anchor resolving.

Both tests build the quick demo with verdicts once (about a minute on two cores): marked slow.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from emergence.demo import run_demo

pytestmark = pytest.mark.slow

KEY = ["section", "family", "model", "task", "shots", "metric"]
VIEWPORT = 1400


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-report")
    rep = run_demo(out, quick=True, n_boot=199, progress=False)
    return rep


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["model"] = df["model"].fillna("")
    df["shots"] = df["shots"].astype("float64").fillna(-1)
    return df


def test_figures_agree_with_the_verdict_tables(demo):
    tabs = demo.out_dir / "tables"
    rows = _keyed(pd.read_csv(tabs / "verdict_curves.csv"))
    groups = _keyed(pd.read_csv(tabs / "verdicts.csv"))
    lines = _keyed(pd.read_csv(tabs / "figure_lines.csv"))
    pts = _keyed(pd.read_csv(tabs / "points.csv"))
    assert len(rows) >= 10 and lines["drawn"].any()
    n_breaks = 0
    for _, r in rows.iterrows():
        key = tuple(r[k] for k in KEY)
        sel = lines[(lines[KEY] == pd.Series(key, index=KEY)).all(axis=1) & lines["drawn"]]
        drawn = set(sel["line"])
        assert drawn <= {"smooth null", "accelerating", "decelerating"}, (key, drawn)
        if r["status"] != "ok":
            assert not drawn, f"lines drawn on an untested curve {key}"
            continue
        cited = r["cited_break"]
        breaks = drawn & {"accelerating", "decelerating"}
        if cited == "none":
            assert not breaks, f"break line without a cited break {key}"
        else:
            # the break the verdict cites may be left out (outside the data), never replaced
            assert breaks <= {cited}, key
        g = groups[(groups[KEY[1:-1]] == pd.Series(key[1:-1], index=KEY[1:-1])).all(axis=1)]
        for _, ln in sel[sel["line"].isin(["accelerating", "decelerating"])].iterrows():
            want = r["pblrt_psi"] if ln["line"] == "accelerating" else r["decel_psi"]
            assert ln["psi"] == pytest.approx(want, abs=1e-9), key
            # the location drawn is the one the reasons name
            assert f"10^{ln['psi']:.2f}" in g["reasons"].iloc[0], key
            n_breaks += 1
        # lines on the data's scales and inside the data's range (10% padding)
        p = pts[(pts[KEY] == pd.Series(key, index=KEY)).all(axis=1)]
        v = np.r_[p["value"], p["low"], p["high"]]
        v = v[np.isfinite(v)]
        logy = r["metric"] in ("ppl", "perplexity")
        t = np.log10(v) if logy else v
        lo, hi = t.min() - 0.1 * np.ptp(t), t.max() + 0.1 * np.ptp(t)
        for _, ln in sel.iterrows():
            assert ln["x_min"] >= p["x"].min() * (1 - 1e-9), key
            assert ln["x_max"] <= p["x"].max() * (1 + 1e-9), key
            y0, y1 = (np.log10([ln["y_min"], ln["y_max"]]) if logy
                      else (ln["y_min"], ln["y_max"]))
            assert lo - 1e-9 <= y0 and y1 <= hi + 1e-9, key
    assert n_breaks >= 1  # the quick demo cites breaks (Pythia across training)


_WIDE = """
const vw = document.documentElement.clientWidth, bad = [];
for (const el of document.querySelectorAll('body *')) {
  let p = el.parentElement, clipped = false;
  while (p && p !== document.body) {
    const o = getComputedStyle(p).overflowX;
    if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
    p = p.parentElement;
  }
  if (clipped) continue;
  const r = el.getBoundingClientRect();
  if (r.width > 0 && (r.right > vw + 1 || r.left < -1))
    bad.push(`${el.tagName}#${el.id}.${el.className}: ${Math.round(r.left)}-${Math.round(r.right)}`);
}
return [vw, document.documentElement.scrollWidth, bad.slice(0, 10)];
"""


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium not installed (Debian packages chromium, chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium look for a driver online
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={VIEWPORT},1000", "--hide-scrollbars"):
        opts.add_argument(a)
    opts.binary_location = chromium
    return webdriver.Chrome(service=Service(driver), options=opts)


def test_demo_report_in_headless_chromium(demo, tmp_path_factory):
    index = demo.index.resolve()
    d = _browser()
    try:
        d.get(index.as_uri())
        shots = Path(os.environ.get("EMERGENCE_TEST_OUTPUT") or
                     tmp_path_factory.mktemp("report-page"))
        shots.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(shots / "report-top.png"))  # what a reader sees first
        print(f"screenshot: {shots / 'report-top.png'}")
        # the summary names the candidates, artifacts and underpowered tasks in the first screen
        top = d.execute_script("return document.querySelector('#summary').innerText")
        assert "tasks judged" in top
        d.execute_script("document.querySelectorAll('details').forEach(x => x.open = true)")
        # no horizontal overflow: every element fits the window or sits in a scrolling box
        vw, sw, bad = d.execute_script(_WIDE)
        assert vw <= VIEWPORT and sw <= vw, (vw, sw, bad)
        assert bad == [], bad
        # every image loads
        deadline = time.time() + 60
        while time.time() < deadline and not d.execute_script(
                "return Array.from(document.images).every(i => i.complete)"):
            time.sleep(0.2)
        broken = d.execute_script("return Array.from(document.images)"
                                  ".filter(i => !(i.complete && i.naturalWidth > 0))"
                                  ".map(i => i.getAttribute('src'))")
        n_img = d.execute_script("return document.images.length")
        assert n_img >= len(demo.figures) - 1 and broken == [], broken
        # every anchor resolves: in-page ids exist, files exist beside the page
        hrefs = d.execute_script("return Array.from(document.querySelectorAll('a[href]'))"
                                 ".map(a => a.getAttribute('href'))")
        assert len(hrefs) > 50
        missing = []
        for h in hrefs:
            if h.startswith("#"):
                if not d.execute_script("return document.getElementById(arguments[0]) !== null",
                                        unquote(h[1:])):
                    missing.append(h)
            elif "://" not in h:
                if not (index.parent / unquote(h)).is_file():
                    missing.append(h)
        assert missing == [], missing[:10]
        # a link to a folded figure opens it (fragment navigation reveals closed details)
        d.get(index.as_uri())
        fig = d.execute_script("const a = document.querySelector(\"#summary a[href^='#fig-']\")"
                               " || document.querySelector(\"a[href^='#fig-']\");"
                               "return a && a.getAttribute('href')")
        if fig:
            d.get(index.as_uri() + fig)
            time.sleep(0.3)
            assert d.execute_script("return document.getElementById(arguments[0])"
                                    ".closest('details').open", fig[1:])
    finally:
        d.quit()
