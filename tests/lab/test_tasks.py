"""Arithmetic tasks of the lab: seeded items, no train/test overlap, harness task files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emergence.lab.tasks import (
    LL_SUFFIX,
    MC_SUFFIX,
    TASKS,
    VOCAB,
    ArithmeticSuite,
    write_task_files,
)

ALL = list(TASKS)


def test_items_are_correct_and_lengths_recorded():
    suite = ArithmeticSuite.build(ALL, n_test=100, seed=3, mc_task="add_3d")
    for name in ALL:
        spec = TASKS[name]
        docs = suite.test[name]
        assert len(docs) == 100
        assert len({d["prompt"] for d in docs}) == 100  # drawn without replacement
        for d in docs:
            a, b = d["a"], d["b"]
            assert len(str(a)) == spec.digits_a and len(str(b)) == spec.digits_b
            assert int(d["answer"]) == (a + b if spec.op == "+" else a * b)
            assert d["L"] == len(d["answer"])
            assert d["prompt"] == f"{a}{spec.op}{b}="
            lo, hi = spec.answer_lengths
            assert lo <= d["L"] <= hi
    # several answer lengths across and within tasks (the Mirage setting)
    lengths = {d["L"] for name in ALL for d in suite.test[name]}
    assert lengths >= {2, 3, 4, 5}


def test_multiple_choice_variant_holds_the_same_items():
    suite = ArithmeticSuite.build(["add_3d"], n_test=80, seed=1, mc_task="add_3d")
    gen, mc = suite.test["add_3d"], suite.test["add_3d" + MC_SUFFIX]
    assert [d["prompt"] for d in gen] == [d["prompt"] for d in mc]
    labels = []
    for d in mc:
        assert len(d["choices"]) == 4 and len(set(d["choices"])) == 4
        assert d["choices"][d["label"]] == d["answer"]
        labels.append(d["label"])
    # gold position is randomised, not always first
    assert len(set(labels)) == 4


def test_train_stream_never_contains_a_test_item():
    suite = ArithmeticSuite.build(ALL, n_test=200, seed=0)
    test_prompts = {d["prompt"] for name in ALL for d in suite.test[name]}
    lines = suite.training_text(60_000, seed=1)
    train_prompts = {line.split("=")[0] + "=" for line in lines}
    assert not (train_prompts & test_prompts)
    # mul_2x1 has only 810 pairs; with 200 held out the stream covers the other 610
    mul = {p for p in train_prompts if "*" in p and len(p.split("*")[1]) == 2}
    assert len(mul) == 810 - 200
    for line in lines[:500]:
        q, ans = line[:-1].split("=")
        a, op, b = (q.partition("+") if "+" in q else q.partition("*"))
        assert int(ans) == (int(a) + int(b) if op == "+" else int(a) * int(b))
        assert set(line) <= set(VOCAB)


def test_same_seed_same_items_and_stream():
    s1 = ArithmeticSuite.build(["add_2d", "mul_2x2"], n_test=30, seed=7)
    s2 = ArithmeticSuite.build(["add_2d", "mul_2x2"], n_test=30, seed=7)
    s3 = ArithmeticSuite.build(["add_2d", "mul_2x2"], n_test=30, seed=8)
    assert s1.test == s2.test
    assert s1.test != s3.test
    assert s1.training_text(50, seed=2) == s2.training_text(50, seed=np.random.default_rng(2))
    assert s1.training_text(50, seed=2) != s1.training_text(50, seed=3)


def test_bad_input_messages():
    with pytest.raises(ValueError, match="unknown task"):
        ArithmeticSuite.build(["add_9d"], n_test=5, seed=0)
    with pytest.raises(ValueError, match="mul_2x1.*810"):
        ArithmeticSuite.build(["mul_2x1"], n_test=500, seed=0)
    with pytest.raises(ValueError, match="mc_task"):
        ArithmeticSuite.build(["add_2d"], n_test=5, seed=0, mc_task="add_3d")


def test_task_files(tmp_path):
    yaml = pytest.importorskip("yaml")
    suite = ArithmeticSuite.build(["add_2d", "add_4d"], n_test=12, seed=0, mc_task="add_4d")
    names = write_task_files(suite, tmp_path)
    assert names == ["add_2d", "add_4d", "add_2d" + LL_SUFFIX, "add_4d" + LL_SUFFIX,
                     "add_4d" + MC_SUFFIX]
    for n in names:
        cfg = yaml.safe_load((tmp_path / "tasks" / f"{n}.yaml").read_text())
        assert cfg["task"] == n
        data = cfg["dataset_kwargs"]["data_files"]["test"]
        docs = [json.loads(x) for x in open(data)]
        assert len(docs) == 12
        assert cfg["target_delimiter"] == ""
    gen = yaml.safe_load((tmp_path / "tasks" / "add_4d.yaml").read_text())
    assert gen["output_type"] == "generate_until"
    # the generation budget covers the longest answer
    assert gen["generation_kwargs"]["max_gen_toks"] >= TASKS["add_4d"].answer_lengths[1]
    ll = yaml.safe_load((tmp_path / "tasks" / "add_4d_ll.yaml").read_text())
    assert ll["output_type"] == "loglikelihood"
    mc = yaml.safe_load((tmp_path / "tasks" / "add_4d_mc.yaml").read_text())
    assert mc["output_type"] == "multiple_choice" and mc["doc_to_choice"] == "choices"
