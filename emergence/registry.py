"""Facts about metrics and chance levels: declared or read from data, never guessed.

One immutable table, :data:`BUILTIN_METRICS`, says for every metric the toolkit knows whether
higher is better, whether items are scored 0/1, the valid range and how the metric relates to
per-token competence (its *latent* link). Nothing adds to it at import time. Any other metric is
an :class:`~emergence.UnknownMetricError` until the caller declares it, in Python with a
``metric_facts=`` mapping (to :func:`~emergence.curves.extract_curves`,
:func:`~emergence.schema.validate`, :func:`~emergence.io.read_table`, ...) and on the command
line with ``--metric-info NAME=SPEC``. A declaration also overrides a built-in entry of the same
name (for example an ``acc`` column that holds a free-form exact match).

A declaration spec is a comma-separated list of words, in any order::

    higher | lower                 direction (required)
    discontinuous | continuous     items scored 0/1, or a graded per-item score (required)
    LO:HI                          valid range, e.g. 0:1, 0:inf, -inf:0 (default: 0:1 for
                                   discontinuous metrics, -inf:inf for continuous ones)
    LATENT                         link to per-token competence (see LATENTS; default none)
    sharp                          continuous but sharp in per-token error (BLEU, ROUGE)

Chance levels follow the same rule (:func:`resolve_chance`): from the data when the data say it
(the number of answer choices of each item in a per-item log), else from a declaration (``chance=``
/ ``--chance TASK=VALUE``, or a ``chance`` column the table's author wrote), else unknown. Exact
match of a free-form answer has chance 0 by definition, and chance-normalised metrics
(``,norm`` suffix) too.

Examples
--------
>>> from emergence.registry import metric_info, MetricInfo
>>> metric_info("exact_match,strict-match").latent
'exact_match'
>>> metric_info("val_loss").higher_is_better
False
>>> metric_info("acc,norm").lower          # chance-normalised accuracy: (acc - g) / (1 - g)
-1.0
>>> facts = {"val_bpb": "lower,continuous,0:inf,loss"}
>>> metric_info("val_bpb", facts).spec()
'lower,continuous,0:inf,loss'
>>> try:
...     metric_info("val_bpb")
... except Exception as e:
...     print(type(e).__name__)
UnknownMetricError
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ._exceptions import DeclarationError, UnknownMetricError
from ._validation import how

__all__ = [
    "KINDS",
    "LATENTS",
    "CHANCE_SOURCES",
    "MetricInfo",
    "BUILTIN_METRICS",
    "MetricFacts",
    "base_name",
    "metric_info",
    "find_metric_info",
    "check_metrics",
    "as_metric_facts",
    "parse_metric_declaration",
    "parse_chance_declaration",
    "as_chance_map",
    "Chance",
    "resolve_chance",
]

_INF = math.inf

#: Per-item scoring: 0/1 items, or a graded score per item.
KINDS: tuple[str, ...] = ("discontinuous", "continuous")

#: How a metric relates to per-token competence (the latent the Mirage model describes):
#:
#: - ``exact_match``: 0/1, all tokens of a target of L tokens right (chance 0 for a free-form answer)
#: - ``multiple_choice``: 0/1 with a chance floor (1/k for k choices): acc, acc_norm, mc1, ...
#: - ``edit_distance``: token edit distance to the target, 0..L (0..1 when normalised by L)
#: - ``loglik``: summed target log-likelihood (<= 0); ``loglik_per_token``: the same per token
#: - ``per_token_p``: a probability in [0, 1] (p_token, p_vocab, p_correct, p_choices, mc2)
#: - ``brier``: multiple-choice Brier score in [0, 2]
#: - ``loss``: cross-entropy or bits per byte (lower is better, irreducible floor)
#: - ``perplexity``: exp(cross-entropy), >= 1 (lower is better, irreducible floor)
#: - ``none``: no known relation (BLEU, ROUGE, F1, bias scores, edit distance divided by L)
LATENTS: tuple[str, ...] = (
    "exact_match",
    "multiple_choice",
    "edit_distance",
    "loglik",
    "loglik_per_token",
    "per_token_p",
    "brier",
    "loss",
    "perplexity",
    "none",
)

#: Where a curve's chance level comes from.
CHANCE_SOURCES: tuple[str, ...] = ("data", "declared", "definition", "not applicable", "unknown")

_NORM = "norm"


def _float(v: object, what: str) -> float:
    try:
        out = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DeclarationError(f"{what} must be a number; got {v!r}.") from None
    if math.isnan(out):
        raise DeclarationError(f"{what} must be a number; got NaN.")
    return out


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What is known about a metric.

    Attributes
    ----------
    name : str
        Metric name (lm-eval filter suffix removed).
    lower, upper : float
        Valid range of values (``-inf``/``inf`` when unbounded).
    higher_is_better : bool
        Orientation of the metric.
    kind : {"discontinuous", "continuous"}
        Discontinuous metrics (accuracy, exact match, multiple-choice grade) score each item 0 or 1.
    sharp : bool, default=False
        Continuous but known to be sharp in per-token error (BLEU, ROUGE; Schaeffer et al. 2023).
    latent : str, default="none"
        How the metric relates to per-token competence; one of :data:`LATENTS`.

    Examples
    --------
    >>> MetricInfo("val_loss", 0, float("inf"), False, "continuous", latent="loss").spec()
    'lower,continuous,0:inf,loss'
    >>> MetricInfo.parse("my_acc", "higher,discontinuous,multiple_choice").upper
    1.0
    """

    name: str
    lower: float
    upper: float
    higher_is_better: bool
    kind: str
    sharp: bool = False
    latent: str = "none"

    def __post_init__(self) -> None:
        where = f"metric {self.name!r}"
        lo = _float(self.lower, f"{where}: lower bound")
        hi = _float(self.upper, f"{where}: upper bound")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "higher_is_better", bool(self.higher_is_better))
        object.__setattr__(self, "sharp", bool(self.sharp))
        if self.kind not in KINDS:
            raise DeclarationError(f"{where}: kind must be 'discontinuous' (items scored 0/1) or "
                                   f"'continuous'; got {self.kind!r}.")
        if self.latent not in LATENTS:
            raise DeclarationError(f"{where}: latent must be one of {', '.join(LATENTS)}; got "
                                   f"{self.latent!r}.")
        if not lo < hi:
            raise DeclarationError(f"{where}: lower bound {lo:g} must be below the upper bound "
                                   f"{hi:g}.")

    @property
    def is_proportion(self) -> bool:
        """True for metrics that are a share of items (binomial intervals apply)."""
        return self.kind == "discontinuous" and self.lower == 0.0 and self.upper == 1.0

    @property
    def chance_normalised(self) -> bool:
        """True for ``,norm`` metrics: ``(y - chance) / (1 - chance)``, chance 0 by construction."""
        return self.name.endswith("," + _NORM)

    def spec(self) -> str:
        """The declaration spec that rebuilds this entry (see :meth:`parse`)."""
        def f(v: float) -> str:
            return "inf" if v == _INF else "-inf" if v == -_INF else f"{v:g}"

        words = ["higher" if self.higher_is_better else "lower", self.kind,
                 f"{f(self.lower)}:{f(self.upper)}", self.latent]
        if self.sharp:
            words.append("sharp")
        return ",".join(words)

    @classmethod
    def parse(cls, name: str, spec: str, *, what: str = "metric_facts") -> MetricInfo:
        """Build a :class:`MetricInfo` from a declaration spec (see the module docstring).

        Parameters
        ----------
        name : str
            Metric name.
        spec : str
            ``"higher|lower,discontinuous|continuous[,LO:HI][,LATENT][,sharp]"``.
        what : str, default="metric_facts"
            Where the spec came from, for error messages (``"--metric-info"`` at the CLI).

        Raises
        ------
        DeclarationError
            A missing direction or kind, an unknown word, or a malformed range.

        Examples
        --------
        >>> info = MetricInfo.parse("loss", "lower,continuous,0:inf")
        >>> info.higher_is_better, info.lower, info.upper, info.latent
        (False, 0.0, inf, 'none')
        """
        direction = kind = latent = None
        rng: tuple[float, float] | None = None
        sharp = False
        for raw in str(spec).split(","):
            w = raw.strip()
            lw = w.lower()
            if not w:
                continue
            if lw in ("higher", "lower"):
                direction = lw == "higher"
            elif lw in KINDS:
                kind = lw
            elif lw == "sharp":
                sharp = True
            elif lw in LATENTS:
                latent = lw
            elif ":" in w:
                a, b = w.split(":", 1)
                rng = (_float(a.strip() or "-inf", f"{what} {name}: range start {a!r}"),
                       _float(b.strip() or "inf", f"{what} {name}: range end {b!r}"))
            else:
                raise DeclarationError(
                    f"{what} {name}={spec}: unknown word {w!r}; use higher|lower, "
                    f"discontinuous|continuous, a range LO:HI, a latent ({', '.join(LATENTS)}) "
                    "or sharp.")
        missing = [n for n, v in (("higher|lower", direction),
                                  ("discontinuous|continuous", kind)) if v is None]
        if missing:
            raise DeclarationError(
                f"{what} {name}={spec}: say {' and '.join(missing)} (e.g. "
                f"{name}=lower,continuous,0:inf). Facts a verdict depends on are not guessed.")
        if rng is None:
            rng = (0.0, 1.0) if kind == "discontinuous" else (-_INF, _INF)
        return cls(str(name), rng[0], rng[1], bool(direction), str(kind), sharp,
                   latent or "none")


def _table() -> dict[str, MetricInfo]:
    rows: list[tuple[tuple[str, ...], float, float, bool, str, str, bool]] = [
        # 0/1 items with a chance floor (1/k for k choices)
        (("acc", "acc_norm", "acc_mutual_info", "acc_bytes", "multiple_choice_grade", "mc1"),
         0, 1, True, "discontinuous", "multiple_choice", False),
        # 0/1 items, all of a free-form target right
        (("exact_match", "em", "exact_str_match", "quasi_exact_match", "prefix_exact_match",
          "quasi_prefix_exact_match", "pass@1"),
         0, 1, True, "discontinuous", "exact_match", False),
        # CrowS-Pairs: share of items where the stereotypical sentence is preferred (lm-eval:
        # higher_is_better false); not a competence
        (("pct_stereotype",), 0, 1, False, "discontinuous", "none", False),
        (("likelihood_difference",), 0, _INF, False, "continuous", "none", False),
        # probabilities
        (("p_correct", "p_vocab", "p_choices", "p_token", "mc2"),
         0, 1, True, "continuous", "per_token_p", False),
        (("brier_score", "brier"), 0, 2, False, "continuous", "brier", False),
        (("loglik", "log_likelihood", "target_loglik"),
         -_INF, 0, True, "continuous", "loglik", False),
        (("loglik_per_token",), -_INF, 0, True, "continuous", "loglik_per_token", False),
        (("edit_distance", "token_edit_distance"),
         0, _INF, False, "continuous", "edit_distance", False),
        # edit distance divided by the target length: 1 - per-token accuracy per item, not 0..L
        (("normalized_edit_distance",), 0, 1, False, "continuous", "none", False),
        # losses (irreducible floor); perplexities are exp(loss)
        (("loss", "val_loss", "train_loss", "eval_loss", "test_loss", "cross_entropy",
          "bits_per_byte"), 0, _INF, False, "continuous", "loss", False),
        (("ppl", "perplexity", "word_perplexity", "byte_perplexity"),
         1, _INF, False, "continuous", "perplexity", False),
        # overlap scores with no known link to per-token competence
        (("f1",), 0, 1, True, "continuous", "none", False),
        (("bleu", "rouge1", "rouge2", "rougeL", "rougeLsum"),
         0, 100, True, "continuous", "none", True),
    ]
    out: dict[str, MetricInfo] = {}
    for names, lo, hi, hib, kind, latent, sharp in rows:
        for n in names:
            out[n] = MetricInfo(n, lo, hi, hib, kind, sharp, latent)
    return out


#: The built-in metric facts (read-only). Extend them per call with ``metric_facts=``.
BUILTIN_METRICS: Mapping[str, MetricInfo] = MappingProxyType(_table())

#: A user declaration: metric name -> :class:`MetricInfo` or a spec string.
MetricFacts = Mapping[str, "MetricInfo | str"]


def base_name(metric: str) -> str:
    """Metric name without the lm-eval filter suffix (``,norm`` is kept: it changes the scale).

    Examples
    --------
    >>> base_name("exact_match,strict-match"), base_name("acc,norm"), base_name("acc_stderr,none")
    ('exact_match', 'acc,norm', 'acc')
    """
    parts = [p.strip() for p in str(metric).split(",")]
    base = parts[0]
    if base.endswith("_stderr"):
        base = base[: -len("_stderr")]
    if _NORM in parts[1:]:
        return f"{base},{_NORM}"
    return base


def as_metric_facts(facts: MetricFacts | None, *, what: str = "metric_facts") -> dict[str, MetricInfo]:
    """Normalise a declaration mapping (values :class:`MetricInfo` or spec strings).

    Examples
    --------
    >>> as_metric_facts({"loss2": "lower,continuous,0:inf"})["loss2"].higher_is_better
    False
    """
    if facts is None:
        return {}
    if not isinstance(facts, Mapping):
        raise DeclarationError(f"`{what}` must be a mapping metric name -> MetricInfo or spec "
                               f"string; got {type(facts).__name__}.")
    out: dict[str, MetricInfo] = {}
    for name, v in facts.items():
        if isinstance(v, MetricInfo):
            info = v if v.name == name else MetricInfo(
                str(name), v.lower, v.upper, v.higher_is_better, v.kind, v.sharp, v.latent)
        elif isinstance(v, str):
            info = MetricInfo.parse(str(name), v, what=what)
        else:
            raise DeclarationError(f"`{what}`[{name!r}] must be a MetricInfo or a spec string "
                                   f"such as 'lower,continuous,0:inf'; got {type(v).__name__}.")
        out[str(name)] = info
    return out


def _norm_variant(info: MetricInfo) -> MetricInfo | None:
    # (y - g) / (1 - g) with chance g = mean(1/k) <= 1/2 lies in [-1, 1]
    if info.lower != 0.0 or info.upper != 1.0 or info.chance_normalised:
        return None
    return MetricInfo(f"{info.name},{_NORM}", -1.0, 1.0, info.higher_is_better, info.kind,
                      info.sharp, info.latent)


def find_metric_info(metric: str, facts: MetricFacts | None = None) -> MetricInfo | None:
    """:class:`MetricInfo` of ``metric`` from ``facts`` or the built-in table; None if unknown.

    Declarations are matched on the full name first (``exact_match,flexible-extract``), then on
    the name without its lm-eval filter; they take precedence over built-in entries.
    A ``,norm`` suffix marks a chance-normalised variant ``(y - chance) / (1 - chance)`` of a
    metric in [0, 1]; its range is [-1, 1] (chance is at most 1/2 for k >= 2 choices).

    Examples
    --------
    >>> find_metric_info("bogus") is None
    True
    >>> find_metric_info("acc_norm,none").latent
    'multiple_choice'
    """
    user = as_metric_facts(facts)
    m = str(metric)
    base = base_name(m)
    for key in (m, base):
        if key in user:
            return user[key]
    if base in BUILTIN_METRICS:
        return BUILTIN_METRICS[base]
    if base.endswith("," + _NORM):
        root = base[: -len(_NORM) - 1]
        parent = user.get(root) or BUILTIN_METRICS.get(root)
        if parent is not None:
            return _norm_variant(parent)
    return None


def metric_info(metric: str, facts: MetricFacts | None = None) -> MetricInfo:
    """:class:`MetricInfo` of ``metric``; raise :class:`~emergence.UnknownMetricError` if unknown.

    Parameters
    ----------
    metric : str
        Metric name; lm-eval ``,filter`` suffixes are ignored.
    facts : mapping, optional
        Declarations (name -> :class:`MetricInfo` or spec string) that extend or override the
        built-in table.

    Examples
    --------
    >>> metric_info("ppl").higher_is_better
    False
    >>> metric_info("f1x", {"f1x": "higher,continuous,0:1"}).upper
    1.0
    """
    info = find_metric_info(metric, facts)
    if info is None:
        raise UnknownMetricError([metric], known=sorted(BUILTIN_METRICS))
    return info


def check_metrics(
    metrics: Iterable[str], facts: MetricFacts | None = None, *, function: str | None = None
) -> dict[str, MetricInfo]:
    """Facts of every metric in ``metrics``; one error listing all unknown ones.

    Parameters
    ----------
    metrics : iterable of str
    facts : mapping, optional
        Declarations (see :func:`metric_info`).
    function : str, optional
        The function whose ``metric_facts=`` argument the error names (e.g. ``"extract_curves"``).

    Raises
    ------
    UnknownMetricError
    """
    user = as_metric_facts(facts)
    out: dict[str, MetricInfo] = {}
    unknown: list[str] = []
    for m in dict.fromkeys(str(x) for x in metrics):
        info = find_metric_info(m, user)
        if info is None:
            unknown.append(m)
        else:
            out[m] = info
    if unknown:
        raise UnknownMetricError(unknown, function=function, known=sorted(BUILTIN_METRICS))
    return out


def parse_metric_declaration(text: str, *, what: str = "--metric-info") -> tuple[str, MetricInfo]:
    """Parse ``NAME=SPEC`` (the ``--metric-info`` flag).

    Examples
    --------
    >>> name, info = parse_metric_declaration("val_loss=lower,continuous,0:inf,loss")
    >>> name, info.latent
    ('val_loss', 'loss')
    """
    if "=" not in str(text):
        raise DeclarationError(f"{what} expects NAME=SPEC, e.g. val_loss=lower,continuous,0:inf; "
                               f"got {text!r}.")
    name, spec = str(text).split("=", 1)
    name = name.strip()
    if not name:
        raise DeclarationError(f"{what} {text!r}: the metric name is empty.")
    return name, MetricInfo.parse(name, spec, what=what)


def _check_chance(v: object, what: str) -> float:
    out = _float(v, what)
    if not 0.0 <= out < 1.0:
        raise DeclarationError(f"{what} must be in [0, 1) (1/k for k answer choices); got {out:g}.")
    return out


def parse_chance_declaration(text: str, *, what: str = "--chance") -> tuple[str, float]:
    """Parse ``TASK=VALUE`` (the ``--chance`` flag); ``VALUE`` may be a fraction such as ``1/4``.

    Examples
    --------
    >>> parse_chance_declaration("hellaswag=1/4")
    ('hellaswag', 0.25)
    """
    if "=" not in str(text):
        raise DeclarationError(f"{what} expects TASK=VALUE, e.g. hellaswag=0.25; got {text!r}.")
    task, val = str(text).rsplit("=", 1)
    task, val = task.strip(), val.strip()
    if not task:
        raise DeclarationError(f"{what} {text!r}: the task name is empty.")
    if "/" in val:
        a, b = val.split("/", 1)
        num = _float(a, f"{what} {text}")
        den = _float(b, f"{what} {text}")
        if den == 0:
            raise DeclarationError(f"{what} {text!r}: division by zero.")
        return task, _check_chance(num / den, f"{what} {text}")
    return task, _check_chance(val, f"{what} {text}")


def as_chance_map(chance: Mapping[str, float] | None, *, what: str = "chance") -> dict[str, float]:
    """Check a declared ``task -> chance`` mapping (values in [0, 1))."""
    if chance is None:
        return {}
    if not isinstance(chance, Mapping):
        raise DeclarationError(f"`{what}` must be a mapping task -> chance level (e.g. "
                               f"{{'hellaswag': 0.25}}); got {type(chance).__name__}.")
    return {str(k): _check_chance(v, f"`{what}`[{k!r}]") for k, v in chance.items()}


@dataclass(frozen=True, slots=True)
class Chance:
    """A chance level and where it comes from (see :func:`resolve_chance`).

    Attributes
    ----------
    value : float
        NaN when unknown or not applicable.
    source : {"data", "declared", "definition", "not applicable", "unknown"}
    note : str
        One sentence saying how the value was obtained.
    """

    value: float
    source: str
    note: str


def _finite(a: object) -> np.ndarray | None:
    if a is None:
        return None
    v = np.asarray(a, dtype=float).ravel()
    return v if v.size else None


def resolve_chance(
    info: MetricInfo,
    *,
    n_choices: np.ndarray | None = None,
    declared: float | None = None,
    declared_by: str = "chance=",
    table: np.ndarray | None = None,
) -> Chance:
    """Chance level of a curve: from the data, else declared, else unknown (never from a name).

    Parameters
    ----------
    info : MetricInfo
        The curve's metric.
    n_choices : array_like, optional
        Number of answer choices of each item (per-item curves) or of each aggregate row, as read
        from the data; NaN where unknown. Chance is ``mean(1/k)``: the expected share correct of
        a uniform guesser over these items.
    declared : float, optional
        A declared chance for the curve's task (``chance=`` / ``--chance``).
    declared_by : str
        How ``declared`` was given, for the note.
    table : array_like, optional
        Values of a ``chance`` column of the table (declared by the table's author).

    Returns
    -------
    Chance

    Notes
    -----
    ``multiple_choice`` metrics, and the multiple-choice Brier score (whose link needs the
    number of choices), take chance from the data, else a declaration, else it is unknown.
    ``exact_match`` metrics take it from the data when their items list the choices shown (a
    multiple-choice item answered by generation, e.g. HELM's joint method), else from a
    declaration (a generative task with lettered answers, say), else chance is 0 by definition
    (a free-form answer). Chance-normalised (``,norm``) metrics have 0 by construction. Other
    metrics (losses, log-likelihoods, edit distances, overlap scores) have no chance level
    ("not applicable").

    Examples
    --------
    >>> from emergence.registry import metric_info, resolve_chance
    >>> resolve_chance(metric_info("acc"), n_choices=[4, 4, 2, 4]).value
    0.3125
    >>> resolve_chance(metric_info("acc")).source
    'unknown'
    >>> resolve_chance(metric_info("exact_match")).source
    'definition'
    """
    if info.chance_normalised:
        return Chance(0.0, "definition", f"{info.name} is chance-normalised: chance is 0 by "
                      "construction")
    if info.latent not in ("multiple_choice", "exact_match", "brier"):
        return Chance(math.nan, "not applicable",
                      f"{info.name} ({info.latent}) has no chance level")
    tab = _finite(table)
    tab_value = None
    if tab is not None and np.isfinite(tab).all() and np.ptp(tab) <= 1e-12:
        tab_value = float(tab[0])
    k = _finite(n_choices)
    if k is not None and np.isfinite(k).all() and (k >= 1).all():
        value = float(np.mean(1.0 / k))
        lo, hi = int(k.min()), int(k.max())
        detail = (f"1/k with k = {lo} answer choices for all {k.size} items in the data"
                  if lo == hi else f"mean of 1/k over the {k.size} items' numbers of answer "
                  f"choices in the data (k from {lo} to {hi})")
        conflict = ""
        for d, by in ((declared, declared_by), (tab_value, "the table's chance column")):
            if d is not None and abs(d - value) > 1e-9:
                conflict = f"; {by} declared {d:g}, which the data override"
                break
        return Chance(value, "data", f"chance {value:.4g} = {detail}{conflict}")
    partial = ""
    if k is not None and np.isfinite(k).any():
        partial = (f" (the data give the number of choices for only {int(np.isfinite(k).sum())} "
                   f"of {k.size} items)")
    if declared is not None:
        return Chance(float(declared), "declared",
                      f"chance {declared:g} declared ({declared_by}){partial}")
    if tab_value is not None:
        return Chance(tab_value, "declared",
                      f"chance {tab_value:g} declared in the table's chance column{partial}")
    if info.latent == "exact_match":
        return Chance(0.0, "definition", "exact match of a free-form answer: chance 0 by "
                      f"definition{partial}")
    return Chance(math.nan, "unknown",
                  "chance level unknown: the data do not give the number of answer choices"
                  f"{partial} and none was declared "
                  f"({how('chance={task: value}', '--chance TASK=VALUE')})")
