"""Per-sample logs of EleutherAI lm-evaluation-harness -> per-item records.

Three generations of the harness are recognised from the files themselves:

- **v0.4.3 and later** (``--log_samples``): ``samples_<task>_<timestamp>.jsonl``, one JSON object per
  line and per (document, filter). ``resps``/``filtered_resps`` are *stringified* (``"-4.91"``,
  ``"False"``); ``filter`` and ``metrics`` exist from v0.4.7 on (older files are filter-major and
  the filter names come from the task config). Model, revision, parameter count and shots come from
  the ``results_<timestamp>.json`` written next to it with the same timestamp, so several
  checkpoints evaluated into one folder are told apart.
- **v0.4.0 to v0.4.2**: ``<model_args>_<task>.jsonl`` holding one indented JSON *array* (numbers
  stay numbers), next to ``results.json``.
- **v0.3** (``--write_out``): ``<task>_write_out_info.json``, a JSON array of ``{"doc_id",
  "prompt_i", "logit_i", "truth", <metric>: "<str>"}``. Model information is not in the file: pass
  ``model=`` (and ``params=``) or keep the aggregate results JSON in the same folder.

Units: log-likelihoods are the harness's summed natural-log probabilities of the continuation
(nats). ``is_greedy`` is true when greedy decoding reproduces the continuation. Token counts are not
logged by the harness; pass ``tokenizer=`` to count them.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import FormatError
from .._validation import how
from ..records import validate_records
from ._files import (
    Head,
    guarded,
    load_json,
    now_reading,
    parse_json,
    parse_once,
    parsed_json,
    read_head,
    read_text,
)
from ._paths import expand_paths
from .lm_eval import parse_model_args
from .records import read_jsonl

__all__ = ["read_samples", "detect_format", "is_samples_log", "parse_model_args", "FORMATS"]

#: Recognised per-sample formats.
FORMATS: tuple[str, ...] = ("lm-eval-0.4.3+", "lm-eval-0.4.0", "lm-eval-0.3")

_TS = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_SAMPLES_RE = re.compile(rf"^samples_(?P<task>.+)_(?P<ts>{_TS})\.jsonl$")
_WRITE_OUT_RE = re.compile(r"^(?P<task>.+)_write_out_info\.json$")


def _first_element_is_sample(data: Any) -> bool:
    head = data[0] if isinstance(data, list) and data else None
    return isinstance(head, dict) and (
        "resps" in head or "filtered_resps" in head or "logit_0" in head or "truth" in head
        or any(str(k).startswith("prompt_") for k in head))


def is_samples_log(head: Head) -> bool:
    """True for an lm-eval per-sample log: named ``samples_<task>_<ts>.jsonl`` or
    ``<task>_write_out_info.json``, JSON lines whose first object has ``doc_id`` and ``resps``,
    or a JSON array whose first entry has ``resps`` or ``logit_0``/``truth`` (parsed once, through
    :func:`~emergence.io._files.load_json`, so the reader gets the parsed array).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from emergence.io._files import read_head
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "my_log.jsonl"
    >>> _ = p.write_text(json.dumps({"doc_id": 0, "resps": [["1"]]}) + "\\n" * 2)
    >>> is_samples_log(read_head(p))
    True
    """
    if _SAMPLES_RE.match(head.name) or _WRITE_OUT_RE.match(head.name):
        return True
    if head.suffix not in (".json", ".jsonl"):
        return False
    obj = head.first_object
    if obj is not None:
        return "doc_id" in obj and ("filtered_resps" in obj or "resps" in obj)
    if head.first_char == "[":
        return _first_element_is_sample(load_json(head.path))
    return False


def detect_format(path: str | Path) -> str:
    """Name the lm-eval per-sample format of ``path`` (one of :data:`FORMATS`).

    Detection uses the file name (``samples_<task>_<ts>.jsonl``, ``<task>_write_out_info.json``)
    and the content: a JSON object per line (v0.4.3+), or a JSON array whose entries have
    ``resps`` (v0.4.0-0.4.2) or ``logit_0``/``truth`` (v0.3).

    Raises
    ------
    FormatError
        The file matches none of the known generations (the message lists what was expected).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "arc_easy_write_out_info.json"
    >>> _ = p.write_text(json.dumps([{"doc_id": 0, "prompt_0": "Q: A", "logit_0": -1.2,
    ...                               "truth": 0}]))
    >>> detect_format(p)
    'lm-eval-0.3'
    """
    p = Path(path)
    first = "[" if isinstance(parsed_json(p), list) else read_head(p).first_char
    if first == "{":
        line = read_head(p).first_line
        if line is None:  # a first line longer than the head
            line = read_text(p).lstrip().split("\n", 1)[0]
        try:
            obj = parse_json(line, p, line=1)
        except FormatError:
            if _SAMPLES_RE.match(p.name):
                return "lm-eval-0.4.3+"  # the line-level error is reported while reading
            raise FormatError(
                f"{p}: line 1 is not valid JSON; cannot tell which harness wrote it."
            ) from None
        if isinstance(obj, dict) and "doc_id" in obj and (
            "filtered_resps" in obj or "resps" in obj
        ):
            return "lm-eval-0.4.3+"
        if isinstance(obj, dict) and "results" in obj:
            raise FormatError(
                f"{p}: this is an aggregate results file, not a per-sample log; read it with "
                "emergence.io.lm_eval, or point read_samples at the samples_*.jsonl files."
            )
        raise _unknown(p, sorted(obj)[:12] if isinstance(obj, dict) else type(obj).__name__)
    if first == "[":
        data = load_json(p)  # parsed once: the reader gets the same object
        if not isinstance(data, list):
            raise _unknown(p, type(data).__name__)
        head = data[0] if data else {}
        if not isinstance(head, dict):
            raise _unknown(p, type(head).__name__)
        if "resps" in head or "filtered_resps" in head:
            return "lm-eval-0.4.0"
        if "logit_0" in head or "truth" in head or any(k.startswith("prompt_") for k in head):
            return "lm-eval-0.3"
        if not data and _WRITE_OUT_RE.match(p.name):
            return "lm-eval-0.3"
        raise _unknown(p, sorted(head)[:12])
    raise _unknown(p, f"first character {first!r}")


def _unknown(p: Path, seen: object) -> FormatError:
    return FormatError(
        f"{p}: unknown per-sample format (found {seen}). Supported: lm-eval v0.4.3+ "
        "samples_<task>_<ts>.jsonl (one object per line with doc_id, resps, filtered_resps), "
        "v0.4.0-0.4.2 JSON arrays of the same objects, and v0.3 <task>_write_out_info.json "
        "(doc_id, prompt_i, logit_i, truth). For other tools use emergence.io.read_records."
    )


def _collect(paths: Iterable[str | Path]) -> list[Path]:
    return expand_paths(
        list(paths), lambda f: is_samples_log(read_head(f)),
        "lm-eval per-sample log (samples_*.jsonl, *_write_out_info.json or v0.4.0-0.4.2 *.jsonl "
        "arrays)", "; run the harness with --log_samples")


# ---------------------------------------------------------------------------------------------
# value coercion (v0.4.3+ stringifies everything inside resps)


def _num(v: Any, where: str) -> float:
    if isinstance(v, bool):
        raise FormatError(f"{where}: expected a log-likelihood, found the boolean {v!r}.")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            pass
    raise FormatError(
        f"{where}: cannot parse {str(v)[:60]!r} as a log-likelihood; the stringified response is "
        "malformed (expected e.g. '-4.91')."
    )


def _bool(v: Any, where: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip() in ("True", "False", "true", "false"):
        return v.strip().lower() == "true"
    raise FormatError(f"{where}: cannot parse {str(v)[:60]!r} as is_greedy (True/False).")


def _ll_pair(resp: Any, where: str) -> tuple[float, bool | None]:
    """Parse one loglikelihood response: ``[ll, is_greedy]``, ``ll`` or a stringified pair."""
    if isinstance(resp, str):
        s = resp.strip()
        if s.startswith(("[", "(")):
            try:
                resp = ast.literal_eval(s)
            except (ValueError, SyntaxError):
                raise FormatError(
                    f"{where}: stringified response {s[:60]!r} does not parse; expected "
                    "[log-likelihood, is_greedy]."
                ) from None
    if isinstance(resp, (list, tuple)):
        if len(resp) == 1 and isinstance(resp[0], (list, tuple)):
            resp = resp[0]
        if len(resp) == 2:
            return _num(resp[0], where), _bool(resp[1], where)
        if len(resp) == 1:
            return _num(resp[0], where), None
        raise FormatError(f"{where}: response {str(resp)[:60]!r} is not [log-likelihood, is_greedy].")
    return _num(resp, where), None


def _reason(exc: Exception, where: str) -> str:
    """The message of a per-sample error without its location prefix (``source`` has it)."""
    msg = str(exc)
    for prefix in (f"{where}: ", f"{where} "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _infer_output_type(sample: Mapping[str, Any]) -> str:
    args = sample.get("arguments")
    if isinstance(args, Mapping):
        reqs = [args[k] for k in sorted(args, key=lambda k: int(str(k).rsplit("_", 1)[-1]))]
        reqs = [list(r.values()) if isinstance(r, Mapping) else list(r) for r in reqs]
    elif isinstance(args, (list, tuple)):
        reqs = [list(r) if isinstance(r, (list, tuple)) else [r] for r in args]
    else:
        reqs = []
    if reqs and len(reqs[0]) >= 2 and isinstance(reqs[0][1], Mapping):
        return "generate_until"
    if len(reqs) > 1:
        return "multiple_choice"
    if reqs and len(reqs[0]) == 1:
        return "loglikelihood_rolling"
    return "loglikelihood"


def _requests(sample: Mapping[str, Any]) -> list[list[Any]]:
    args = sample.get("arguments")
    if isinstance(args, Mapping):
        keys = sorted(args, key=lambda k: int(str(k).rsplit("_", 1)[-1]))
        return [list(args[k].values()) if isinstance(args[k], Mapping) else list(args[k])
                for k in keys]
    if isinstance(args, (list, tuple)):
        return [list(r) if isinstance(r, (list, tuple)) else [r] for r in args]
    return []


def _parse_target_list(target: str) -> list[str] | None:
    s = target.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return None
    try:
        val = ast.literal_eval(s)
    except (ValueError, SyntaxError):
        return None
    if isinstance(val, list) and val and all(isinstance(x, (str, int, float)) for x in val):
        return [str(x) for x in val]
    return None


def _sample_to_record(
    s: Mapping[str, Any], output_type: str, where: str, mutual_info: bool
) -> dict[str, Any]:
    rec: dict[str, Any] = {"output_type": output_type}
    fr = s.get("filtered_resps", s.get("resps"))
    if fr is None:
        raise FormatError(f"{where}: no 'filtered_resps' or 'resps' field.")
    if isinstance(fr, str):
        try:
            fr = ast.literal_eval(fr)
        except (ValueError, SyntaxError):
            raise FormatError(
                f"{where}: stringified 'filtered_resps' {fr[:60]!r} does not parse."
            ) from None
    reqs = _requests(s)
    target = s.get("target")
    target_s = "" if target is None else str(target)
    if output_type == "generate_until":
        pred = fr[0] if isinstance(fr, (list, tuple)) and fr else fr
        if isinstance(pred, (list, tuple)):  # several repeats: the first one is scored
            pred = pred[0] if pred else ""
        rec["prediction"] = "" if pred is None else str(pred)
        many = _parse_target_list(target_s) if isinstance(target, str) else (
            [str(t) for t in target] if isinstance(target, list) else None)
        rec["target"] = many[0] if many else target_s
        rec["targets"] = many if many and len(many) > 1 else pd.NA
    elif output_type in ("loglikelihood", "loglikelihood_rolling"):
        resp = fr[0] if isinstance(fr, (list, tuple)) and fr else fr
        ll, greedy = _ll_pair(resp, where)
        rec["target_loglik"] = ll
        rec["is_greedy"] = pd.NA if greedy is None else greedy
        cont = reqs[0][1] if reqs and len(reqs[0]) > 1 else (reqs[0][0] if reqs else None)
        rec["target"] = target_s
        rec["_continuation"] = cont if isinstance(cont, str) else target_s
    elif output_type == "multiple_choice":
        if not isinstance(fr, (list, tuple)) or not fr:
            raise FormatError(f"{where}: multiple-choice 'filtered_resps' is empty.")
        n = len(fr) // 2 if mutual_info and len(fr) % 2 == 0 else len(fr)
        pairs = [_ll_pair(r, f"{where} (choice {i})") for i, r in enumerate(fr[:n])]
        rec["choice_loglik"] = [p[0] for p in pairs]
        greedy = [p[1] for p in pairs]
        choices = [r[1] for r in reqs[:n]] if len(reqs) >= n and all(
            len(r) > 1 for r in reqs[:n]) else None
        rec["choices"] = [str(c) for c in choices] if choices else pd.NA
        gold = _gold(target, choices, where)
        rec["gold"] = gold
        rec["is_greedy"] = pd.NA if greedy[gold] is None else greedy[gold]
        rec["target"] = str(choices[gold]) if choices else target_s
        rec["_continuation"] = rec["target"]
    else:  # pragma: no cover - output types are checked by the caller
        raise FormatError(f"{where}: unsupported output_type {output_type!r}.")
    return rec


def _gold(target: Any, choices: Sequence[Any] | None, where: str) -> int:
    t = target
    if isinstance(t, str):
        s = t.strip()
        lst = _parse_target_list(s)
        if lst is not None:
            s = lst[0]  # several correct choices: the first is used
        try:
            return int(float(s))
        except ValueError:
            pass
        if choices:
            stripped = [str(c).strip() for c in choices]
            if s in stripped:
                return stripped.index(s)
        raise FormatError(
            f"{where}: multiple-choice target {t[:40]!r} is neither a choice index nor one of the "
            "choices."
        )
    if isinstance(t, list) and t:
        return int(t[0])
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return int(t)
    raise FormatError(f"{where}: cannot read the gold choice from target {t!r}.")


# ---------------------------------------------------------------------------------------------
# metadata (results files)


def _load_json(path: Path) -> dict[str, Any] | None:
    """A results file next to a samples log; None if absent. A results file that exists but
    cannot be read is an error: its model, revision and parameter count would be lost."""
    if not path.exists():
        return None
    obj = load_json(path)
    return obj if isinstance(obj, dict) else None


def _model_name(pretrained: Any) -> str | None:
    if pretrained is None:
        return None
    s = str(pretrained).rstrip("/")
    return s.rsplit("/", 1)[-1] or s


def _em_rule(tcfg: Mapping[str, Any]) -> str | None:
    """lm-eval's exact_match rule for a task: ``"none"`` when it compares the filtered response
    with the target unchanged (no ignore_case, ignore_punctuation, ignore_numbers or
    regexes_to_ignore); None when it normalises in a way no named rule reproduces."""
    for m in tcfg.get("metric_list") or []:
        if isinstance(m, Mapping) and m.get("metric") == "exact_match":
            if any(m.get(k) for k in ("ignore_case", "ignore_punctuation", "ignore_numbers",
                                      "regexes_to_ignore")):
                return None
            return "none"
    return None


def _meta_from_results(res: Mapping[str, Any] | None, task: str) -> dict[str, Any]:
    if not res:
        return {}
    cfg = res.get("config") or {}
    margs = parse_model_args(cfg.get("model_args"))
    rev = margs.get("revision") or cfg.get("model_revision") or None
    if rev in ("", "main"):
        rev = None
    tcfg = (res.get("configs") or {}).get(task) or {}
    filters = [f.get("name") for f in tcfg.get("filter_list") or [] if isinstance(f, Mapping)]
    nshot = (res.get("n-shot") or {}).get(task)
    if nshot is None:
        nshot = tcfg.get("num_fewshot", cfg.get("num_fewshot"))
    metrics = [m.get("metric") for m in tcfg.get("metric_list") or [] if isinstance(m, Mapping)]
    return {
        "normalize": _em_rule(tcfg),
        "model": _model_name(margs.get("pretrained") or res.get("model_name")),
        "revision": rev,
        # as stated; a count that is not a positive number (e.g. -1) is taken as unknown, with a
        # warning naming the file, when the records are validated
        "params": cfg.get("model_num_parameters"),
        "shots": nshot,
        "output_type": tcfg.get("output_type"),
        "filters": filters,
        "mutual_info": "acc_mutual_info" in metrics,
        "version": res.get("lm_eval_version"),
    }


def _results_for(path: Path, fmt: str, ts: str | None) -> dict[str, Any] | None:
    if fmt == "lm-eval-0.4.3+" and ts is not None:
        return _load_json(path.parent / f"results_{ts}.json")
    candidates = [path.parent / "results.json"] + sorted(path.parent.glob("*.json"))
    unreadable: list[FormatError] = []
    for c in candidates:
        if c == path or not c.exists() or c.name.endswith("_write_out_info.json"):
            continue
        try:
            obj = _load_json(c)
        except FormatError as exc:  # another JSON file in the folder; the error is kept
            unreadable.append(exc)
            continue
        if obj and "results" in obj and "config" in obj:
            return obj
    if unreadable:
        raise unreadable[0]  # the results file may be the unreadable one: say so, not "none"
    return None


# ---------------------------------------------------------------------------------------------
# readers per generation


def _assign_filters(samples: list[tuple[str, dict[str, Any]]], names: list[str]) -> list[str]:
    """Filter names for files written before v0.4.7 (no 'filter' key; filter-major order)."""
    seen: dict[Any, int] = {}
    out = []
    for _, s in samples:
        if "filter" in s:
            out.append(str(s["filter"]))
            continue
        k = s.get("doc_id")
        i = seen.get(k, 0)
        seen[k] = i + 1
        if names:
            out.append(names[i] if i < len(names) else f"filter{i}")
        else:
            out.append("none" if i == 0 else f"filter{i}")
    return out


def _read_v04(path: Path, fmt: str, task_hint: str | None) -> tuple[list[dict], dict[str, Any]]:
    ts = None
    if fmt == "lm-eval-0.4.3+":
        m = _SAMPLES_RE.match(path.name)
        if m:
            task, ts = m.group("task"), m.group("ts")
        else:
            task = task_hint or path.stem
        samples = [(f"{path}:{ln}", obj) for ln, obj in read_jsonl(path)]
    else:
        data = load_json(path)
        if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
            raise FormatError(f"{path}: expected a JSON array of per-sample objects.")
        samples = [(f"{path}:[{i}]", obj) for i, obj in enumerate(data)]
        task = task_hint
    res = _results_for(path, fmt, ts)
    if fmt == "lm-eval-0.4.0" and task is None:
        keys = sorted((res or {}).get("results", {}), key=len, reverse=True)
        task = next((k for k in keys if path.name.endswith(f"_{k}.jsonl")), None)
        if task is None:
            raise FormatError(
                f"{path}: cannot tell the task name (no results.json naming it next to the file); "
                f"pass {how('task=... to read_samples', '--task NAME')}."
            )
    meta = _meta_from_results(res, task)
    meta["task"] = task
    meta["has_results"] = res is not None
    filters = _assign_filters(samples, meta.get("filters") or [])
    rows = []
    for (where, s), filt in zip(samples, filters, strict=True):
        if "doc_id" not in s:
            raise FormatError(f"{where}: no 'doc_id'; not a harness per-sample record.")
        otype = meta.get("output_type") or _infer_output_type(s)
        mi = meta.get("mutual_info") or "acc_mutual_info" in (s.get("metrics") or [])
        try:
            rec = _sample_to_record(s, otype, where, mi)
        except FormatError as exc:
            # one corrupt value flags its sample (scored NaN with the reason), not the file
            rec = {"output_type": otype, "invalid": _reason(exc, where)}
        if rec.get("output_type") == "generate_until" and meta.get("normalize"):
            rec["normalize"] = meta["normalize"]
        rec.update(
            item=str(s["doc_id"]),
            doc_hash=s.get("doc_hash"),
            filter=filt,
            source=where,
            harness_scores=_harness_scores(s),
        )
        rows.append(rec)
    return rows, meta


_FIXED_KEYS = frozenset({"doc_id", "doc", "target", "arguments", "resps", "filtered_resps",
                         "filter", "metrics", "doc_hash", "prompt_hash", "target_hash",
                         "scores_per_repeat"})


def _harness_scores(s: Mapping[str, Any]) -> Any:
    """The harness's own per-document metric values (before v0.4.7 there is no 'metrics' list)."""
    names = s.get("metrics")
    if names is None:
        names = [k for k in s if k not in _FIXED_KEYS]
    return {k: s[k] for k in names if k in s} or pd.NA


def _read_v03(path: Path, task_hint: str | None) -> tuple[list[dict], dict[str, Any]]:
    data = load_json(path)
    if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
        raise FormatError(f"{path}: expected a JSON array of write-out objects.")
    m = _WRITE_OUT_RE.match(path.name)
    task = task_hint or (m.group("task") if m else path.stem)
    res = _results_for(path, "lm-eval-0.3", None)
    meta: dict[str, Any] = {"task": task, "has_results": res is not None}
    if res:
        cfg = res.get("config") or {}
        margs = parse_model_args(cfg.get("model_args"))
        meta.update(model=_model_name(margs.get("pretrained")), revision=margs.get("revision"),
                    shots=cfg.get("num_fewshot"))
    rows = []
    for i, s in enumerate(data):
        where = f"{path}:[{i}]"
        if not isinstance(s, dict) or "doc_id" not in s:
            raise FormatError(f"{where}: entry has no 'doc_id'; not a v0.3 write_out record.")
        idx = sorted(int(k[6:]) for k in s if k.startswith("logit_") and k[6:].isdigit())
        if not idx:
            raise FormatError(f"{where}: entry has no 'logit_0' response.")
        logits = [s[f"logit_{j}"] for j in idx]
        prompts = [s.get(f"prompt_{j}") for j in idx]
        truth = s.get("truth")
        metric_keys = [k for k in s if not k.startswith(("logit_", "prompt_"))
                       and k not in ("doc_id", "truth")]
        rec: dict[str, Any]
        # write_out dumps Python values: log-likelihoods are JSON numbers or [ll, is_greedy]
        # lists; generations are strings (even when the text is a number)
        numeric = not isinstance(logits[0], str)
        try:
            rec = _v03_record(logits, idx, prompts, truth, numeric, where)
        except FormatError as exc:
            kind = ("generate_until" if not numeric else "multiple_choice" if len(logits) > 1
                    and all(not isinstance(x, (list, tuple)) for x in logits) else "loglikelihood")
            rec = {"output_type": kind, "invalid": _reason(exc, where)}
        rec.update(item=str(s["doc_id"]), filter="none", source=where,
                   harness_scores={k: s[k] for k in metric_keys} or pd.NA)
        rows.append(rec)
    return rows, meta


def _v03_record(logits: list[Any], idx: list[int], prompts: list[Any], truth: Any,
                numeric: bool, where: str) -> dict[str, Any]:
    rec: dict[str, Any]
    if not numeric:
        rec = {"output_type": "generate_until", "prediction": logits[0],
               "target": "" if truth is None else str(truth)}
    elif len(logits) > 1 and all(not isinstance(x, (list, tuple)) for x in logits):
        lls = [_num(x, f"{where} logit_{j}") for j, x in zip(idx, logits, strict=True)]
        choices = _strip_common_context(prompts) if all(
            isinstance(p, str) for p in prompts) else None
        gold = _gold(truth if not isinstance(truth, bool) else int(truth), choices, where)
        rec = {"output_type": "multiple_choice", "choice_loglik": lls,
               "choices": choices if choices else pd.NA, "gold": gold}
    else:
        ll, greedy = _ll_pair(logits[0], f"{where} logit_0")
        rec = {"output_type": "loglikelihood", "target_loglik": ll,
               "is_greedy": pd.NA if greedy is None else greedy,
               "target": "" if truth is None else str(truth)}
        rec["_continuation"] = rec["target"]
    return rec


def _strip_common_context(prompts: list[str]) -> list[str] | None:
    """Choice continuations from v0.3 ``prompt_i`` (context + continuation) strings."""
    if len(prompts) < 2:
        return None
    n = len(prompts[0])
    for p in prompts[1:]:
        k = 0
        while k < min(n, len(p)) and prompts[0][k] == p[k]:
            k += 1
        n = k
    # back off to the start of the word so shared leading characters stay in the choice
    while n > 0 and not prompts[0][n - 1].isspace() and prompts[0][n - 1] not in ":?.!\n":
        n -= 1
    while n > 0 and prompts[0][n - 1] == " ":
        n -= 1
    return [p[n:] for p in prompts]


def _lookup(value: Any, model: str | None, step: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in ((model, step), model, step):
            if key in value:
                return value[key]
        return None
    if callable(value):
        return value(model, step)
    return value


@guarded("lm-evaluation-harness per-sample log")
def read_samples(
    paths: str | Path | Sequence[str | Path],
    *,
    model: str | None = None,
    params: float | Mapping[Any, float] | None = None,
    tokens: float | Mapping[Any, float] | None = None,
    tokens_per_step: float | None = None,
    flops: float | Mapping[Any, float] | None = None,
    family: str | None = None,
    revision: str | None = None,
    step: int | None = None,
    task: str | None = None,
    tasks: Sequence[str] | None = None,
    filter: str | Sequence[str] | None = None,  # noqa: A002 - mirrors the harness name
    tokenizer: Callable[[str], Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Read lm-eval per-sample logs (any of three harness generations) into per-item records.

    Parameters
    ----------
    paths : path or list of paths
        Files or folders (searched recursively for ``samples_*.jsonl``,
        ``*_write_out_info.json`` and v0.4.0-0.4.2 ``*.jsonl`` arrays).
    model : str, optional
        Model name; default: last component of ``config.model_args.pretrained`` from the matching
        results file (``EleutherAI/pythia-160m`` -> ``pythia-160m``), else the folder name.
    params, tokens, flops : float or mapping, optional
        Scale of each row: a number, or a mapping keyed by model name, step, or (model, step).
        ``params`` defaults to ``config.model_num_parameters`` (which counts embeddings).
    tokens_per_step : float, optional
        Fill ``tokens = step * tokens_per_step`` where ``tokens`` is not given (Pythia: 2,097,152).
    family : str, optional
        Stored in a ``family`` column (defaults to the model name downstream).
    revision, step : optional
        Override the checkpoint read from ``config.model_args`` (``revision=step1000`` gives
        ``step=1000``).
    task : str, optional
        Task name for files whose name does not carry it (v0.4.0-0.4.2 without ``results.json``).
    tasks : list of str, optional
        Keep only these tasks.
    filter : str or list of str, optional
        Keep only these lm-eval filters (``strict-match``, ...). Default: all filters are kept and
        told apart by the ``filter`` column (scores then carry a ``metric,filter`` name).
    tokenizer : callable, optional
        ``text -> tokens``; fills ``target_ntokens`` for log-likelihood targets. Pass the model's
        own tokenizer (e.g. ``AutoTokenizer.from_pretrained(path).encode``) so per-token
        log-likelihoods are per model token.

    Returns
    -------
    DataFrame
        Records (see :mod:`emergence.records`) with extra columns ``format`` (harness
        generation), ``harness_version`` (when known), ``harness_scores`` (the harness's own
        per-document metric values) and ``family``.

    Raises
    ------
    FormatError
        Truncated or malformed lines, stringified responses that do not parse, files from an
        unknown harness version; each message names the file and line.
    SchemaError
        Two files give the same (model, step, task, filter, item), e.g. two checkpoints without a
        revision; the message says how to tell them apart.

    Notes
    -----
    Several checkpoints of one model evaluated into the same output folder share the folder name
    (the revision is not part of it); each ``samples_<task>_<ts>.jsonl`` is matched to the
    ``results_<ts>.json`` with the same timestamp, whose ``config.model_args`` carries the
    revision. A samples file without its results file is read with the folder name as model and a
    warning.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> line = {"doc_id": 0, "doc": {"q": "1+1"}, "target": "2",
    ...         "arguments": {"gen_args_0": {"arg_0": "1+1=", "arg_1": "2"}},
    ...         "resps": [[["-0.5", "True"]]], "filtered_resps": [["-0.5", "True"]],
    ...         "filter": "none", "metrics": ["acc"], "doc_hash": "abc", "acc": 1}
    >>> _ = (d / "samples_add_2024-07-01T10-00-00.000001.jsonl").write_text(json.dumps(line) + "\\n")
    >>> rec = read_samples(d, model="m", params=1e6)
    >>> rec[["task", "output_type", "target_loglik", "is_greedy"]].to_dict("records")
    [{'task': 'add', 'output_type': 'loglikelihood', 'target_loglik': -0.5, 'is_greedy': True}]
    """
    with parse_once():  # a results file shared by several logs is parsed once
        return _read_samples(
            paths, model=model, params=params, tokens=tokens, tokens_per_step=tokens_per_step,
            flops=flops, family=family, revision=revision, step=step, task=task, tasks=tasks,
            filter=filter, tokenizer=tokenizer)


def _read_samples(paths, *, model, params, tokens, tokens_per_step, flops, family, revision,
                  step, task, tasks, filter, tokenizer) -> pd.DataFrame:  # noqa: A002
    files = _collect([paths] if isinstance(paths, (str, Path)) else paths)
    if not files:
        raise FormatError("read_samples: no files given.")
    keep_filters = None if filter is None else ([filter] if isinstance(filter, str) else
                                                list(filter))
    frames = []
    for f in files:
        now_reading(f)
        fmt = detect_format(f)
        if fmt == "lm-eval-0.3":
            rows, meta = _read_v03(f, task)
        else:
            rows, meta = _read_v04(f, fmt, task)
        if tasks is not None and meta["task"] not in tasks:
            continue
        if not meta.get("has_results") and model is None and fmt != "lm-eval-0.3":
            warnings.warn(
                f"{f}: no matching results file next to it; "
                "model name taken from the folder, revision and parameter count unknown.",
                UserWarning,
                stacklevel=2,
            )
        name = model or meta.get("model")
        if name is None:
            if fmt == "lm-eval-0.3":
                raise FormatError(
                    f"{f}: v0.3 write_out files do not name the model; pass "
                    f"{how('model=... (and params=...)', '--model NAME (and --params NAME=COUNT)')}."
                )
            name = _model_name(f.parent.name.replace("__", "/"))
        rev = revision if revision is not None else meta.get("revision")
        df = pd.DataFrame(rows)
        df["model"] = name
        df["task"] = meta["task"]
        df["revision"] = rev
        df["step"] = step if step is not None else pd.NA
        df["shots"] = meta.get("shots")
        df["format"] = fmt
        df["harness_version"] = meta.get("version")
        df["params"] = meta.get("params")
        frames.append(df)
    now_reading(None)
    if not frames:
        raise FormatError(f"read_samples: none of the files hold the requested tasks {tasks}.")
    out = pd.concat(frames, ignore_index=True)
    if keep_filters is not None:
        have = sorted(set(out["filter"].dropna()))
        unknown = [x for x in keep_filters if x not in have]
        if unknown:
            raise ValueError(f"filter(s) {unknown} not in the logs; available: {have}.")
        out = out[out["filter"].isin(keep_filters)].reset_index(drop=True)
    cont = out.pop("_continuation") if "_continuation" in out else None
    out = validate_records(out)
    keys = list(zip(out["model"], [None if pd.isna(s) else int(s) for s in out["step"]],
                    strict=True))
    for col, given in (("params", params), ("tokens", tokens), ("flops", flops)):
        if given is not None:
            vals = [_lookup(given, m, s) for m, s in keys]
            out[col] = pd.to_numeric(pd.Series(vals, index=out.index, dtype="object"),
                                     errors="coerce").astype("float64")
    if tokens_per_step is not None:
        out["tokens"] = out["tokens"].fillna(out["step"].astype("float64") * float(tokens_per_step))
    if family is not None:
        out["family"] = family
    if tokenizer is not None:
        text = cont if cont is not None else out["target"]
        text = text.where(text.notna(), out["target"]) if cont is not None else text
        need = out["target_ntokens"].isna() & out["output_type"].isin(
            ["loglikelihood", "multiple_choice", "loglikelihood_rolling"]) & text.notna()
        out.loc[need, "target_ntokens"] = [_count(tokenizer, str(c)) for c in text[need]]
    return out


def _count(tokenizer: Callable[[str], Any], text: str) -> int:
    toks = tokenizer(text)
    for attr in ("ids", "input_ids"):
        if hasattr(toks, attr):
            toks = getattr(toks, attr)
        elif isinstance(toks, Mapping) and attr in toks:
            toks = toks[attr]
    return len(toks)
