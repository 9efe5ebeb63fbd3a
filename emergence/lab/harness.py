"""Evaluate lab checkpoints with lm-evaluation-harness 0.4.13, offline, with per-sample logs.

Runs ``lm_eval.simple_evaluate`` with the ``hf`` model on a local checkpoint directory and the
lab's local task YAMLs, and saves the results and ``samples_<task>_<date>.jsonl`` files with the
harness's own ``EvaluationTracker`` (exactly what ``lm_eval run --log_samples --output_path``
writes). Output goes to a ``.partial`` directory renamed on completion, so an interrupted
evaluation is redone and a finished one is skipped.

Needs the ``lab`` extra (torch, transformers, lm-eval).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
from pathlib import Path

__all__ = ["evaluate_checkpoint", "harness_output_done", "sample_files"]

# the lab never needs the Hub: everything is local
for _k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_k] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


_MANAGERS: dict[str, object] = {}


def _task_manager(include_path: str):
    """One TaskManager per task folder (indexing is the slow part); built-in tasks excluded."""
    from lm_eval.tasks import TaskManager

    if include_path not in _MANAGERS:
        _MANAGERS[include_path] = TaskManager(include_path=include_path, include_defaults=False)
    return _MANAGERS[include_path]


def harness_output_done(out_dir: str | Path) -> bool:
    """True when ``out_dir`` holds a finished harness run (a ``results_*.json``)."""
    return any(Path(out_dir).glob("*/results_*.json"))


def sample_files(out_dir: str | Path) -> list[Path]:
    """The ``samples_*.jsonl`` files of a finished harness run."""
    return sorted(Path(out_dir).glob("*/samples_*.jsonl"))


def evaluate_checkpoint(
    checkpoint: str | Path,
    task_dir: str | Path,
    tasks: list[str],
    out_dir: str | Path,
    *,
    batch_size: int = 64,
    threads: int = 1,
    bootstrap_iters: int = 1000,
    seed: int = 0,
) -> Path:
    """Run the harness on one checkpoint; skip it when ``out_dir`` already holds its results.

    Parameters
    ----------
    checkpoint : path
        A directory written by ``save_pretrained`` (model and tokenizer).
    task_dir : path
        Directory of the task YAMLs (passed as the harness ``include_path``).
    tasks : list of str
        Harness task names.
    out_dir : path
        The harness ``output_path``; results land in ``out_dir/<sanitised model path>/``.
    batch_size : int, default=64
    threads : int, default=1
        torch CPU threads.
    bootstrap_iters : int, default=1000
        Harness bootstrap iterations for stderr of non-mean aggregations.
    seed : int, default=0
        Harness random, numpy, torch and few-shot seeds.

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> from emergence.lab.tasks import ArithmeticSuite, write_task_files
    >>> suite = ArithmeticSuite.build(["add_2d"], n_test=20, seed=0)
    >>> names = write_task_files(suite, "lab-out")                    # doctest: +SKIP
    >>> evaluate_checkpoint("lab-out/models/L1-W16/step_000032", "lab-out/tasks", names,
    ...                     "lab-out/harness/L1-W16/step_000032")    # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    if harness_output_done(out_dir):
        return out_dir
    import torch

    torch.set_num_threads(threads)
    import lm_eval
    from lm_eval.loggers import EvaluationTracker
    for name in ("lm-eval", "lm_eval", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    partial = out_dir.with_name(out_dir.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    tracker = EvaluationTracker(output_path=str(partial))
    tm = _task_manager(str(Path(task_dir).resolve()))
    # the harness prints bootstrap notices on stdout; keep the CLI output to the summary
    with contextlib.redirect_stdout(io.StringIO()):
        results = _evaluate(lm_eval, checkpoint, tasks, batch_size, tracker, tm,
                            bootstrap_iters, seed)
    if results is None:  # pragma: no cover - only on non-zero ranks
        raise RuntimeError(f"lm-eval returned no results for {checkpoint}.")
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)
    return out_dir


def _evaluate(lm_eval, checkpoint, tasks, batch_size, tracker, tm, bootstrap_iters, seed):
    return lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(Path(checkpoint).resolve()), "dtype": "float32"},
        tasks=list(tasks),
        batch_size=batch_size,
        device="cpu",
        log_samples=True,
        evaluation_tracker=tracker,
        task_manager=tm,
        bootstrap_iters=bootstrap_iters,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
    )
