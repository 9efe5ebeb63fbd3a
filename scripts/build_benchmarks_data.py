"""Build the compact tidy copies in benchmarks_data/ from the published tables.

Usage::

    python scripts/build_benchmarks_data.py [--root ../shared/data/published] [--out benchmarks_data]

Writes one gzipped CSV per dataset (deterministic: no timestamp in the gzip header) and
PROVENANCE.json with the repository, commit and license of each source, the sha256 of every
source file read, and the sha256, row, model and task counts of every output.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
from pathlib import Path

from emergence._validation import sha256_file
from emergence.datasets import DATASETS, LAB, build

REPO = Path(__file__).resolve().parents[1]

SOURCES = {
    "pythia-v1": {
        "paper": "Biderman et al. (2023), Pythia: A Suite for Analyzing Large Language Models "
        "Across Training and Scaling, ICML 2023, arXiv:2304.01373",
        "repository": "https://github.com/EleutherAI/pythia",
        "commit": "a19eecb807ec2c79a39ebf18108816e6ffffc1d5",
        "folder": "evals/pythia-v1/",
        "license": "Apache-2.0",
        "files": "pythia-v1/**/*.json",
    },
    "obsscaling": {
        "paper": "Ruan, Maddison, Hashimoto (2024), Observational Scaling Laws and the "
        "Predictability of Language Model Performance, NeurIPS 2024, arXiv:2405.10938",
        "repository": "https://github.com/ryoungj/ObsScaling",
        "commit": "4d6e1e43fd2635d04654aa77d1df9d5266ea0382",
        "folder": "eval_results/",
        "license": "Apache-2.0",
        "files": "obsscaling/*.csv",
    },
}

NOTES = {
    "pythia-v1": "params/nonembedding_params from the Pythia paper, Table 1; tokens = step x "
    "2,097,152; n_items recovered from the reported stderr (n = p(1-p)/se^2 + 1).",
    "obsscaling-base": "Model Size (B) x 1e9 -> params, Pretraining Data Size (T) x 1e12 -> "
    "tokens, FLOPs (1E21) x 1e21 -> flops; mixture-of-experts models take total and active "
    "parameters from their model cards (emergence.sizes.MOE_SIZES); BTLM-3B-8K tokens and FLOPs "
    "corrected (source: 627 T tokens, 1000x too large; see emergence.datasets.CORRECTIONS).",
    "obsscaling-emergent": "columns '<task>_<shots>_<metric>'; scales joined from "
    "base_llm_benchmark_eval.csv on Model; missing cells kept as NaN rows with a note; n_items "
    "inferred where every accuracy of a task is a multiple of 1/n (arithmetic and word_unscrambling "
    "2000, parsinlu_qa 1050); the metadata corrections of obsscaling-base apply.",
}


#: Tidy columns added after the first bundled release; left out of a compact copy when they hold no
#: value (``datasets.load`` adds them back as NA), so the bundled files stay byte-identical.
LATER_COLUMNS = ("run", "n_choices", "target_tokens")


def write_gz_csv(df, path: Path) -> None:
    df = df.drop(columns=[c for c in LATER_COLUMNS if c in df.columns and df[c].isna().all()])
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.10g")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue().encode("utf-8"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "published"))
    ap.add_argument("--out", default=str(REPO / "benchmarks_data"))
    args = ap.parse_args()
    root, out = Path(args.root), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prov: dict = {"sources": {}, "outputs": {}}
    for key, src in SOURCES.items():
        files = sorted(root.glob(src["files"]))
        prov["sources"][key] = {
            **{k: v for k, v in src.items() if k != "files"},
            "sha256": {str(f.relative_to(root)): sha256_file(f) for f in files},
        }
    for name, (fname, desc) in DATASETS.items():
        if name == LAB:  # built by scripts/build_lab_data.py from a lab run, not from shared/
            continue
        df = build(name, root)
        path = out / fname
        write_gz_csv(df, path)
        src_key = "pythia-v1" if name.startswith("pythia") else "obsscaling"
        prov["outputs"][fname] = {
            "dataset": name,
            "description": desc,
            "source": f"{SOURCES[src_key]['repository']} @ {SOURCES[src_key]['commit'][:12]} "
            f"({SOURCES[src_key]['license']})",
            "built_by": "python scripts/build_benchmarks_data.py",
            "notes": NOTES[name],
            "rows": int(len(df)),
            "models": int(df["model"].nunique()),
            "tasks": int(df["task"].nunique()),
            "sha256": sha256_file(path),
        }
        print(f"{fname}: {len(df)} rows, {path.stat().st_size / 1e6:.2f} MB")
    (out / "PROVENANCE.json").write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    init = out / "__init__.py"
    if not init.exists():
        init.write_text('"""Bundled data files (see PROVENANCE.json)."""\n', encoding="utf-8")


if __name__ == "__main__":
    main()
