"""The table of metric definitions that drives rescore: one row per metric, facts from the
registry (not repeated), output types consistent with what rescore emits."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from emergence.registry import BUILTIN_METRICS
from emergence.scoring import (
    APPLIES_TO,
    DEFINITIONS,
    METRICS,
    OPTIONAL_METRICS,
    MetricDef,
    rescore,
)


def test_every_definition_takes_its_facts_from_the_registry():
    assert [d.name for d in DEFINITIONS] == list(METRICS + OPTIONAL_METRICS)
    for d in DEFINITIONS:
        assert d.info is BUILTIN_METRICS[d.name]
    # the dataclass holds no direction, range or kind of its own
    fields = set(MetricDef.__dataclass_fields__)
    assert not fields & {"higher_is_better", "lower", "upper", "kind", "latent"}


def test_applies_to_is_read_from_the_definitions():
    assert APPLIES_TO == {d.name: d.applies_to for d in DEFINITIONS}
    ll = [d.name for d in DEFINITIONS if d.needs_loglik]
    assert ll == ["target_loglik", "loglik_per_token", "p_vocab", "p_token"]
    for d in DEFINITIONS:
        assert "generate_until" not in d.scorable_types(False) or not d.needs_loglik


def test_rescore_emits_each_metric_only_for_its_output_types():
    rec = pd.DataFrame({
        "model": "m", "task": ["g", "l", "c"], "item": "0",
        "output_type": ["generate_until", "loglikelihood", "multiple_choice"],
        "prediction": ["a b", None, None], "target": ["a c", "x", None],
        "target_loglik": [None, -1.0, None], "is_greedy": [None, True, None],
        "choice_loglik": [None, None, [-1.0, -2.0]], "gold": [None, None, 0], "params": 1e6})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = rescore(rec)
    out_type = {"g": "generate_until", "l": "loglikelihood", "c": "multiple_choice"}
    for metric, task in zip(s["metric"], s["task"], strict=True):
        assert out_type[task] in APPLIES_TO[metric]
    assert set(s["metric"]) == set(METRICS)


def test_a_named_metric_no_record_can_get_is_refused():
    rec = pd.DataFrame({"model": ["m"], "task": "g", "item": "0", "output_type": "generate_until",
                        "prediction": "a", "target": "a"})
    with pytest.raises(ValueError, match="attach_loglik"):
        rescore(rec, metrics=["p_token"])
    with pytest.raises(ValueError, match="unknown metric"):
        rescore(rec, metrics=["accuracy"])
