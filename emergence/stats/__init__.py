"""Statistical tests and intervals. Each test returns a frozen result object.

==========================================  ================================================
function                                    what it tests / computes
==========================================  ================================================
:func:`pblrt_test`                          parametric-bootstrap LRT: break vs smooth null
:func:`improvement_sign`                    link-scale sign of an improvement of the metric
:func:`davies_test`                         Davies (1987/2002) slope-change test (R segmented)
:func:`supf_test`                           Andrews sup-F, Hansen multiplier bootstrap
:func:`chow_test`                           Chow F test at a break declared in advance
:func:`threshold_interval`                  Hansen (2000) LR confidence set for the break
:func:`adjacent_mcnemar_test`               exact McNemar between adjacent scales (paired)
:func:`proportion_interval`                 Wilson / Jeffreys / Clopper-Pearson / Agresti-Coull
:func:`binomial_test_chance`                exact one-sided binomial test against chance
:func:`emergence_score`                     BIG-bench breakthroughness with a noise floor
:func:`emergence_score_interval`            item (cluster) bootstrap interval of the score
:func:`ic_table`                            AICc / BIC with Akaike weights (descriptive)
:func:`fdr`                                 Benjamini-Hochberg (or any multipletests method)
==========================================  ================================================
"""

from .bootstrap import PBLRTResult, improvement_sign, pblrt_test
from .davies import DaviesResult, davies_test
from .ic import ICTable, akaike_weights, ic_table
from .intervals import (
    BinomialChanceResult,
    ProportionInterval,
    binomial_test_chance,
    proportion_interval,
)
from .multiple import FDRResult, fdr
from .paired import AdjacentMcNemarResult, adjacent_mcnemar_test
from .scores import (
    EmergenceScore,
    EmergenceScoreInterval,
    emergence_score,
    emergence_score_interval,
    step_noise_floor,
)
from .supf import (
    ChowResult,
    SupFResult,
    ThresholdInterval,
    chow_test,
    supf_test,
    threshold_interval,
)

__all__ = [
    "AdjacentMcNemarResult",
    "BinomialChanceResult",
    "ChowResult",
    "DaviesResult",
    "EmergenceScore",
    "EmergenceScoreInterval",
    "FDRResult",
    "ICTable",
    "PBLRTResult",
    "ProportionInterval",
    "SupFResult",
    "ThresholdInterval",
    "adjacent_mcnemar_test",
    "akaike_weights",
    "binomial_test_chance",
    "chow_test",
    "davies_test",
    "emergence_score",
    "emergence_score_interval",
    "fdr",
    "ic_table",
    "improvement_sign",
    "pblrt_test",
    "proportion_interval",
    "step_noise_floor",
    "supf_test",
    "threshold_interval",
]
