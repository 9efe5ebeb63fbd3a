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
    assert df["model"].nunique() == 6 and df["step"].nunique() == 6
    assert df["run"].nunique() == 3
    assert df["params"].min() == 4080


def _subset_manifest(root):
    """path -> (original sha256, committed sha256) from the subset's PROVENANCE.md table."""
    rows = {}
    for line in (root / "PROVENANCE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and len(cells[1]) == 64 and len(cells[2]) == 64:
            rows[cells[0]] = (cells[1], cells[2])
    return rows


@pytest.mark.parametrize("name", ["obsscaling-base", "obsscaling-emergent"])
def test_bundled_copy_equals_rebuild_from_published(published_subset, name):
    # the obsscaling tables are committed whole: the rebuild is the whole bundled table
    bundled = datasets.load(name).drop(columns="chance")  # declared on load (chance.csv)
    rebuilt = datasets.build(name, published_subset)
    pd.testing.assert_frame_equal(
        bundled.reset_index(drop=True), rebuilt.reset_index(drop=True), check_dtype=False,
        rtol=1e-9)


def test_bundled_pythia_equals_rebuild_on_kept_tasks(published_subset):
    # every one of the 336 files is committed, cut to ten tasks: those tasks' rows (values,
    # stderrs, scales and the item counts harmonised over all files) equal the bundled rows
    bundled = datasets.load("pythia-v1").drop(columns="chance")  # declared on load
    rebuilt = datasets.build("pythia-v1", published_subset)
    kept = set(rebuilt["task"])
    assert len(kept) == 10 and "lambada_openai" in kept
    assert set(rebuilt["source"]) == set(bundled["source"])
    assert len(rebuilt) == 5808
    pd.testing.assert_frame_equal(
        bundled[bundled["task"].isin(kept)].reset_index(drop=True),
        rebuilt.reset_index(drop=True), check_dtype=False, rtol=1e-9)


def test_provenance_checksums_match_published(published_subset):
    prov = json.loads((datasets.data_dir() / "PROVENANCE.json").read_text())
    import hashlib

    manifest = _subset_manifest(published_subset)
    bundled_sources = {}
    for src in prov["sources"].values():
        assert src["license"] == "Apache-2.0"
        assert len(src["commit"]) == 40
        bundled_sources.update(src["sha256"])
    assert len(prov["sources"]["pythia-v1"]["sha256"]) == 336
    # the subset was cut from the same file versions the bundled tables were built from
    assert {k: v[0] for k, v in manifest.items()} == bundled_sources
    on_disk = {p.relative_to(published_subset).as_posix()
               for p in published_subset.rglob("*") if p.suffix in (".json", ".csv")}
    assert on_disk == set(manifest)
    for rel, (original, committed) in manifest.items():
        assert hashlib.sha256((published_subset / rel).read_bytes()).hexdigest() == committed, rel
        if rel.startswith("obsscaling/"):
            assert committed == original, rel  # copied unchanged
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


def test_build_script_reproduces_bundled_files(published_subset, tmp_path):
    import subprocess
    import sys

    from emergence.datasets import data_dir

    script = data_dir().parent / "scripts" / "build_benchmarks_data.py"
    if not script.exists():
        pytest.skip("build script not in this installation")
    subprocess.run([sys.executable, str(script), "--root", str(published_subset),
                    "--out", str(tmp_path)], check=True, capture_output=True)
    new = json.loads((tmp_path / "PROVENANCE.json").read_text())["outputs"]
    old = json.loads((data_dir() / "PROVENANCE.json").read_text())["outputs"]
    # obsscaling sources are whole: the script writes the bundled files byte for byte
    for fname in ("obsscaling-base.csv.gz", "obsscaling-emergent.csv.gz"):
        assert new[fname]["sha256"] == old[fname]["sha256"], fname
    # Pythia sources are cut to ten tasks: the file written holds the bundled rows of those tasks
    written = pd.read_csv(tmp_path / "pythia-v1.csv.gz")
    bundled = pd.read_csv(data_dir() / "pythia-v1.csv.gz")
    assert new["pythia-v1.csv.gz"]["rows"] == len(written) == 5808
    pd.testing.assert_frame_equal(
        bundled[bundled["task"].isin(set(written["task"]))].reset_index(drop=True), written)
