"""Compact a finished ``emergence lab run`` into benchmarks_data/lab/ (re-scored tidy table).

Usage::

    emergence lab run --preset paper --out lab-paper --seed 0 --seeds 4
    python scripts/build_lab_data.py --run lab-paper --dest benchmarks_data/lab

Writes ``scores.csv.gz`` (the tidy per-item table), ``checkpoints.csv``,
``records_final.csv.gz``, ``harness.csv``, ``PROVENANCE.json`` (command, seeds, preset,
versions, run time, date, sha256 of every file) and ``README.md``.
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


def _write_csv_gz(df, path: Path, float_format: str | None = None) -> None:
    # fixed gzip mtime so identical data gives identical bytes
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format=float_format)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                  compresslevel=9) as gz:
        gz.write(buf.getvalue().encode("utf-8"))


README = """# Lab dataset: a GPT-2 family trained on arithmetic, {n_runs} training runs per size

Real lm-evaluation-harness output, re-scored and compacted. Produced by

    {command}

on {date}. Machine: {machine}. The run took {minutes:.1f} minutes of wall time in
{n_sessions} session(s) (training {train_min:.1f}, harness evaluation {eval_min:.1f}, re-scoring,
tests and figures the rest; `sessions` in PROVENANCE.json). Base seed {seed}; training seeds
{train_seeds} (run labels {runs}).

- Models: {n_sizes} GPT-2 sizes ({sizes}), {params_lo:,}-{params_hi:,} parameters
  ({span:.0f}x), character tokenizer ({vocab} symbols). Each size is trained {n_runs} times
  (different initialisation and order of the training stream, same number of steps: about
  {tokens:,} tokens of arithmetic lines, test items excluded); checkpoints at {fractions} of the
  budget.
- Tasks ({n_test} test items each, the same items in every run): {tasks}; generative
  (`generate_until`), the gold answer's log-likelihood (`<task>_ll`, `loglikelihood`), and a
  4-choice variant of `{mc}` (`{mc}_mc`, `multiple_choice`).
- Harness: lm-evaluation-harness {lm_eval}, `hf` model on the local checkpoint, `--log_samples`,
  offline (HF_HUB_OFFLINE=1, HF_DATASETS_OFFLINE=1).

Files:

- `scores.csv.gz` ({n_scores:,} rows): the tidy per-item table, re-scored from the harness's
  `samples_<task>_*.jsonl` with characters as tokens: `run`, `model`, `step`, `task`, `metric`,
  `item`, `value` (6 significant digits), `note`, `n_choices`, `target_tokens`, `answer_len`.
  Metrics: exact match, token edit distance
  and the answer's summed log-likelihood (nats, from the `_ll` task) for the generative tasks;
  multiple-choice grade, Brier score and log-likelihood for `{mc}_mc`.
- `checkpoints.csv`: run, size, step, params, non-embedding params, tokens, FLOPs
  (6 x params x tokens), training loss.
- `records_final.csv.gz` ({n_records:,} rows): the harness's per-item outputs at the final
  checkpoints (generations, choices and their log-likelihoods, the answer's log-likelihood), for
  the Mirage check and re-scoring under other metrics.
- `harness.csv`: the harness's own aggregate scores per run, checkpoint and task.

Load with `emergence.datasets.load("lab-gpt2")` or `emergence.lab.load_bundled()` (reads and
joins; nothing is re-scored), `load_bundled(records=True)` for the final records. Rebuild with
`python scripts/build_lab_data.py --run <lab output folder> --dest benchmarks_data/lab`.
Versions: {versions}.
"""


def session_timings(meta: dict) -> dict:
    """Seconds per phase summed over the sessions of a run (a resumed run has several).

    ``wall_s`` is the wall time of all sessions together, ``sessions`` their number and
    ``ended`` the end of the last one.
    """
    sessions = meta.get("sessions") or [meta.get("timings", {})]
    out: dict = {}
    for s in sessions:
        for k, v in s.items():
            if k.endswith("_s") and isinstance(v, (int, float)):
                out[k] = round(out.get(k, 0.0) + float(v), 1)
    out["sessions"] = len(sessions)
    out["ended"] = sessions[-1].get("ended")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="output folder of emergence lab run")
    ap.add_argument("--dest", default="benchmarks_data/lab", help="bundle folder")
    ap.add_argument("--command", default=None,
                    help="command that produced the run (default: read from lab.json)")
    ap.add_argument("--machine", default=None,
                    help="machine description for the provenance (default: from lab.json or "
                         "'2-core CPU, no GPU')")
    args = ap.parse_args(argv)
    run = Path(args.run)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    meta = json.loads((run / "lab.json").read_text())
    tables = compact_run(run)
    _write_csv_gz(tables["scores"], dest / "scores.csv.gz", float_format="%.6g")
    tables["checkpoints"].to_csv(dest / "checkpoints.csv", index=False)
    _write_csv_gz(tables["records_final"], dest / "records_final.csv.gz")
    tables["harness"].to_csv(dest / "harness.csv", index=False)
    for old in ("records.csv.gz",):  # files of earlier bundle layouts
        (dest / old).unlink(missing_ok=True)
    preset = meta["preset"]
    ck = tables["checkpoints"]
    timings = session_timings(meta)
    command = args.command or meta.get("command") or (
        f"emergence lab run --preset {preset['name']} --out <dir> --seed {meta['seed']} "
        f"--seeds {meta.get('seeds', 1)} --threads {meta.get('threads', 1)}")
    prov = {
        "name": "lab-gpt2-arithmetic",
        "command": command,
        "seed": meta["seed"],
        "seeds": meta.get("seeds", 1),
        "train_seeds": meta.get("train_seeds", [meta["seed"]]),
        "runs": sorted(ck["run"].unique().tolist()),
        "threads": meta.get("threads"),
        "preset": preset,
        "versions": meta["versions"],
        "timings_s": timings,
        "sessions": meta.get("sessions", []),
        "run_date": timings.get("ended"),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": args.machine or meta.get("machine", "2-core CPU, no GPU"),
        "scores": "re-scored with emergence.lab.run.score_records (characters as tokens); "
                  "main metrics only (emergence.lab.run.MAIN_METRICS); values to 6 significant "
                  "digits",
        "files": {},
    }
    for name in BUNDLE_FILES:
        p = dest / name
        prov["files"][name] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    (dest / "PROVENANCE.json").write_text(json.dumps(prov, indent=2) + "\n")
    final = ck.sort_values("params").drop_duplicates("model", keep="last")
    total = float(timings.get("wall_s", 0) or 0)
    readme = README.format(
        command=command, date=prov["run_date"] or prov["built"], machine=prov["machine"],
        minutes=total / 60, train_min=float(timings.get("train_s", 0)) / 60,
        eval_min=float(timings.get("eval_s", 0)) / 60, seed=meta["seed"],
        n_sessions=timings["sessions"], n_runs=prov["seeds"],
        train_seeds=", ".join(map(str, prov["train_seeds"])),
        runs=", ".join(prov["runs"]),
        n_sizes=len(preset["sizes"]), sizes=", ".join(s[0] for s in preset["sizes"]),
        params_lo=int(final["params"].min()), params_hi=int(final["params"].max()),
        span=final["params"].max() / final["params"].min(), vocab=len(VOCAB),
        tokens=int(preset["tokens"]),
        fractions=", ".join(f"{f:g}" for f in preset["checkpoints"]),
        n_test=preset["n_test"], tasks=", ".join(preset["tasks"]), mc=preset["mc_task"],
        lm_eval=meta["versions"].get("lm_eval"), n_scores=len(tables["scores"]),
        n_records=len(tables["records_final"]),
        versions=", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    )
    (dest / "README.md").write_text(readme)
    size = sum((dest / n).stat().st_size for n in BUNDLE_FILES)
    print(f"wrote {dest} ({size / 1e6:.2f} MB, {len(tables['scores'])} scores, "
          f"{len(tables['records_final'])} final records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
