"""The demo: the report on the bundled real data, with no network and no arguments.

Examples
--------
>>> from emergence.demo import demo_sections
>>> [s.title for s in demo_sections()][:2]
['Pythia across size (zero-shot, final checkpoint)', 'Pythia across size (five-shot, final checkpoint)']
"""

from __future__ import annotations

from pathlib import Path

from . import datasets
from ._random import SeedLike
from .analysis import DEFAULT_N_BOOT, DEFAULT_SEED, analyze
from .report import Report, ReportSection, render_report

__all__ = ["demo_sections", "run_demo", "PYTHIA_TASKS", "EMERGENT_TASKS", "LAB_TASKS",
           "LAB_METRICS"]

#: Pythia tasks shown in the demo (the MMLU and CrowS-Pairs subtasks are in the dataset too).
PYTHIA_TASKS = ["lambada_openai", "arc_easy", "arc_challenge", "piqa", "sciq", "winogrande",
                "wsc", "logiqa"]
#: Model-lab tasks and metrics shown in the demo.
LAB_TASKS = ["add_2d", "add_3d", "add_4d", "mul_2x1", "mul_2x2", "add_3d_mc"]
LAB_METRICS = ["exact_match", "token_edit_distance", "target_loglik", "multiple_choice_grade",
               "brier_score"]
#: BIG-bench tasks the Observational Scaling Laws paper re-evaluated.
EMERGENT_TASKS = ["arithmetic_2da", "arithmetic_2dm", "arithmetic_3da", "arithmetic_3ds",
                  "ipa_transliterate", "word_unscrambling", "parsinlu_qa"]


def demo_sections(*, quick: bool = False) -> list[ReportSection]:
    """The report sections of the demo (``quick`` keeps one task per section)."""
    pythia = datasets.load("pythia-v1")
    emergent = datasets.load("obsscaling-emergent")
    base = datasets.load("obsscaling-base")
    lab = datasets.load("lab-gpt2")
    ptasks = ["lambada_openai", "arc_easy"] if quick else PYTHIA_TASKS
    etasks = ["ipa_transliterate", "arithmetic_3ds"] if quick else EMERGENT_TASKS
    return [
        ReportSection(
            "Pythia across size (zero-shot, final checkpoint)",
            pythia[pythia["shots"] == 0], x="params", tasks=ptasks,
            description="Eight Pythia models (70M to 12B parameters) after 143,000 steps (about "
            "300B tokens). LAMBADA shows the discontinuous accuracy beside the continuous "
            "perplexity of the same predictions.",
        ),
        ReportSection(
            "Pythia across size (five-shot, final checkpoint)",
            pythia[pythia["shots"] == 5], x="params", tasks=ptasks,
            description="The same models with five in-context examples.",
        ),
        ReportSection(
            "Pythia across training (zero-shot)",
            pythia[pythia["shots"] == 0], x="tokens", along="step",
            models=["pythia-410m", "pythia-12b"], tasks=ptasks[:4] if not quick else ptasks[:1],
            description="Checkpoints from step 1 to 143,000 of two sizes; x is tokens seen "
            "(step x 2,097,152). Step 0 (no tokens) cannot sit on a log axis and is reported "
            "as excluded.",
        ),
        ReportSection(
            "BIG-bench 'emergent' tasks across training compute (Observational Scaling Laws)",
            emergent, x="flops", tasks=etasks, min_scales=5,
            description="Tasks Wei et al. (2022) called emergent, re-evaluated 2-shot by Ruan "
            "et al. (2024), per model family with at least five models of known FLOPs. IPA "
            "transliteration has exact match beside BLEU for the same outputs.",
        ),
        ReportSection(
            "Model lab: GPT-2 family on arithmetic, per item (lm-evaluation-harness logs)",
            lab, x="params", tasks=LAB_TASKS[:2] if quick else LAB_TASKS, metrics=LAB_METRICS,
            runs="mean",  # the lab trains several seeds per size: averaged, spread shown
            description="Six GPT-2 sizes (4k to 340k parameters), each trained three times "
            "(training seeds 0, 1, 2: different initialisation and data order, the same 3M-token "
            "budget) and evaluated per item through lm-evaluation-harness 0.4.13 (bundled logs "
            "of `emergence lab run --preset paper`). Each point is the mean of the three runs "
            "(bold), each run is a faint line: the spread between them is run-to-run variance "
            "that item-level intervals do not show. The same generations under exact match, "
            "token edit distance and the log-likelihood of the answer.",
        ),
        ReportSection(
            "Scaling laws: Pythia LAMBADA perplexity across size and training", pythia,
            kind="scaling",
            description="LAMBADA perplexity as a loss-like quantity: a Chinchilla fit over sizes "
            "and checkpoints, the compute-optimal frontier, and whether the accuracy of the "
            "largest models was predictable from the smaller ones.",
        ),
        ReportSection(
            "Scaling laws: Observational Scaling Laws base models across FLOPs", base,
            kind="scaling",
            description="Backtests on 148 base models: fit below 1e22 training FLOPs, forecast "
            "above, with prediction intervals; placement against the compute-optimal frontier "
            "(active parameters for mixture-of-experts models).",
        ),
    ]


def run_demo(
    out_dir: str | Path = "emergence-report",
    *,
    seed: SeedLike = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
    verdicts: bool = True,
    quick: bool = False,
    interval: str = "wilson",
    progress: bool = True,
    jobs: int = 1,
) -> Report:
    """Write the demo report on the bundled data to ``out_dir``; returns the :class:`Report`.

    ``seed`` and ``n_boot`` reach every test, verdict and scaling fit of the report; ``jobs``
    processes draw its task figures (:func:`emergence.report.render_report`).
    """
    sections = demo_sections(quick=quick)
    if not verdicts:
        sections = [ReportSection(**{**s.__dict__, "verdicts": False}) for s in sections]
    an = analyze(sections, seed=seed, n_boot=n_boot, interval=interval, progress=progress)
    return render_report(an, out_dir=out_dir, title="emergence demo: published scaling data",
                         progress=progress, jobs=jobs)
