import json

import pandas as pd
import pytest

from emergence import EmergenceError, datasets


def test_names_and_info():
    info = datasets.info()
    assert info["name"].tolist() == ["pythia-v1", "obsscaling-base", "obsscaling-emergent",
                                     "lab-gpt2"]
    assert info.set_index("name")["rows"].to_dict() == {
        "pythia-v1": 52512, "obsscaling-base": 1184, "obsscaling-emergent": 672,
        "lab-gpt2": "per-item"}


def test_lab_dataset_is_per_item():
    df = datasets.load("lab-gpt2")
    assert df["item"].notna().all()
    assert df["model"].nunique() == 7 and df["step"].nunique() == 6
    assert df["params"].min() == 4080


@pytest.mark.parametrize("name", ["pythia-v1", "obsscaling-base", "obsscaling-emergent"])
def test_bundled_copy_equals_rebuild_from_published(published, name):
    bundled = datasets.load(name)
    rebuilt = datasets.build(name, published)
    pd.testing.assert_frame_equal(
        bundled.reset_index(drop=True), rebuilt.reset_index(drop=True), check_dtype=False,
        rtol=1e-9)


def test_provenance_checksums_match_published(published):
    prov = json.loads((datasets.data_dir() / "PROVENANCE.json").read_text())
    import hashlib

    for src in prov["sources"].values():
        assert src["license"] == "Apache-2.0"
        assert len(src["commit"]) == 40
        for rel, digest in src["sha256"].items():
            assert hashlib.sha256((published / rel).read_bytes()).hexdigest() == digest, rel
    assert len(prov["sources"]["pythia-v1"]["sha256"]) == 336


def test_moe_models_have_active_params():
    df = datasets.load("obsscaling-base")
    mix = df[df.model == "mistralai/Mixtral-8x7B-v0.1"].iloc[0]
    assert mix["params"] == 46.7e9 and mix["active_params"] == 12.9e9
    dense = df[df.model == "meta-llama/Llama-2-7b-hf"].iloc[0]
    assert dense["active_params"] == dense["params"] == 7e9


def test_unknown_dataset():
    with pytest.raises(EmergenceError, match="unknown dataset 'nope'; available: pythia-v1"):
        datasets.load("nope")


def test_inferred_item_counts():
    df = datasets.load("obsscaling-emergent")
    n = df.groupby(["task", "metric"])["n_items"].first()
    assert n[("arithmetic_3ds", "acc")] == 2000
    assert n[("parsinlu_qa", "acc")] == 1050
    assert pd.isna(n[("ipa_transliterate", "bleu")])


def test_btlm_metadata_corrected_with_note():
    # BTLM is in the base table only (the emergent table has no row for it)
    assert "cerebras/btlm-3b-8k-base" not in set(datasets.load("obsscaling-emergent")["model"])
    for name in ("obsscaling-base",):
        df = datasets.load(name)
        r = df[df.model == "cerebras/btlm-3b-8k-base"].iloc[0]
        assert r["tokens"] == 627e9 and r["flops"] == pytest.approx(1.1286e22)
        assert "627B tokens" in r["note"]


def test_build_script_reproduces_bundled_files(published, tmp_path):
    import subprocess
    import sys

    from emergence.datasets import data_dir

    script = data_dir().parent / "scripts" / "build_benchmarks_data.py"
    if not script.exists():
        pytest.skip("build script not in this installation")
    subprocess.run([sys.executable, str(script), "--root", str(published), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    new = json.loads((tmp_path / "PROVENANCE.json").read_text())["outputs"]
    old = json.loads((data_dir() / "PROVENANCE.json").read_text())["outputs"]
    assert {k: v["sha256"] for k, v in new.items()} == {k: v["sha256"] for k, v in old.items()}
