"""The per-curve table built with array columns equals the plain per-column pandas conversion."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from emergence.assessment import _FIELDS, COLUMNS, CurveAssessment, assessment_frame
from emergence.curves import extract_curves
from emergence.simulate import simulate_family
from emergence.verdict import assess


def _plain_frame(assessments) -> pd.DataFrame:
    """The reference: build the table, then convert every float and bool column with pandas."""
    data = {c: [getattr(a, c) for a in assessments] for c in COLUMNS}
    df = pd.DataFrame(data, columns=list(COLUMNS))
    for c, f in _FIELDS.items():
        if f.type in ("float", float):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        elif f.type in ("bool", bool):
            df[c] = df[c].astype(bool)
    return df


def test_assessment_frame_equals_plain_conversion():
    df = simulate_family("power_law", n_items=60, n_scales=7, seed=3,
                         metrics=["exact_match", "token_edit_distance", "target_loglik"])
    vt = assess(extract_curves(df, x="params"), n_boot=19, progress=False)
    a = list(vt.assessments)
    assert len(a) == 3
    # rows as a screen reads them back (JSON: integers in float fields, None for NaN) and
    # rows with numpy scalars and odd values, which take the pandas conversion
    back = [CurveAssessment.from_dict(json.loads(json.dumps(
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
         for k, v in r.to_dict().items()}))) for r in a]
    odd = dataclasses.replace(a[0], es=np.float32(0.5), psi_low=1, sharp=np.bool_(True),
                              pblrt_pvalue=None)
    err = CurveAssessment(family="f", model="", task="t", shots=0, metric="m", x_name="params",
                          status="error", reason="no scales")
    for rows in (a, back, [odd, *a], [err], [err, *back], []):
        got, ref = assessment_frame(rows), _plain_frame(rows)
        pd.testing.assert_frame_equal(got, ref, check_exact=True)
        for c in COLUMNS:  # the same dtype, column by column
            assert got[c].dtype == ref[c].dtype, c
