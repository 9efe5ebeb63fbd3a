"""Model family of the lab: GPT-2 configurations, a character tokenizer, CPU training.

Needs the ``lab`` extra (torch, transformers, tokenizers). Import this module only from the lab.

Each size is trained on the same stream of arithmetic lines (test items excluded) for a fixed
budget of training tokens; checkpoints are saved along training with ``save_pretrained`` together
with the tokenizer and a ``scale.json`` recording parameters, non-embedding parameters, tokens and
FLOPs (``6 * params * tokens``). A size whose final checkpoint exists is not trained again.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .tasks import VOCAB, ArithmeticSuite

__all__ = [
    "Architecture",
    "TrainConfig",
    "build_tokenizer",
    "build_model",
    "count_params",
    "train_size",
    "checkpoint_dir",
    "read_scale",
]

# the lab never needs the Hub: everything is local
for _k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_k] = "1"


@dataclass(frozen=True)
class Architecture:
    """A GPT-2 architecture: ``n_layer`` blocks of width ``n_embd`` with ``n_head`` heads, named
    ``name`` (one of the lab's model sizes)."""

    name: str
    n_layer: int
    n_embd: int
    n_head: int


@dataclass(frozen=True)
class TrainConfig:
    """Training recipe shared by every size.

    Attributes
    ----------
    tokens : int
        Training-token budget per size (non-padding tokens of the training lines).
    checkpoints : tuple of float
        Fractions of the budget at which a checkpoint is saved (the last must be 1).
    batch_size : int
        Training lines per step.
    lr : float
        Peak learning rate for width 64; scaled by ``sqrt(64 / n_embd)`` (capped at 3x).
    warmup : float
        Share of steps with linear warm-up; cosine decay to 10% of the peak afterwards.
    weight_decay : float
    seed : int
        Seed of initialisation and of the order of the training stream: one training run.
    budget_seed : int
        Seed of the probe that turns ``tokens`` into a number of steps (from the average line
        length of the stream). Runs that share it and the suite share the number of steps, so
        runs with different ``seed`` get the same token budget.
    threads : int
        torch CPU threads.
    """

    tokens: int
    checkpoints: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    batch_size: int = 64
    lr: float = 2e-3
    warmup: float = 0.05
    weight_decay: float = 0.01
    seed: int = 0
    budget_seed: int = 0
    threads: int = 1


def build_tokenizer():
    """A character-level ``PreTrainedTokenizerFast`` over :data:`~emergence.lab.tasks.VOCAB`.

    Every character is one token; decoding joins characters without spaces.

    Examples
    --------
    >>> tok = build_tokenizer()
    >>> ids = tok.encode("12+34=46\\n")
    >>> len(ids), tok.decode(ids) == "12+34=46\\n"
    (9, True)
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(VOCAB)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
        model_max_length=64,
    )


def build_model(size: Architecture, n_positions: int, seed: int):
    """A freshly initialised ``GPT2LMHeadModel`` (no dropout, tied embeddings).

    Examples
    --------
    >>> model = build_model(Architecture("L2-W32", 2, 32, 2), n_positions=32, seed=0)
    >>> model.config.n_layer, model.config.n_embd
    (2, 32)
    """
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=len(VOCAB),
        n_positions=n_positions,
        n_embd=size.n_embd,
        n_layer=size.n_layer,
        n_head=size.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(cfg)


def count_params(model) -> dict[str, int]:
    """Total parameters (tied matrices once) and non-embedding parameters.

    Non-embedding parameters exclude the token and position embeddings (the tied output matrix is
    the token embedding), as in Kaplan et al. (2020).

    Examples
    --------
    >>> model = build_model(Architecture("L1-W16", 1, 16, 2), n_positions=32, seed=0)
    >>> count_params(model)
    {'params': 4080, 'nonembedding_params': 3312}
    """
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
    emb = model.transformer.wte.weight.numel() + model.transformer.wpe.weight.numel()
    return {"params": int(total), "nonembedding_params": int(total - emb)}


def checkpoint_dir(root: str | Path, size: str, step: int) -> Path:
    """``<root>/<size>/step_<step:06d>``."""
    return Path(root) / size / f"step_{step:06d}"


def read_scale(path: str | Path) -> dict:
    """Read a checkpoint's ``scale.json``."""
    return json.loads((Path(path) / "scale.json").read_text())


def _encode(lines: list[str], n_positions: int) -> tuple[np.ndarray, np.ndarray]:
    index = {c: i for i, c in enumerate(VOCAB)}
    ids = np.zeros((len(lines), n_positions), dtype=np.int64)
    mask = np.zeros((len(lines), n_positions), dtype=np.int64)
    for r, line in enumerate(lines):
        row = [index[c] for c in line]
        ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    return ids, mask


def train_size(
    size: Architecture,
    suite: ArithmeticSuite,
    cfg: TrainConfig,
    root: str | Path,
    *,
    progress: bool = True,
) -> list[Path]:
    """Train one size and save its checkpoints; skip it if its final checkpoint exists.

    An interrupted size is trained again from the start (same seed, same result), so finished
    sizes are never lost and partial ones never mixed with a restart.

    Returns
    -------
    list of Path
        The checkpoint directories, in training order.

    Examples
    --------
    >>> import tempfile
    >>> suite = ArithmeticSuite.build(["add_2d"], n_test=10, seed=0)
    >>> cfg = TrainConfig(tokens=20_000, checkpoints=(0.5, 1.0))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     dirs = train_size(Architecture("L1-W16", 1, 16, 2), suite, cfg, d, progress=False)
    ...     [p.name for p in dirs], read_scale(dirs[-1])["params"]
    (['step_000016', 'step_000033'], 4080)
    """
    import torch
    from tqdm.auto import tqdm

    if not cfg.checkpoints or cfg.checkpoints[-1] != 1.0:
        raise ValueError(f"`checkpoints` must end with 1.0; got {cfg.checkpoints}.")
    torch.set_num_threads(cfg.threads)
    # room for the prompt plus the harness's generation budget (it truncates contexts to
    # n_positions - max_gen_toks)
    n_positions = max(32, suite.max_chars + 16)
    # average line length of the stream (fixed per suite) sets the number of steps
    probe = suite.training_text(4096, seed=np.random.SeedSequence([cfg.budget_seed, 99]))
    mean_len = float(np.mean([len(s) for s in probe]))
    total_steps = max(1, math.ceil(cfg.tokens / (cfg.batch_size * mean_len)))
    ckpt_steps = sorted({max(1, round(f * total_steps)) for f in cfg.checkpoints})
    dirs = [checkpoint_dir(root, size.name, s) for s in ckpt_steps]
    if all((d / "scale.json").exists() for d in dirs):
        return dirs

    tokenizer = build_tokenizer()
    model = build_model(size, n_positions, cfg.seed)
    counts = count_params(model)
    lr = cfg.lr * min(3.0, math.sqrt(64 / size.n_embd))
    decay, no_decay = [], []
    for _n, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.98),
    )
    warm = max(1, int(cfg.warmup * total_steps))

    def lr_at(step: int) -> float:
        if step < warm:
            return lr * (step + 1) / warm
        frac = (step - warm) / max(1, total_steps - warm)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 1]))
    model.train()
    tokens = 0
    t0 = time.perf_counter()
    bar = tqdm(total=total_steps, desc=f"train {size.name}", unit="step", disable=not progress,
               leave=False)
    next_ck = 0
    for step in range(1, total_steps + 1):
        lines = suite.training_text(cfg.batch_size, seed=rng)
        ids, mask = _encode(lines, suite.max_chars)
        x = torch.from_numpy(ids)
        m = torch.from_numpy(mask)
        labels = x.masked_fill(m == 0, -100)
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1)
        out = model(input_ids=x, attention_mask=m, labels=labels)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += int(mask.sum())
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{out.loss.item():.3f}")
        if step == ckpt_steps[next_ck]:
            d = dirs[next_ck]
            d.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(d)
            tokenizer.save_pretrained(d)
            scale = {
                "family": "lab-gpt2",
                "model": size.name,
                "step": step,
                "tokens": tokens,
                "params": counts["params"],
                "nonembedding_params": counts["nonembedding_params"],
                "flops": 6.0 * counts["params"] * tokens,
                "train_loss": float(out.loss.item()),
                "seconds": round(time.perf_counter() - t0, 2),
                "size": asdict(size),
                "train": {k: v for k, v in asdict(cfg).items() if k != "threads"},
                "lr_peak": lr,
                "total_steps": total_steps,
            }
            # scale.json last: its presence marks a complete checkpoint
            (d / "scale.json").write_text(json.dumps(scale, indent=2))
            next_ck += 1
    bar.close()
    return dirs
