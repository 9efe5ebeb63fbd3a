"""Score per-item records under discontinuous and continuous metrics.

The same model outputs, scored with an all-or-nothing metric and with continuous ones, at every
scale. Every metric is a function vectorised over items (:mod:`.metrics`); :func:`rescore`
(:mod:`.rescore`) applies them to a records table (:mod:`emergence.io.records`), driven by a table
of metric definitions, and returns the tidy long table of :mod:`emergence.schema` with one row per
model x item x metric. Text normalisation and tokenizers are in :mod:`.text`.

Metrics and the output types they apply to:

================================  =========================================  ======================
metric                            definition                                 output types
================================  =========================================  ======================
``exact_match``                   prediction equals a target after           generate_until
                                  ``normalize``; for log-likelihood          (loglikelihood
                                  requests the harness's ``is_greedy``       with ``is_greedy``)
``multiple_choice_grade``         1 if the gold choice has the highest       multiple_choice
                                  log-likelihood (first maximum on ties)
``token_edit_distance``           Levenshtein distance between token lists   generate_until
                                  (min over targets)
``normalized_edit_distance``      distance / max(len(pred), len(target))     generate_until
``target_loglik``                 summed log-likelihood of the target, nats  all with a target
                                                                             log-likelihood
``loglik_per_token``              target_loglik / number of target tokens    same
``p_vocab``                       exp(target_loglik): p(correct) over the    same
                                  vocabulary
``p_token``                       exp(target_loglik / tokens): per-token p   same
``p_choices``                     softmax over the choices' log-likelihoods, multiple_choice
                                  mass on the gold choice
``brier_score``                   sum over choices of (p_k - 1[k = gold])^2  multiple_choice
                                  with choice-renormalised p (range [0, 2])
================================  =========================================  ======================

Examples
--------
>>> from emergence.scoring import exact_match, token_edit_distance, brier_score
>>> exact_match([" 42", "41"], ["42", "42"]).tolist()
[1.0, 0.0]
>>> token_edit_distance(["the cat sat"], ["the dog sat down"]).tolist()
[2.0]
>>> round(float(brier_score([[0.0, 0.0]], [0])[0]), 3)
0.5
"""

from __future__ import annotations

from .metrics import (
    bleu,
    brier_score,
    choice_probabilities,
    chosen_choice,
    exact_match,
    loglik_per_token,
    multiple_choice_grade,
    normalized_edit_distance,
    p_choices,
    p_token,
    p_vocab,
    rouge_l,
    token_edit_distance,
)
from .rescore import (
    APPLIES_TO,
    DEFINITIONS,
    METRICS,
    OPTIONAL_METRICS,
    MetricDef,
    _targets_of,
    attach_loglik,
    rescore,
)
from .text import NORMALIZATIONS, TOKENIZERS, normalize_text, tokenize, tokenizer_labels

__all__ = [
    "METRICS",
    "APPLIES_TO",
    "NORMALIZATIONS",
    "TOKENIZERS",
    "tokenizer_labels",
    "DEFINITIONS",
    "MetricDef",
    "rescore",
    "normalize_text",
    "tokenize",
    "exact_match",
    "multiple_choice_grade",
    "chosen_choice",
    "token_edit_distance",
    "normalized_edit_distance",
    "choice_probabilities",
    "p_choices",
    "brier_score",
    "p_vocab",
    "loglik_per_token",
    "p_token",
    "attach_loglik",
    "OPTIONAL_METRICS",
    "bleu",
    "rouge_l",
]

# used by emergence.mirage (the targets of generation records)
_ = _targets_of
