"""Re-scoring gives the same table, bit for bit, as the frozen output of the code before the
scoring package was split (``data/rescore_frozen.csv.gz``).

Null: ``rescore`` still returns exactly the rows, values, notes and per-item columns it returned
then. Statistic: the CSV text of the output (floats written with 17 significant digits, enough to
round-trip every float64). Reference: the frozen CSV, written by running this file as a script
(``python tests/scoring/test_rescore_frozen.py``) on the code before the split. Regenerate it
only when a score is meant to change, and say which and why in the commit.

Cases: every per-item fixture under ``tests/fixtures`` read by its reader and re-scored with the
defaults, the generative fixtures under other tokenizers, normalisations and a regex, and a
synthetic set of hostile records (non-ASCII and non-BMP text, unusual whitespace, separator-like
control characters, long tokens, several targets, empty and missing texts, invalid rows,
ties, ``-inf`` log-likelihoods, a callable tokenizer).
"""

from __future__ import annotations

import gzip
import io
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures"
FROZEN = Path(__file__).resolve().parent / "data" / "rescore_frozen.csv.gz"


def _hostile_records() -> pd.DataFrame:
    """Records built to reach every branch of the scorer, with awkward text."""
    gen = [
        # (prediction, target, targets, normalize)
        (" 42", "42", None, None),
        ("1 234", "1,234", None, None),
        ("-12", " -12", None, "none"),
        ("3.50", "3.5", None, "inspect"),
        ("The Cat!", "the cat", None, "squad"),
        ("the  cat\tsat\non the mat", "the cat sat on a mat", None, "lower"),
        ("café crème", "cafe creme", None, "strip"),
        ("中文 字符 测试", "中文 测试", None, None),
        ("emoji 😀 here", "emoji 😀 there", None, None),
        ("a\u3000b\u2028c\xa0d\x1ce", "a b c d e", None, None),
        ("sep\x1ftoken \x1f alone", "sep\x1ftoken alone", None, None),
        ("nul\x00inside \x01 x", "nul\x00inside x", None, None),
        ("internationalization is supercalifragilistic", "internationalization is fun",
         None, None),
        ("x" * 70 + " y", "x" * 70 + " z", None, None),
        ("y" * 9 + " " + "y" * 17, "y" * 17 + " " + "y" * 9, None, None),
        ("Paris", None, ["paris", "Paris, France"], None),
        ("five", None, ["5", "five"], "lower"),
        ("", "", None, None),
        ("something", "   ", None, None),
        (None, "7", None, None),
        ("   ", "a b", None, None),
        ("answer: 17 apples", "17", None, "foo"),
        ("a b c d e f g h i j", "j i h g f e d c b a", None, None),
        ("42", None, ["", "42"], None),
        ("ascii only", None, ["", ""], None),
    ]
    rows = []
    for i, (p, t, ts, norm) in enumerate(gen):
        rows.append({"model": "m1", "task": "gen", "item": str(i), "output_type": "generate_until",
                     "prediction": p, "target": t, "targets": ts, "normalize": norm,
                     "params": 1e6, "target_loglik": -1.5 * (i % 3) if i % 4 == 0 else None,
                     "target_ntokens": (i % 3) if i % 8 == 0 else None})
    # the same generations from a second, larger model under a filter
    for r in list(rows):
        rows.append({**r, "model": "m2", "params": 1e8, "filter": "strict-match",
                     "prediction": None if r["prediction"] is None else r["prediction"][::-1]})
    ll = [(-0.5, 2, True), (-np.inf, 1, False), (0.0, 0, True), (-3.0, None, None),
          (-2.0, None, False)]
    for i, (v, n, g) in enumerate(ll):
        rows.append({"model": "m1", "task": "ll", "item": str(i), "output_type": "loglikelihood",
                     "target": ["seven", "the end", "", "x y z", "1 2 3"][i], "target_loglik": v,
                     "target_ntokens": n, "is_greedy": g, "params": 1e6})
    rows.append({"model": "m1", "task": "rolling", "item": "0",
                 "output_type": "loglikelihood_rolling", "target": "a whole document",
                 "target_loglik": -12.25, "params": 1e6})
    mc = [([-1.0, -2.0, -3.0], 0, None, None, None),
          ([-1.0, -1.0, -3.0], 1, None, None, None),
          ([-1.0, -1.0, -1.0], 2, None, None, "bigbench"),
          ([-np.inf, -np.inf], 0, None, None, None),
          ([-2.0, -0.5, -1.0], 0, [1.0, 0.5, 0.0], None, None),
          ([-2.0, -0.5, -1.0], 2, None, [-0.1, -0.9, -0.2], "bigbench"),
          ([-0.7], 0, None, None, None)]
    for i, (cl, gold, cv, rk, tb) in enumerate(mc):
        rows.append({"model": "m1", "task": "mc", "item": str(i), "output_type": "multiple_choice",
                     "choices": [f"c{k}" for k in range(len(cl))], "choice_loglik": cl,
                     "gold": gold, "choice_values": cv, "rank_loglik": rk, "tie_break": tb,
                     "params": 1e6})
    rows.append({"model": "m1", "task": "mc", "item": "bad", "output_type": "multiple_choice",
                 "choices": ["a", "b"], "choice_loglik": [-1.0, 0.5], "gold": 0, "params": 1e6})
    rows.append({"model": "m1", "task": "ll", "item": "bad", "output_type": "loglikelihood",
                 "target": "t", "target_loglik": "abc", "params": 1e6})
    rows.append({"model": "m1", "task": "gen", "item": "bad", "output_type": "generate_until",
                 "prediction": "p", "target": "t", "invalid": "corrupt line", "params": 1e6})
    # HELM-style joint multiple choice answered by a generation
    rows.append({"model": "m1", "task": "joint", "item": "0", "output_type": "generate_until",
                 "prediction": " B", "target": "B", "choices": ["A", "B", "C", "D"],
                 "params": 1e6})
    from emergence.io.records import validate_records

    return validate_records(pd.DataFrame(rows), name="hostile")


def _chars_then_words(s: str) -> list[str]:
    """A callable tokenizer: the first character, then the whitespace words of the rest."""
    return [s[:1], *s[1:].split()] if s else []


def _cases() -> list[tuple[str, object, dict]]:
    from emergence.io import read_bigbench, read_helm, read_lighteval, read_samples

    helm = sorted((FIX / "helm" / "runs" / "v1").iterdir())
    fixtures = [
        ("lm_eval_040", lambda: read_samples(FIX / "lm_eval_040")),
        ("lm_eval_03", lambda: read_samples(FIX / "lm_eval_03")),
        ("bigbench", lambda: read_bigbench(FIX / "bigbench")),
        ("bigbench_multishot", lambda: read_bigbench(FIX / "bigbench_multishot")),
        ("lighteval", lambda: read_lighteval(FIX / "lighteval")),
        *[(f"helm/{r.name}", lambda r=r: read_helm(r, trial=None)) for r in helm],
        ("hostile", _hostile_records),
    ]
    cases = [(name, load, {}) for name, load in fixtures]
    gen_sets = [("bigbench_multishot", fixtures[3][1]), ("lighteval", fixtures[4][1]),
                ("lm_eval_040", fixtures[0][1]), ("hostile", _hostile_records)]
    options = [
        {"tokenizer": "whitespace"},
        {"tokenizer": "characters"},
        {"tokenizer": "digits"},
        {"tokenizer": _chars_then_words},
        {"normalize": "none"},
        {"normalize": "lower"},
        {"normalize": "squad"},
        {"normalize": "inspect"},
        {"normalize": str.upper},
        {"regex": r"(-?\d+)"},
    ]
    for name, load in gen_sets:
        for opt in options:
            metrics = (["exact_match"] if "normalize" in opt or "regex" in opt else
                       ["token_edit_distance", "normalized_edit_distance", "loglik_per_token",
                        "p_token"])
            cases.append((name, load, {**opt, "metrics": metrics}))
    cases.append(("hostile", _hostile_records, {"family": "fam", "workers": 1}))
    return cases


def _label(opts: dict) -> str:
    parts = []
    for k, v in opts.items():
        v = getattr(v, "__name__", v)
        parts.append(f"{k}={v}")
    return "; ".join(parts) or "default"


#: Columns added to the output after the freeze (checked by their own tests, not here).
ADDED_AFTER_FREEZE = ("tokenizer",)


def rescored_text() -> str:
    """Every case re-scored, as one CSV text (the frozen file's content)."""
    from emergence.scoring import rescore

    out = []
    for name, load, opts in _cases():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = load()
            s = rescore(rec, **opts)
        s = s.drop(columns=[c for c in ADDED_AFTER_FREEZE if c in s.columns])
        # sources relative to the repository, so that any checkout compares equal
        s["source"] = s["source"].str.replace(str(REPO) + "/", "", regex=False)
        s.insert(0, "options", _label(opts))
        s.insert(0, "case", name)
        nan = s.attrs.get("nan_counts", {})
        s["nan_counts"] = "; ".join(f"{k}: {v}" for k, v in sorted(nan.items()))
        out.append(s.astype(object).where(s.notna(), None))
    table = pd.concat(out, ignore_index=True)
    return table.to_csv(index=False, float_format="%.17g", lineterminator="\n")


def test_rescore_matches_the_frozen_output():
    frozen = gzip.decompress(FROZEN.read_bytes()).decode("utf-8")
    now = rescored_text()
    if now != frozen:
        a = pd.read_csv(io.StringIO(frozen), dtype=str, keep_default_na=False)
        b = pd.read_csv(io.StringIO(now), dtype=str, keep_default_na=False)
        assert list(a.columns) == list(b.columns), "columns differ"
        assert len(a) == len(b), f"{len(a)} frozen rows, {len(b)} now"
        diff = (a != b).any(axis=1)
        first = a[diff].head(3).to_dict("records"), b[diff].head(3).to_dict("records")
        pytest.fail(f"{int(diff.sum())} rows differ from the frozen output; first: {first}")


def test_frozen_output_covers_every_metric_and_output_type():
    frozen = pd.read_csv(FROZEN, dtype=str, keep_default_na=False)
    base = frozen["metric"].str.split(",").str[0]
    from emergence.scoring import METRICS

    assert set(METRICS) <= set(base)
    assert set(frozen["options"]) >= {"default", "tokenizer=_chars_then_words; metrics="
                                      "['token_edit_distance', 'normalized_edit_distance', "
                                      "'loglik_per_token', 'p_token']"}
    assert len(frozen["case"].unique()) >= 10
    values = pd.to_numeric(frozen["value"].replace("", None)).astype(float)
    assert math.isfinite(values.max()) and np.isnan(values).sum() > 0
    assert frozen.loc[values.isna(), "note"].ne("").all()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    text = rescored_text()
    FROZEN.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"wrote {FROZEN} ({text.count(chr(10)) - 1} rows)")
