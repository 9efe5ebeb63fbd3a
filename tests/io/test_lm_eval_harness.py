"""The v0.4 aggregate reader on real lm-evaluation-harness 0.4.13 output (tiny local models)."""

import pytest
from harness_fixture import harness_run, requires_lab  # noqa: F401

from emergence.ingest import read
from emergence.io import detect
from emergence.io.lm_eval import read_lm_eval

pytestmark = [pytest.mark.lab, requires_lab]


def test_results_files_read(harness_run):  # noqa: F811
    files = sorted(harness_run.output_path.rglob("results_*.json"))
    assert len(files) == len(harness_run.runs) == 4
    assert all(detect(f) == "lm-eval-aggregate" for f in files)
    df = read_lm_eval(files)
    assert set(df["model"]) == set(harness_run.params)
    for name, n in harness_run.params.items():
        # model_num_parameters as the harness counted it (embeddings included)
        assert set(df.loc[df.model == name, "params"]) == {float(n)}
    # checkpoints in one folder are told apart by the revision in config.model_args
    small = df[df.model == "tiny-s"]
    assert sorted(small["step"].unique().tolist()) == [1, 2]
    assert set(small["revision"]) == {"step1", "step2"}
    assert (df["n_items"] == 24).all()
    # generate_until tasks keep their filter in the metric name
    assert any("," in m for m in df["metric"].unique())


def test_read_dispatches_results_folder(harness_run):  # noqa: F811
    files = sorted(harness_run.output_path.rglob("results_*.json"))
    df = read(files)
    assert len(df) == len(read_lm_eval(files))


def test_read_whole_output_folder_rescores_samples(harness_run):  # noqa: F811
    from emergence.curves import extract_curves

    df = read(harness_run.output_path)
    per_item = df[df["item"].notna()]
    base = set(per_item["metric"].str.split(",").str[0])
    assert base >= {"exact_match", "token_edit_distance", "target_loglik", "brier_score"}
    cs = extract_curves(df, x="params", step="final", min_scales=3)
    ted = [c for c in cs.curves if c.metric.startswith("token_edit_distance")]
    assert ted and all(c.items is not None and c.n_scales == 3 for c in ted)
