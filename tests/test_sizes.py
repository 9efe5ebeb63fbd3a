"""Scale axes: Pythia parameter counts checked against the architecture, step and name parsing,
FLOPs = 6ND, mixture-of-experts sizes."""

import numpy as np
import pytest

from emergence.sizes import (
    MOE_SIZES,
    PYTHIA_FINAL_STEP,
    PYTHIA_SIZES,
    PYTHIA_TOKENS_PER_STEP,
    moe_size,
    parse_pythia_name,
    parse_step,
    pythia_size,
    training_flops,
)

#: Pythia architectures (Biderman et al. 2023, Table 1: layers, model dimension) and the padded
#: vocabulary sizes of the released checkpoints (``vocab_size`` in each model's config.json).
ARCH = {
    "70m": (6, 512, 50304),
    "160m": (12, 768, 50304),
    "410m": (24, 1024, 50304),
    "1b": (16, 2048, 50304),
    "1.4b": (24, 2048, 50304),
    "2.8b": (32, 2560, 50304),
    "6.9b": (32, 4096, 50432),
    "12b": (36, 5120, 50688),
}


@pytest.mark.parametrize("size", list(ARCH))
def test_pythia_counts_follow_from_the_architecture(size):
    # GPT-NeoX layer: QKV (3d^2 + 3d), attention out (d^2 + d), MLP (8d^2 + 5d), two layer norms
    # (4d) = 12d^2 + 13d; plus the final layer norm (2d). Untied input and output embeddings.
    layers, d, vocab = ARCH[size]
    s = PYTHIA_SIZES[size]
    assert s.nonembedding_params == layers * (12 * d * d + 13 * d) + 2 * d
    assert s.params - s.nonembedding_params == 2 * vocab * d
    assert s.active_params == s.params  # dense models


def test_pythia_sizes_ordered_and_constants():
    params = [PYTHIA_SIZES[k].params for k in ARCH]
    assert params == sorted(params) and list(PYTHIA_SIZES) == list(ARCH)
    # 143,000 steps of 1024 sequences x 2048 tokens: the suite's ~300B tokens
    assert PYTHIA_TOKENS_PER_STEP == 1024 * 2048
    assert PYTHIA_FINAL_STEP * PYTHIA_TOKENS_PER_STEP == pytest.approx(3.0e11, rel=0.001)


def test_pythia_size_labels():
    assert pythia_size("160M") is PYTHIA_SIZES["160m"]
    assert pythia_size("1.0b") is PYTHIA_SIZES["1b"]
    with pytest.raises(KeyError, match=r"unknown Pythia size '3b'; known sizes: 70m, 160m.*params="):
        pythia_size("3b")


@pytest.mark.parametrize("name, expected", [
    ("EleutherAI/pythia-v1.1-1b-bf16", ("pythia-1b-bf16", "1b")),
    ("EleutherAI/pythia-410m-deduped", ("pythia-410m-deduped", "410m")),
    ("EleutherAI/Pythia-1.4B", ("pythia-1.4b", "1.4b")),
    ("pretrained=EleutherAI/pythia-v1.1-70m,revision=step143000", ("pythia-70m", "70m")),
    ("pythia-v0-12b", ("pythia-12b", "12b")),
    ("gpt2", None),
    ("EleutherAI/gpt-neox-20b", None),
])
def test_parse_pythia_name(name, expected):
    assert parse_pythia_name(name) == expected


@pytest.mark.parametrize("text, step", [
    ("160m-5shot_step13000.json", 13000),
    ("revision=step143000", 143000),
    ("global_step500", 500),
    ("iter_2000", 2000),
    ("ckpt-100", 100),
    ("step0", 0),
    ("main", None),
    ("footstep12", None),  # "step" inside a word is not a checkpoint
    ("step", None),
])
def test_parse_step(text, step):
    assert parse_step(text) == step


def test_training_flops():
    assert training_flops(1e9, 2e10) == 1.2e20 and isinstance(training_flops(1e9, 2e10), float)
    n = np.array([1e8, 1e9])
    np.testing.assert_allclose(training_flops(n, 1e10), [6e18, 6e19])
    np.testing.assert_allclose(training_flops(1e9, np.array([1e9, 1e10])), [6e18, 6e19])
    np.testing.assert_allclose(training_flops(n, np.array([2e9, 3e9])), [1.2e18, 1.8e19])
    # Pythia-160m at its final checkpoint
    tokens = PYTHIA_FINAL_STEP * PYTHIA_TOKENS_PER_STEP
    assert training_flops(PYTHIA_SIZES["160m"].params, tokens) == pytest.approx(2.92e20, rel=1e-3)


def test_moe_sizes():
    assert moe_size("mistralai/Mixtral-8x7B-v0.1") == (46.7e9, 12.9e9)
    # matched on the name without its organisation, ignoring case
    assert moe_size("someone/mixtral-8x7b-v0.1") == (46.7e9, 12.9e9)
    assert moe_size("meta-llama/Llama-2-7b-hf") is None
    assert moe_size("Mixtral") is None  # no partial matches
    for model, (total, active) in MOE_SIZES.items():
        assert 0 < active < total, model
