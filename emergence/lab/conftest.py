"""Doctest collection for the lab: examples that train or evaluate need the [lab] extra."""

from __future__ import annotations

import importlib.util

_EXTRA = ("torch", "transformers", "tokenizers", "lm_eval")

#: Modules whose examples run models; skipped when the [lab] extra is not installed.
collect_ignore = (
    ["models.py", "harness.py"]
    if any(importlib.util.find_spec(m) is None for m in _EXTRA)
    else []
)
