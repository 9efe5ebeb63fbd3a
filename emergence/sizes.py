"""Scale axes: parameter counts of known suites, tokens from steps, FLOPs = 6ND.

Examples
--------
>>> from emergence.sizes import pythia_size, training_flops
>>> pythia_size("160m").params
162322944
>>> training_flops(1e9, 2e10)
1.2e+20
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ModelSize",
    "PYTHIA_SIZES",
    "PYTHIA_TOKENS_PER_STEP",
    "PYTHIA_FINAL_STEP",
    "pythia_size",
    "parse_pythia_name",
    "parse_step",
    "training_flops",
    "MOE_SIZES",
    "moe_size",
]


@dataclass(frozen=True, slots=True)
class ModelSize:
    """Parameter counts of one model.

    Attributes
    ----------
    params : int
        Total parameters.
    nonembedding_params : int
        Parameters excluding the embedding and unembedding matrices.
    active_params : int
        Parameters used per token (equal to ``params`` for dense models).
    """

    params: int
    nonembedding_params: int
    active_params: int


#: Pythia suite, Biderman et al. (2023), Table 1: total and non-embedding parameter counts.
PYTHIA_SIZES: dict[str, ModelSize] = {
    "70m": ModelSize(70_426_624, 18_915_328, 70_426_624),
    "160m": ModelSize(162_322_944, 85_056_000, 162_322_944),
    "410m": ModelSize(405_334_016, 302_311_424, 405_334_016),
    "1b": ModelSize(1_011_781_632, 805_736_448, 1_011_781_632),
    "1.4b": ModelSize(1_414_647_808, 1_208_602_624, 1_414_647_808),
    "2.8b": ModelSize(2_775_208_960, 2_517_652_480, 2_775_208_960),
    "6.9b": ModelSize(6_857_302_016, 6_444_163_072, 6_857_302_016),
    "12b": ModelSize(11_846_072_320, 11_327_027_200, 11_846_072_320),
}

#: Pythia trains with batches of 1024 sequences of 2048 tokens.
PYTHIA_TOKENS_PER_STEP: int = 2_097_152
#: Last checkpoint of every Pythia model (about 300B tokens).
PYTHIA_FINAL_STEP: int = 143_000

_PYTHIA_RE = re.compile(
    r"pythia(?:-v1\.1|-v0)?-(?P<size>\d+(?:\.\d+)?[mb])(?P<rest>(?:-[a-z0-9]+)*)", re.IGNORECASE
)
_STEP_RE = re.compile(r"(?:^|[^a-z])(?:step|global_step|iter|ckpt)[-_]?(?P<step>\d+)", re.IGNORECASE)


def pythia_size(size: str) -> ModelSize:
    """Parameter counts of a Pythia model given its size label (``'70m'`` ... ``'12b'``).

    Raises
    ------
    KeyError
        The label is not a Pythia size; the message lists the known ones.
    """
    key = size.lower()
    if key == "1.0b":
        key = "1b"
    if key not in PYTHIA_SIZES:
        raise KeyError(
            f"unknown Pythia size {size!r}; known sizes: {', '.join(PYTHIA_SIZES)}. Pass the "
            "parameter count explicitly (params=...)."
        )
    return PYTHIA_SIZES[key]


def parse_pythia_name(name: str) -> tuple[str, str] | None:
    """Return ``(model_name, size_label)`` for a Pythia model id, or None.

    Examples
    --------
    >>> parse_pythia_name("EleutherAI/pythia-v1.1-1b-bf16")
    ('pythia-1b-bf16', '1b')
    >>> parse_pythia_name("gpt2") is None
    True
    """
    m = _PYTHIA_RE.search(name)
    if not m:
        return None
    size = m.group("size").lower()
    rest = m.group("rest").lower()
    return f"pythia-{size}{rest}", size


def parse_step(text: str) -> int | None:
    """Find a checkpoint step (``step13000``, ``global_step500``, ``iter_2000``, ``ckpt-100``) in a
    revision string or file name.

    Examples
    --------
    >>> parse_step("160m-5shot_step13000.json")
    13000
    >>> parse_step("main") is None
    True
    """
    m = _STEP_RE.search(text)
    return int(m.group("step")) if m else None


def training_flops(params: float | np.ndarray, tokens: float | np.ndarray) -> float | np.ndarray:
    """Training compute ``C = 6 N D`` (Kaplan et al. 2020): forward + backward per token.

    Use active parameters for mixture-of-experts models.
    """
    return 6.0 * np.asarray(params, dtype=float) * np.asarray(tokens, dtype=float) if (
        isinstance(params, np.ndarray) or isinstance(tokens, np.ndarray)
    ) else 6.0 * float(params) * float(tokens)


#: Mixture-of-experts models: (total, active-per-token) parameters from the model cards.
MOE_SIZES: dict[str, tuple[float, float]] = {
    "mistralai/Mixtral-8x7B-v0.1": (46.7e9, 12.9e9),
    "mistralai/Mixtral-8x22B-v0.1": (141e9, 39e9),
    "deepseek-ai/DeepSeek-V2": (236e9, 21e9),
    "deepseek-ai/DeepSeek-Coder-V2-Base": (236e9, 21e9),
    "deepseek-ai/deepseek-moe-16b-base": (16.4e9, 2.8e9),
    "ai21labs/Jamba-v0.1": (52e9, 12e9),
    "Qwen/Qwen2-57B-A14B": (57.4e9, 14.2e9),
    "Qwen/Qwen1.5-MoE-A2.7B": (14.3e9, 2.7e9),
}


def moe_size(model: str) -> tuple[float, float] | None:
    """(total, active) parameters of a known mixture-of-experts model, else None.

    Examples
    --------
    >>> moe_size("mistralai/Mixtral-8x7B-v0.1")
    (46700000000.0, 12900000000.0)
    """
    if model in MOE_SIZES:
        return MOE_SIZES[model]
    tail = model.rsplit("/", 1)[-1].lower()
    for name, sizes in MOE_SIZES.items():
        if name.rsplit("/", 1)[-1].lower() == tail:
            return sizes
    return None
