"""Compact the per-item harness logs of a finished ``emergence lab run`` into benchmarks_data/lab/.

Usage::

    emergence lab run --preset paper --out lab-paper --seed 0
    python scripts/build_lab_data.py --run lab-paper --dest benchmarks_data/lab

Writes ``records.csv.gz``, ``checkpoints.csv``, ``harness.csv``, ``PROVENANCE.json`` (command,
seed, preset, versions, run time, date, sha256 of every file) and ``README.md``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import time
from pathlib import Path

from emergence._validation import sha256_file
from emergence.lab.bundled import BUNDLE_FILES, compact_run
from emergence.lab.tasks import VOCAB


def _write_csv_gz(df, path: Path) -> None:
    # fixed gzip mtime so identical data gives identical bytes
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                  compresslevel=9) as gz:
        gz.write(buf.getvalue().encode("utf-8"))


README = """# Lab dataset: a GPT-2 family trained on arithmetic, evaluated with lm-evaluation-harness

Real harness output, compacted. Produced by

    {command}

on {date} ({machine}); the run took {minutes:.1f} minutes (training {train_min:.1f}, harness
evaluation {eval_min:.1f}). Seed {seed}.

- Models: {n_sizes} GPT-2 sizes ({sizes}), {params_lo:,}-{params_hi:,} parameters
  ({span:.0f}x), character tokenizer ({vocab} symbols), each trained on {tokens:,} tokens of
  arithmetic lines (test items excluded), checkpoints at {fractions} of the budget.
- Tasks ({n_test} test items each): {tasks}; generative (`generate_until`, exact match),
  the gold answer's log-likelihood (`<task>_ll`, `loglikelihood`), and a 4-choice variant of
  `{mc}` (`{mc}_mc`, `multiple_choice`).
- Harness: lm-evaluation-harness {lm_eval}, `hf` model on the local checkpoint, `--log_samples`,
  offline (HF_HUB_OFFLINE=1, HF_DATASETS_OFFLINE=1).

Files:

- `records.csv.gz` ({n_records:,} rows): one row per size x checkpoint x task x item, from the
  `samples_<task>_*.jsonl` files: `prediction` (generated text), `target`, `choices` and
  `choice_loglik` (JSON lists, nats), `gold`, `target_loglik` (summed nats), `target_ntokens`,
  `is_greedy`. Generative rows take their log-likelihood from the `_ll` task at load time.
- `checkpoints.csv`: params, non-embedding params, tokens, FLOPs (6 x params x tokens), loss.
- `harness.csv`: the harness's own aggregate scores per checkpoint and task.

Load with `emergence.lab.load_bundled()` (tidy table, re-scored) or
`load_bundled(records=True)`. Rebuild with
`python scripts/build_lab_data.py --run <lab output folder> --dest benchmarks_data/lab`.
Versions: {versions}.
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="output folder of emergence lab run")
    ap.add_argument("--dest", default="benchmarks_data/lab", help="bundle folder")
    ap.add_argument("--command", default=None,
                    help="command that produced the run (default: read from lab.json)")
    args = ap.parse_args(argv)
    run = Path(args.run)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    meta = json.loads((run / "lab.json").read_text())
    tables = compact_run(run)
    _write_csv_gz(tables["records"], dest / "records.csv.gz")
    tables["checkpoints"].to_csv(dest / "checkpoints.csv", index=False)
    tables["harness"].to_csv(dest / "harness.csv", index=False)
    preset = meta["preset"]
    ck = tables["checkpoints"]
    # a resumed run only re-analyses; report the run that trained and evaluated
    runs = meta.get("runs") or [meta.get("timings", {})]
    timings = max(runs, key=lambda r: float(r.get("total_s", 0) or 0))
    command = args.command or meta.get("command") or (
        f"emergence lab run --preset {preset['name']} --out <dir> --seed {meta['seed']} "
        f"--threads {meta.get('threads', 1)}")
    prov = {
        "name": "lab-gpt2-arithmetic",
        "command": command,
        "seed": meta["seed"],
        "threads": meta.get("threads"),
        "preset": preset,
        "versions": meta["versions"],
        "timings_s": timings,
        "run_date": timings.get("date"),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": meta.get("machine", "2-core CPU, no GPU"),
        "files": {},
    }
    for name in BUNDLE_FILES:
        p = dest / name
        prov["files"][name] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    (dest / "PROVENANCE.json").write_text(json.dumps(prov, indent=2) + "\n")
    final = ck.sort_values("params").drop_duplicates("model", keep="last")
    total = float(timings.get("total_s", 0) or 0)
    readme = README.format(
        command=command, date=prov["run_date"] or prov["built"], machine=prov["machine"],
        minutes=total / 60, train_min=float(timings.get("train_s", 0)) / 60,
        eval_min=float(timings.get("eval_s", 0)) / 60, seed=meta["seed"],
        n_sizes=len(preset["sizes"]), sizes=", ".join(s[0] for s in preset["sizes"]),
        params_lo=int(final["params"].min()), params_hi=int(final["params"].max()),
        span=final["params"].max() / final["params"].min(), vocab=len(VOCAB),
        tokens=int(preset["tokens"]),
        fractions=", ".join(f"{f:g}" for f in preset["checkpoints"]),
        n_test=preset["n_test"], tasks=", ".join(preset["tasks"]), mc=preset["mc_task"],
        lm_eval=meta["versions"].get("lm_eval"), n_records=len(tables["records"]),
        versions=", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    )
    (dest / "README.md").write_text(readme)
    size = sum((dest / n).stat().st_size for n in BUNDLE_FILES)
    print(f"wrote {dest} ({size / 1e6:.2f} MB, {len(tables['records'])} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
