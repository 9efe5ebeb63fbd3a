"""Arithmetic tasks of the model lab: generated items, train/test split, lm-eval task files.

Every item is ``"<a><op><b>="`` followed by the answer and a newline, written character by
character (the lab's tokenizer is character-level, so a target of ``L`` characters is ``L``
tokens). Tasks differ in operation and operand lengths, so their answers have different lengths:
the setting of Schaeffer et al. (2023), where the target length ``L`` changes how sharp exact
match looks. Test items are drawn without replacement and never occur in the training stream.

This module needs neither torch nor lm-eval.

Examples
--------
>>> from emergence.lab.tasks import ArithmeticSuite
>>> suite = ArithmeticSuite.build(["add_2d", "mul_2x1"], n_test=5, seed=0)
>>> doc = suite.test["add_2d"][0]
>>> doc["prompt"].endswith("="), doc["answer"] == str(doc["a"] + doc["b"])
(True, True)
>>> batch = suite.training_text(4, seed=1)
>>> len(batch), all(s.endswith("\\n") for s in batch)
(4, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._validation import check_rng

__all__ = [
    "TaskSpec",
    "TASKS",
    "MC_SUFFIX",
    "LL_SUFFIX",
    "ArithmeticSuite",
    "VOCAB",
    "write_task_files",
]

#: Character vocabulary of the lab (special tokens first).
VOCAB: tuple[str, ...] = (
    "<|endoftext|>",
    "<unk>",
    *"0123456789",
    "+",
    "*",
    "=",
    "\n",
)

#: Suffix of the loglikelihood (gold answer) companion task.
LL_SUFFIX = "_ll"
#: Suffix of the multiple-choice variant.
MC_SUFFIX = "_mc"


@dataclass(frozen=True)
class TaskSpec:
    """One arithmetic task: ``a op b`` with ``a`` of ``digits_a`` and ``b`` of ``digits_b`` digits.

    Attributes
    ----------
    name : str
    op : {"+", "*"}
    digits_a, digits_b : int
        Operand lengths; operands are uniform over all numbers with exactly that many digits.
    """

    name: str
    op: str
    digits_a: int
    digits_b: int

    @property
    def n_pairs(self) -> int:
        """Number of distinct (a, b) pairs."""
        return (9 * 10 ** (self.digits_a - 1)) * (9 * 10 ** (self.digits_b - 1))

    @property
    def answer_lengths(self) -> tuple[int, int]:
        """Shortest and longest answer (characters = tokens)."""
        lo_a, hi_a = 10 ** (self.digits_a - 1), 10**self.digits_a - 1
        lo_b, hi_b = 10 ** (self.digits_b - 1), 10**self.digits_b - 1
        f = (lambda x, y: x + y) if self.op == "+" else (lambda x, y: x * y)
        return len(str(f(lo_a, lo_b))), len(str(f(hi_a, hi_b)))

    def answers(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Vectorised answers."""
        return a + b if self.op == "+" else a * b


#: The tasks the lab knows. Answers range from 2 to 5 characters.
TASKS: dict[str, TaskSpec] = {
    "add_2d": TaskSpec("add_2d", "+", 2, 2),
    "add_3d": TaskSpec("add_3d", "+", 3, 3),
    "add_4d": TaskSpec("add_4d", "+", 4, 4),
    "mul_2x1": TaskSpec("mul_2x1", "*", 2, 1),
    "mul_2x2": TaskSpec("mul_2x2", "*", 2, 2),
}


def _sample_pairs(spec: TaskSpec, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    lo_a, lo_b = 10 ** (spec.digits_a - 1), 10 ** (spec.digits_b - 1)
    a = rng.integers(lo_a, 10 * lo_a, size=n)
    b = rng.integers(lo_b, 10 * lo_b, size=n)
    return a, b


def _pair_code(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.int64) * 100_000 + b.astype(np.int64)


def _distractors(answer: int, rng: np.random.Generator) -> list[int]:
    """Three wrong answers near ``answer``, of the same length when possible."""
    width = len(str(answer))
    offsets = np.array([1, -1, 10, -10, 100, -100])
    cand = answer + offsets
    cand = cand[cand >= 0]
    same = cand[np.array([len(str(c)) == width for c in cand])]
    pool = same if same.size >= 3 else cand
    return [int(c) for c in rng.choice(pool, size=3, replace=False)]


@dataclass(frozen=True)
class ArithmeticSuite:
    """Test items per task and the pairs the training stream must avoid.

    Build with :meth:`ArithmeticSuite.build`.

    Attributes
    ----------
    tasks : tuple of str
        Task names (keys of :data:`TASKS`).
    test : dict of str to list of dict
        Test documents per task: ``prompt``, ``answer``, ``a``, ``b``, ``op``, ``L`` (answer
        length in tokens), ``id``. The multiple-choice variant (``<task>_mc``) adds ``choices``
        and ``label``.
    mc_task : str or None
        Task whose items also get a multiple-choice variant.
    seed : int
    """

    tasks: tuple[str, ...]
    test: dict[str, list[dict]]
    mc_task: str | None
    seed: int
    _excluded: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    @classmethod
    def build(
        cls,
        tasks: list[str] | tuple[str, ...],
        *,
        n_test: int,
        seed: int,
        mc_task: str | None = None,
    ) -> ArithmeticSuite:
        """Draw ``n_test`` distinct test items per task.

        Parameters
        ----------
        tasks : list of str
            Names in :data:`TASKS`.
        n_test : int
            Test items per task (at most a quarter of the task's distinct pairs).
        seed : int
            Seed of the test draw (the training stream takes its own seed).
        mc_task : str, optional
            One of ``tasks`` whose test items also get a 4-choice multiple-choice variant.

        Returns
        -------
        ArithmeticSuite
        """
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; choose from {sorted(TASKS)}.")
        if mc_task is not None and mc_task not in tasks:
            raise ValueError(f"`mc_task` {mc_task!r} must be one of the tasks {list(tasks)}.")
        if n_test < 1:
            raise ValueError(f"`n_test` must be a positive integer; got {n_test!r}.")
        seeds = np.random.SeedSequence(seed).spawn(len(tasks) + 1)
        test: dict[str, list[dict]] = {}
        excluded: dict[str, np.ndarray] = {}
        for name, ss in zip(tasks, seeds[:-1], strict=True):
            spec = TASKS[name]
            if n_test > spec.n_pairs // 4:
                raise ValueError(
                    f"`n_test`={n_test} is too large for task {name!r} with {spec.n_pairs} "
                    f"distinct items; use at most {spec.n_pairs // 4} so most items stay "
                    "available for training."
                )
            rng = np.random.default_rng(ss)
            codes: list[int] = []
            seen: set[int] = set()
            while len(codes) < n_test:
                a, b = _sample_pairs(spec, 2 * n_test, rng)
                for c in _pair_code(a, b).tolist():
                    if c not in seen:
                        seen.add(c)
                        codes.append(c)
                        if len(codes) == n_test:
                            break
            arr = np.array(codes, dtype=np.int64)
            a_arr, b_arr = arr // 100_000, arr % 100_000
            ans = spec.answers(a_arr, b_arr)
            docs = []
            for i, (a, b, c) in enumerate(zip(a_arr.tolist(), b_arr.tolist(), ans.tolist(),
                                              strict=True)):
                docs.append({
                    "id": f"{name}-{i:04d}",
                    "prompt": f"{a}{spec.op}{b}=",
                    "answer": str(c),
                    "a": a,
                    "b": b,
                    "op": spec.op,
                    "L": len(str(c)),
                })
            test[name] = docs
            excluded[name] = np.sort(arr)
        if mc_task is not None:
            rng = np.random.default_rng(seeds[-1])
            mc_docs = []
            for doc in test[mc_task]:
                wrong = _distractors(int(doc["answer"]), rng)
                label = int(rng.integers(0, 4))
                choices = [str(w) for w in wrong]
                choices.insert(label, doc["answer"])
                mc_docs.append({**doc, "choices": choices, "label": label})
            test[mc_task + MC_SUFFIX] = mc_docs
        return cls(tuple(tasks), test, mc_task, int(seed), excluded)

    def training_text(self, n: int, seed: int | np.random.Generator | None = None) -> list[str]:
        """``n`` training lines ``"a op b=answer\\n"``, tasks mixed uniformly, test pairs excluded.

        Examples
        --------
        >>> suite = ArithmeticSuite.build(["add_2d"], n_test=10, seed=0)
        >>> test = {d["prompt"] for d in suite.test["add_2d"]}
        >>> lines = suite.training_text(2000, seed=0)
        >>> any(line.split("=")[0] + "=" in test for line in lines)
        False
        """
        rng = check_rng(seed)
        which = rng.integers(0, len(self.tasks), size=n)
        out: list[str | None] = [None] * n
        for k, name in enumerate(self.tasks):
            idx = np.flatnonzero(which == k)
            if idx.size == 0:
                continue
            spec = TASKS[name]
            excl = self._excluded[name]
            a = np.empty(idx.size, dtype=np.int64)
            b = np.empty(idx.size, dtype=np.int64)
            filled = 0
            while filled < idx.size:
                need = idx.size - filled
                ca, cb = _sample_pairs(spec, need + need // 2 + 8, rng)
                code = _pair_code(ca, cb)
                pos = np.searchsorted(excl, code)
                pos = np.minimum(pos, excl.size - 1)
                ok = excl[pos] != code
                ca, cb = ca[ok][:need], cb[ok][:need]
                a[filled:filled + ca.size] = ca
                b[filled:filled + cb.size] = cb
                filled += ca.size
            ans = spec.answers(a, b)
            for j, x, y, c in zip(idx.tolist(), a.tolist(), b.tolist(), ans.tolist(),
                                  strict=True):
                out[j] = f"{x}{spec.op}{y}={c}\n"
        return out  # type: ignore[return-value]

    @property
    def max_chars(self) -> int:
        """Longest training line in characters (the sequence length the models need)."""
        n = 0
        for name in self.tasks:
            spec = TASKS[name]
            n = max(n, spec.digits_a + spec.digits_b + 2 + spec.answer_lengths[1] + 1)
        return n

    def eval_task_names(self) -> list[str]:
        """Names of all harness tasks: generative, loglikelihood companions, multiple choice."""
        names = list(self.tasks) + [t + LL_SUFFIX for t in self.tasks]
        if self.mc_task is not None:
            names.append(self.mc_task + MC_SUFFIX)
        return names


_GEN_YAML = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: prompt
doc_to_target: answer
target_delimiter: ""
generation_kwargs:
  until: ["\\n"]
  do_sample: false
  max_gen_toks: {max_gen}
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

_LL_YAML = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood
doc_to_text: prompt
doc_to_target: answer
target_delimiter: ""
metric_list:
  - metric: perplexity
    aggregation: perplexity
    higher_is_better: false
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

_MC_YAML = """\
task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: prompt
doc_to_choice: choices
doc_to_target: label
target_delimiter: ""
metric_list:
  - metric: acc
  - metric: acc_norm
  - metric: brier_score
metadata:
  version: 1.0
"""


def write_task_files(suite: ArithmeticSuite, directory: str | Path) -> list[str]:
    """Write the test items as JSONL and one lm-eval task YAML per harness task.

    Data files are referenced by absolute path, so the harness can run from any directory.

    Parameters
    ----------
    suite : ArithmeticSuite
    directory : path
        Receives ``data/<task>.jsonl`` and ``tasks/<task>.yaml``.

    Returns
    -------
    list of str
        The harness task names, in evaluation order.

    Examples
    --------
    >>> import tempfile
    >>> suite = ArithmeticSuite.build(["add_2d"], n_test=3, seed=0, mc_task="add_2d")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_task_files(suite, d)
    ['add_2d', 'add_2d_ll', 'add_2d_mc']
    """
    root = Path(directory).resolve()
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    names = []
    for name, docs in suite.test.items():
        path = root / "data" / f"{name}.jsonl"
        text = "".join(json.dumps(d, sort_keys=True) + "\n" for d in docs)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for name in suite.tasks:
        data = (root / "data" / f"{name}.jsonl").as_posix()
        max_gen = TASKS[name].answer_lengths[1] + 2
        files = {
            name: _GEN_YAML.format(task=name, data=data, max_gen=max_gen),
            name + LL_SUFFIX: _LL_YAML.format(task=name + LL_SUFFIX, data=data),
        }
        for task, text in files.items():
            (root / "tasks" / f"{task}.yaml").write_text(text)
    if suite.mc_task is not None:
        task = suite.mc_task + MC_SUFFIX
        data = (root / "data" / f"{task}.jsonl").as_posix()
        (root / "tasks" / f"{task}.yaml").write_text(_MC_YAML.format(task=task, data=data))
    names = suite.eval_task_names()
    return names
