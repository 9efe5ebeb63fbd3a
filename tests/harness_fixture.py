"""Run lm-evaluation-harness offline on tiny local GPT-2 models and keep what it writes.

The session-scoped fixture :func:`harness_run` builds three randomly initialised GPT-2
configurations of increasing size (plus a second checkpoint of the smallest one, evaluated into the
same output folder under another ``revision``), a byte-level BPE tokenizer trained on the task text
with the ``tokenizers`` library, four local JSONL tasks (``generate_until`` with two filters,
``loglikelihood``, ``multiple_choice`` and ``loglikelihood_rolling``) and runs
``lm_eval.simple_evaluate`` with ``log_samples=True`` through an ``EvaluationTracker``, which
writes exactly the files the ``lm_eval run ... --log_samples --output_path`` command writes.

Test modules import the fixture with ``from harness_fixture import harness_run``. Tests using it
are marked ``lab`` and are skipped when torch, transformers or lm_eval are not importable.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["HarnessRun", "harness_run", "run_harness", "requires_lab", "MODEL_SIZES"]

#: (name, n_embd, n_layer, n_head) of the tiny models, smallest first.
MODEL_SIZES = (("tiny-s", 16, 1, 2), ("tiny-m", 32, 2, 2), ("tiny-l", 64, 2, 4))
N_ITEMS = 24


def _lab_available() -> bool:
    try:
        import lm_eval  # noqa: F401
        import tokenizers  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


requires_lab = pytest.mark.skipif(
    not _lab_available(), reason="needs the [lab] extra (torch, transformers, tokenizers, lm_eval)"
)


@dataclass
class HarnessRun:
    """What one harness session produced."""

    root: Path
    output_path: Path
    models: dict[str, Path]
    params: dict[str, int]
    runs: list[dict] = field(default_factory=list)  # one per (model, revision) evaluation
    docs: list[dict] = field(default_factory=list)

    def model_dirs(self) -> list[Path]:
        """Folders the tracker wrote into (one per model name)."""
        return sorted(p for p in self.output_path.iterdir() if p.is_dir())


def _docs(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        ans = a + b
        distract = sorted({ans + 1, ans - 1, ans + 10} - {ans})[:3]
        choices = [str(c) for c in [ans, *distract]]
        rng.shuffle(choices)
        docs.append(
            {
                "question": f"What is {a} plus {b}?",
                "answer": str(ans),
                "choices": choices,
                "label": choices.index(str(ans)),
            }
        )
    return docs


_TASKS = {
    "toy_add_gen": """
task: toy_add_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}} Answer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n", "."]
  do_sample: false
  max_gen_toks: 6
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "(-?[0-9]+)"
      - function: take_first
  - name: raw
    filter:
      - function: take_first
metric_list:
  - metric: exact_match
    ignore_case: true
metadata:
  version: 1.0
""",
    "toy_add_ll": """
task: toy_add_ll
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood
doc_to_text: "{{{{question}}}} Answer:"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: perplexity
  - metric: acc
metadata:
  version: 1.0
""",
    "toy_text_rolling": """
task: toy_text_rolling
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{question}}}} Answer: {{{{answer}}}}"
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
metadata:
  version: 1.0
""",
    "toy_add_mc": """
task: toy_add_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}} Answer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
  - metric: brier_score
metadata:
  version: 1.0
""",
}


def _write_tasks(root: Path, docs: list[dict]) -> Path:
    data = root / "data" / "add.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    tasks = root / "tasks"
    tasks.mkdir(exist_ok=True)
    for name, text in _TASKS.items():
        (tasks / f"{name}.yaml").write_text(text.format(data=str(data)), encoding="utf-8")
    return tasks


def _train_tokenizer(root: Path, docs: list[dict]):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    corpus = [f"{d['question']} Answer: {d['answer']}\n" for d in docs] * 4
    corpus += [" ".join(str(i) for i in range(30)), "plus minus times Answer What is ?."]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus, vocab_size=300, min_frequency=1,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>",
                                  bos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                  pad_token="<|endoftext|>")
    return tok


def _build_model(tok, n_embd: int, n_layer: int, n_head: int, seed: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=n_embd, n_layer=n_layer,
                     n_head=n_head, bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    return GPT2LMHeadModel(cfg)


def _evaluate(model_dir: Path, revision: str, task_manager, out: Path) -> dict:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={model_dir},revision={revision},dtype=float32",
        tasks=list(_TASKS),
        device="cpu",
        batch_size=8,
        task_manager=task_manager,
        log_samples=True,
        bootstrap_iters=0,
        evaluation_tracker=tracker,
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    return {"model_dir": model_dir, "revision": revision, "date_id": tracker.date_id,
            "results": results}


def run_harness(root: Path) -> HarnessRun:
    """Build models, tokenizer and tasks under ``root`` and run the harness on every model."""
    import time

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HOME", str(root / "hf_home"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from lm_eval.tasks import TaskManager

    docs = _docs(N_ITEMS)
    tasks_dir = _write_tasks(root, docs)
    # only the local task folder is indexed (indexing the built-in tasks takes ~15 s)
    tm = TaskManager(include_path=str(tasks_dir), include_defaults=False)
    tok = _train_tokenizer(root, docs)
    out = root / "out"
    run = HarnessRun(root=root, output_path=out, models={}, params={}, docs=docs)
    for i, (name, n_embd, n_layer, n_head) in enumerate(MODEL_SIZES):
        model_dir = root / "models" / name
        model = _build_model(tok, n_embd, n_layer, n_head, seed=i)
        model.save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
        run.models[name] = model_dir
        run.params[name] = int(sum(p.numel() for p in model.parameters()))
        run.runs.append(_evaluate(model_dir, "step2", tm, out))
        if i == 0:
            # a second checkpoint of the smallest model, evaluated into the same folder
            time.sleep(1.1)  # distinct date_id in the file names
            model_b = _build_model(tok, n_embd, n_layer, n_head, seed=100)
            model_b.save_pretrained(model_dir)
            run.runs.append(_evaluate(model_dir, "step1", tm, out))
            model.save_pretrained(model_dir)  # leave the final checkpoint in place
    return run


_RUNS: dict[str, HarnessRun] = {}


@pytest.fixture(scope="session")
def harness_run(tmp_path_factory) -> HarnessRun:
    """Session-scoped real lm-eval output for the tiny model family (skips without the extra).

    Importing the fixture into several test modules registers it once per module; the
    module-level cache makes the harness run only once per test session anyway.
    """
    if not _lab_available():
        pytest.skip("needs the [lab] extra (torch, transformers, tokenizers, lm_eval)")
    if "run" not in _RUNS:
        _RUNS["run"] = run_harness(tmp_path_factory.mktemp("harness"))
    return _RUNS["run"]
