"""Model lab: train a small GPT-2 family on arithmetic, evaluate it with lm-evaluation-harness.

Training and evaluation need the ``lab`` extra (torch, transformers, tokenizers, lm-eval); this
package imports them only when a model is trained or evaluated, so :func:`load_bundled` and the
task generator work without them.
"""

from __future__ import annotations

from .bundled import load_bundled
from .run import PRESETS, LabResult, Preset, analyze_records, analyze_table, run_lab
from .tasks import TASKS, ArithmeticSuite, write_task_files
from .variance import run_variance

__all__ = [
    "PRESETS",
    "Preset",
    "LabResult",
    "run_lab",
    "analyze_records",
    "analyze_table",
    "run_variance",
    "load_bundled",
    "TASKS",
    "ArithmeticSuite",
    "write_task_files",
]
