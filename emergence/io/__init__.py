"""Readers: files -> per-item records or tidy scores. No scoring happens here.

Every format is one :class:`~emergence.io.registry.Reader` in :data:`~emergence.io.registry.READERS`
(:mod:`emergence.io.registry`): a cheap ``detect`` on the start of the file and a ``load``.
:func:`read` detects each file's format by its content, not only its name, walks folders once and
returns a :class:`~emergence.io.registry.Loaded` with the tidy scores and the per-item records
apart. Scoring the records is :func:`emergence.scoring.rescore`; :func:`emergence.read` does both
and returns one table.

Formats (reader name -> module):

* ``lm-eval-aggregate``: lm-evaluation-harness results (v0.3 and v0.4 JSON) -> :func:`read_lm_eval`;
* ``table``: CSV/TSV tables (tidy long, or wide with one column per benchmark) -> :func:`read_table`;
* ``lm-eval-samples``: lm-evaluation-harness per-sample logs (``samples_<task>_<ts>.jsonl`` of
  v0.4.3+, the JSON arrays of v0.4.0-0.4.2, ``*_write_out_info.json`` of v0.3) ->
  :func:`read_samples` (records);
* ``bigbench``: BIG-bench ``full-log_*.json`` -> :func:`read_bigbench` (records);
* ``helm``: HELM run folders -> :func:`read_helm` (records);
* ``inspect``: Inspect ``.eval`` logs (needs ``inspect_ai``) -> :func:`read_inspect` (records);
* ``lighteval``: lighteval ``details_*.parquet`` -> :func:`read_lighteval` (records), and
  ``lighteval-results``: its ``results_<date>.json`` -> :func:`~emergence.io.lighteval.lighteval_scores`;
* ``eee``: Every Eval Ever aggregate JSON and instance JSONL -> :func:`read_eee`;
* ``records``: plain per-item CSV/JSONL -> :func:`read_records` (records).

Scale facts the files do not give (or give wrongly) are declared with ``params=`` and
``tokens=`` (CLI: ``--params``, ``--tokens``) and apply to every format the same way.
Anything else raises :class:`~emergence.FormatError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

from ._scale import apply_scale
from .bigbench import read_bigbench
from .eee import read_eee, write_eee
from .helm import read_helm
from .inspect_evals import read_inspect
from .lighteval import read_lighteval
from .lm_eval import read_lm_eval
from .records import read_records
from .registry import READERS, Loaded, Reader, detect_name, read, reader_for
from .samples import read_samples
from .tables import read_table

__all__ = [
    "read",
    "detect",
    "Reader",
    "READERS",
    "Loaded",
    "reader_for",
    "read_lm_eval",
    "read_table",
    "read_samples",
    "read_bigbench",
    "read_helm",
    "read_inspect",
    "read_lighteval",
    "read_eee",
    "write_eee",
    "apply_scale",
    "read_records",
]


def detect(path: str | Path) -> str:
    """Name the format of ``path``: the name of its reader in
    :data:`~emergence.io.registry.READERS` (``"lm-eval-aggregate"``, ``"table"``,
    ``"lm-eval-samples"``, ``"bigbench"``, ``"helm"``, ``"inspect"``, ``"lighteval"``,
    ``"lighteval-results"``, ``"eee"`` or ``"records"``).

    Raises
    ------
    FormatError
        The content is none of the formats read (the message names the file and the formats).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "results.json"
    >>> _ = p.write_text(json.dumps({"results": {"piqa": {"acc": 0.6}}, "config": {}}))
    >>> detect(p)
    'lm-eval-aggregate'
    """
    return detect_name(path)
