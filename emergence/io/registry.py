"""The reader registry: one :class:`Reader` per file format, one detector, one folder walker.

Every format :mod:`emergence.io` reads is one entry of :data:`READERS`: its name, a cheap
``detect`` that looks at the start of a file (:class:`~emergence.io._files.Head`: name, suffix
and first bytes, read once per file), a ``load`` that reads the files, and what it returns,
``"records"`` (per-item model outputs, scored later by :func:`emergence.scoring.rescore`) or
``"scores"`` (the tidy table of :mod:`emergence.schema`). Nothing is scored here.

:func:`read` walks files and folders once (:func:`~emergence.io._paths.expand_paths`), gives
each file to the first reader that detects it, loads each reader's files together and returns a
:class:`Loaded` (scores and records kept apart). A detector that must parse a whole JSON file to
decide (an lm-eval results file, a JSON array of samples) does so through
:func:`~emergence.io._files.load_json` inside :func:`~emergence.io._files.parse_once`, so the
reader gets the parsed object and no file is parsed twice.

``emergence analyze``, ``emergence rescore`` and ``emergence screen`` all read through
:func:`read` (``analyze`` and ``screen`` through :func:`emergence.ingest.read`, which re-scores the
records), so they accept the same formats.

Examples
--------
>>> [r.name for r in READERS]  # doctest: +NORMALIZE_WHITESPACE
['bigbench', 'helm', 'inspect', 'lighteval', 'lighteval-results', 'eee', 'lm-eval-samples',
 'records', 'table', 'lm-eval-aggregate']
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "recs.csv"
>>> _ = p.write_text("model,task,item,prediction,target\\nm,t,0,4,4\\n")
>>> reader_for(p).name, reader_for(p).returns
('records', 'records')
>>> read(p).records[["model", "item", "prediction"]].to_dict("records")
[{'model': 'm', 'item': '0', 'prediction': '4'}]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import FormatError
from .._validation import how
from ..records import validate_records
from ..registry import MetricFacts
from ..schema import validate
from ._files import Head, parse_once, read_head
from ._paths import expand_paths
from ._scale import apply_scale, check_scale_models
from .bigbench import is_full_log, read_bigbench
from .eee import is_eee_head, read_eee
from .helm import helm_run_files, is_helm_file, read_helm
from .inspect_evals import is_inspect_head, read_inspect
from .lighteval import is_lighteval_details, is_lighteval_results, lighteval_scores, read_lighteval
from .lm_eval import is_lm_eval_results, read_lm_eval
from .records import is_records_file, read_records
from .samples import is_samples_log, read_samples
from .tables import is_table, read_table

__all__ = ["Reader", "READERS", "Loaded", "read", "reader_for", "get_reader", "detect_name",
           "READABLE_SUFFIXES"]

#: Suffixes of the files a folder walk offers to the readers (files named directly are offered
#: whatever their name).
READABLE_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".ndjson", ".eval", ".parquet", ".csv",
                                      ".tsv")


@dataclass(frozen=True)
class Reader:
    """One file format.

    Attributes
    ----------
    name : str
        The format's name (``--format NAME`` on the command line, ``format=`` in Python).
    returns : {"records", "scores"}
        Per-item records (re-scored by :func:`emergence.scoring.rescore`) or the tidy scores
        table.
    description : str
        What the files are, as error messages and the README list them.
    detect : callable
        ``Head -> bool``: the file is in this format, judged from its start (name, suffix, first
        bytes); cheap, never a second full read.
    load : callable
        ``(files, **options) -> DataFrame``: reads the files (a list of paths) with the options
        named in ``options``.
    options : frozenset of str
        Keyword options ``load`` takes (others given to :func:`read` are not passed to it).
    aliases : tuple of str
        Other names accepted for ``name``.
    folder : callable, optional
        ``folder -> files or None``: the files standing for a whole folder of this format (a
        HELM run folder), so a walk does not offer the folder's other files.
    """

    name: str
    returns: str
    description: str
    detect: Callable[[Head], bool]
    load: Callable[..., pd.DataFrame]
    options: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    folder: Callable[[Path], list[Path] | None] | None = None

    def __post_init__(self) -> None:
        if self.returns not in ("records", "scores"):
            raise ValueError(f"Reader {self.name!r}: returns must be 'records' or 'scores'.")

    def names(self) -> tuple[str, ...]:
        """``name`` and its aliases."""
        return (self.name, *self.aliases)


# ------------------------------------------------------------------------------------------
# loads: adapters from a list of files (and the options the reader declares) to the reader


def _load_tables(files: list[Path], **options: Any) -> pd.DataFrame:
    parts = [read_table(f, **options) for f in files]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _load_records(files: list[Path], *, columns: Mapping[str, str] | None = None,
                  task: str | None = None) -> pd.DataFrame:
    # one mapping for every format: our name -> the file's column (read_records takes the
    # file's column -> our name)
    renames = {theirs: ours for ours, theirs in (columns or {}).items()}
    return read_records(files, columns=renames or None, task=task)


def _load_helm(files: list[Path], **options: Any) -> pd.DataFrame:
    runs = list(dict.fromkeys(f.parent for f in files))
    return read_helm(runs, **options)


def _load_lm_eval(files: list[Path], **options: Any) -> pd.DataFrame:
    return read_lm_eval(files, **options)


def _detect_records(head: Head) -> bool:
    return is_records_file(head, dict(head.columns))


def _detect_table(head: Head) -> bool:
    return is_table(head) and not _detect_records(head)


def _detect_lighteval(head: Head) -> bool:
    return head.suffix == ".parquet" and is_lighteval_details(head.path)


_TABLE_OPTIONS = frozenset({"layout", "columns", "value_columns", "column_pattern", "metric",
                            "task", "shots", "family", "sentinels", "percent", "metadata",
                            "metadata_columns", "on", "units", "metric_facts"})

#: Every reader, in the order files are offered to them (name checks first, then content; the
#: detectors are exclusive on the test fixtures: ``tests/io/test_registry.py``).
READERS: tuple[Reader, ...] = (
    Reader("bigbench", "records", "BIG-bench full-log_*.json (--log_queries)", is_full_log,
           read_bigbench, frozenset({"scores"})),
    Reader("helm", "records", "HELM run folders (scenario_state.json, per_instance_stats.json)",
           is_helm_file, _load_helm, frozenset({"model", "task", "trial"}),
           folder=helm_run_files),
    Reader("inspect", "records", "Inspect .eval logs", is_inspect_head, read_inspect,
           frozenset({"family"})),
    Reader("lighteval", "records", "lighteval details_<task>|<shots>_<date>.parquet",
           _detect_lighteval, read_lighteval, frozenset({"model", "family"})),
    Reader("lighteval-results", "scores", "lighteval results_<date>.json",
           is_lighteval_results, lighteval_scores),
    Reader("eee", "scores", "Every Eval Ever aggregate JSON and instance JSONL", is_eee_head,
           read_eee),
    Reader("lm-eval-samples", "records",
           "lm-eval per-sample logs (samples_*.jsonl, *_write_out_info.json, v0.4.0-0.4.2 "
           "arrays)", is_samples_log, read_samples,
           frozenset({"model", "family", "revision", "step", "task", "tasks", "filter",
                      "tokens_per_step", "tokenizer"}), aliases=("lm-eval", "per-item")),
    Reader("records", "records", "per-item records CSV/JSONL (model, item, prediction, target)",
           _detect_records, _load_records, frozenset({"columns", "task"})),
    Reader("table", "scores", "CSV/TSV tables (long or wide)", _detect_table, _load_tables,
           _TABLE_OPTIONS),
    Reader("lm-eval-aggregate", "scores", "lm-evaluation-harness results JSON (v0.3, v0.4)",
           is_lm_eval_results, _load_lm_eval, frozenset({"model", "family", "tokens_per_step"})),
)

_OPTIONS = frozenset().union(*(r.options for r in READERS))


def get_reader(name: str) -> Reader:
    """The reader named ``name`` (or one of its aliases).

    Raises
    ------
    ValueError
        No reader has that name (the message lists them).
    """
    for r in READERS:
        if name in r.names():
            return r
    names = ", ".join(r.name for r in READERS)
    raise ValueError(f"unknown format {name!r}; {how('format=', '--format')} takes one of "
                     f"{names} (or 'auto').")


def _formats(readers: Iterable[Reader]) -> str:
    return "; ".join(r.description for r in readers)


def _head(path: Path, columns: Mapping[str, str] | None) -> Head:
    head = read_head(path)
    if columns:
        head = dataclasses.replace(head, columns=tuple(sorted(columns.items())))
    return head


def reader_for(path: str | Path, *, columns: Mapping[str, str] | None = None,
               readers: Iterable[Reader] = READERS) -> Reader:
    """The reader of ``path``: the first of ``readers`` whose ``detect`` accepts the file.

    Parameters
    ----------
    path : path
        A file.
    columns : mapping, optional
        Declared column mapping (our name -> the file's column); a CSV whose mapped columns
        make it a per-item records table is detected as one.
    readers : iterable of Reader, default=READERS

    Raises
    ------
    FormatError
        No reader detects the file; the message names it and lists the formats read.
    """
    head = _head(Path(path), columns)
    return _reader_of(head, tuple(readers))


def _reader_of(head: Head, readers: tuple[Reader, ...]) -> Reader:
    for r in readers:
        if r.detect(head):
            return r
    p = head.path
    if head.first_char in ("{", "["):
        raise FormatError(
            f"{p}: JSON that is not an lm-evaluation-harness results file (no 'results' "
            "mapping task -> metrics) and not a per-item log this package reads. Readable "
            f"formats: {_formats(readers)}. Convert it to a CSV table with columns model, task, "
            "metric, value."
        )
    if head.suffix == ".parquet":
        raise FormatError(f"{p}: a parquet file not named like lighteval details "
                          "(details_<task>|<shots>_<date>.parquet).")
    raise FormatError(f"{p}: unknown format. Readable formats: {_formats(readers)}.")


def detect_name(path: str | Path) -> str:
    """The name of the format of ``path`` (see :data:`READERS`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
    >>> _ = p.write_text("model,task,metric,value\\na,t,acc,0.5\\n")
    >>> detect_name(p)
    'table'
    """
    with parse_once():
        return reader_for(path).name


@dataclass(frozen=True)
class Loaded:
    """What :func:`read` read: the tidy scores and the per-item records, kept apart.

    Attributes
    ----------
    scores : DataFrame or None
        Tidy table (:mod:`emergence.schema`) of the files in a scores format; None if none.
    records : DataFrame or None
        Per-item records (:mod:`emergence.records`) of the per-item files; None if none.
    files : tuple of (str, str)
        Each file read and the name of its reader.
    skipped : tuple of (str, str)
        Files found in folders and left out, with the reason (e.g. aggregate results next to
        sample logs when only records are wanted).
    """

    scores: pd.DataFrame | None
    records: pd.DataFrame | None
    files: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """One row per file: ``path``, ``reader``, ``read`` (False for skipped) and ``reason``."""
        rows = [{"path": p, "reader": r, "read": True, "reason": ""} for p, r in self.files]
        rows += [{"path": p, "reader": "", "read": False, "reason": why}
                 for p, why in self.skipped]
        return pd.DataFrame(rows, columns=["path", "reader", "read", "reason"])

    def summary(self) -> str:
        """Files per reader, rows read, files left out."""
        counts: dict[str, int] = {}
        for _, r in self.files:
            counts[r] = counts.get(r, 0) + 1
        parts = [f"{n} {r}" for r, n in counts.items()]
        lines = [f"read {len(self.files)} file(s): {', '.join(parts) or 'none'}"]
        if self.scores is not None:
            lines.append(f"  scores: {len(self.scores)} rows")
        if self.records is not None:
            lines.append(f"  records: {len(self.records)} rows")
        if self.skipped:
            lines.append(f"  left out {len(self.skipped)} file(s), e.g. {self.skipped[0][0]} "
                         f"({self.skipped[0][1]})")
        return "\n".join(lines)


def read(
    paths: str | Path | Iterable[str | Path],
    *,
    format: str = "auto",  # noqa: A002 - the CLI flag is --format
    returns: str | None = None,
    progress: bool = False,
    params: float | Mapping[str, float] | None = None,
    tokens: float | Mapping[str, float] | None = None,
    scale_flags: tuple[str, str] = ("params", "tokens"),
    metric_facts: MetricFacts | None = None,
    **options: Any,
) -> Loaded:
    """Read files of any registered format; per-item records and scores come back apart.

    Parameters
    ----------
    paths : path or iterable of paths
        Files or folders (searched recursively; a HELM run folder counts as one run).
    format : str, default="auto"
        ``"auto"`` detects each file's format from its start; a reader name (see
        :data:`READERS`) reads every file with that reader (folders: the files it detects).
    returns : {"records", "scores"}, optional
        Read only per-item records (``emergence rescore``) or only scores. A file named directly
        in the other kind is an error; one found in a folder is left out and listed in
        :attr:`Loaded.skipped`.
    progress : bool, default=False
        Show a progress bar over files.
    params, tokens : float or mapping model -> float, optional
        Declared parameter counts / training tokens, replacing what the files state, for every
        format the same way (:func:`emergence.io.apply_scale`). A mapping naming a model no file
        holds is an error.
    scale_flags : (str, str), default=("params", "tokens")
        How errors name ``params`` and ``tokens`` (the CLI passes its flags).
    metric_facts : mapping, optional
        Declared facts of metrics the built-in table does not know (see
        :mod:`emergence.registry`); score values are checked against the declared range.
    **options
        Reader options, each passed to the readers that take it (:attr:`Reader.options`):
        ``columns`` (our name -> the file's column, tables and records alike), ``metric``,
        ``sentinels``, ``percent``, ``metadata``, ... for tables; ``model``, ``family``,
        ``task``, ``filter``, ``tokens_per_step``, ... for logs.

    Returns
    -------
    Loaded
        ``scores`` (validated tidy table) and ``records`` (validated records), each None when no
        file gave it. :func:`emergence.read` re-scores the records and returns one table.

    Raises
    ------
    FormatError
        A file in no format read (the message lists the formats), a malformed file, or a file
        of the wrong kind for ``returns``.
    ValueError
        An option no reader takes, or an unknown ``format``.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
    >>> pd.DataFrame({"model": ["a", "b"], "task": "t", "metric": "acc", "value": [0.2, 0.4],
    ...               "params": [1e8, 1e9]}).to_csv(p, index=False)
    >>> got = read(p)
    >>> got.scores["value"].tolist(), got.records is None
    ([0.2, 0.4], True)
    """
    from tqdm.auto import tqdm

    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ValueError(f"read() got unknown option(s) {unknown}; readers take "
                         f"{', '.join(sorted(_OPTIONS))}.")
    if returns not in (None, "records", "scores"):
        raise ValueError(f"`returns` must be None, 'records' or 'scores'; got {returns!r}.")
    if metric_facts is not None:
        options["metric_facts"] = metric_facts
    columns = options.get("columns")
    readers = READERS if format == "auto" else (get_reader(format),)
    with parse_once():
        groups, skipped = _sort_files(paths, readers, returns, columns)
        loaded: dict[str, list[pd.DataFrame]] = {"records": [], "scores": []}
        files: list[tuple[str, str]] = []
        n_files = sum(len(fs) for fs in groups.values())
        with tqdm(total=n_files, desc="files", disable=not progress, unit="file") as bar:
            for r, fs in groups.items():
                kw = {k: v for k, v in options.items() if k in r.options and v is not None}
                loaded[r.returns].append(r.load(fs, **kw))
                files.extend((str(f), r.name) for f in fs)
                bar.update(len(fs))
    scores = pd.concat(loaded["scores"], ignore_index=True) if loaded["scores"] else None
    records = pd.concat(loaded["records"], ignore_index=True) if loaded["records"] else None
    frames = [x for x in (scores, records) if x is not None]
    for col, value, flag in (("params", params, scale_flags[0]), ("tokens", tokens,
                                                                  scale_flags[1])):
        check_scale_models(frames, col, value, flag=flag)
        scores = apply_scale(scores, col, value, flag=flag, strict=False) \
            if scores is not None else None
        records = apply_scale(records, col, value, flag=flag, strict=False) \
            if records is not None else None
    if scores is not None:
        # identical duplicates are kept here; extract_curves counts them once and lists them
        scores = validate(scores, allow_duplicates=True, metric_facts=metric_facts)
    if records is not None and len(loaded["records"]) > 1:
        records = validate_records(records)  # keys across readers (each reader checked its own)
    return Loaded(scores, records, tuple(files), tuple(skipped))


def _sort_files(paths: str | Path | Iterable[str | Path], readers: tuple[Reader, ...],
                returns: str | None, columns: Mapping[str, str] | None,
                ) -> tuple[dict[Reader, list[Path]], list[tuple[str, str]]]:
    """Walk ``paths`` once and give each file to its reader (in :data:`READERS` order)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    given = [Path(p) for p in paths]
    folded = [r for r in readers if r.folder is not None]

    def claim(folder: Path) -> list[Path] | None:
        for r in folded:
            got = r.folder(folder)
            if got is not None:
                return got
        return None

    def walkable(f: Path) -> bool:
        return any(s.lower() in READABLE_SUFFIXES for s in f.suffixes[-2:])

    groups: dict[Reader, list[Path]] = {}
    skipped: list[tuple[str, str]] = []
    single = len(readers) == 1
    for p in given:
        direct = not p.is_dir()
        for f in expand_paths(p, walkable, ", ".join(READABLE_SUFFIXES), claim=claim):
            head = _head(f, columns)
            if single and not direct:
                if not readers[0].detect(head):
                    continue  # --format NAME on a folder: the files that reader takes
                r = readers[0]
            elif single:
                r = readers[0]  # a file named with --format NAME is read as that format
            else:
                r = _reader_of(head, readers)
            if returns is not None and r.returns != returns:
                why = (f"{r.description} hold {r.returns}, not per-item records"
                       if returns == "records" else
                       f"{r.description} hold per-item records, not scores")
                if direct:
                    fix = (how("read it with emergence.read", "read it with emergence analyze")
                           if returns == "records" else "")
                    raise FormatError(f"{f}: {why}{'; ' + fix if fix else ''}.")
                skipped.append((str(f), why))
                continue
            groups.setdefault(r, []).append(f)
        if not direct and not any(p in f.parents for fs in groups.values() for f in fs):
            kind = "per-item log" if returns == "records" else "readable"
            hint = f" ({len(skipped)} left out: {skipped[0][1]})" if skipped else ""
            raise FormatError(f"{p}: folder holds no {kind} files{hint}. Readable formats: "
                              f"{_formats(r for r in readers if returns in (None, r.returns))}.")
    if not groups:
        raise FormatError(f"nothing to read in {', '.join(map(str, given))}.")
    return groups, skipped
