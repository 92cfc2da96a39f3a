"""AdamW with the Gato paper's defaults: linear warmup, cosine decay by 10x, global-norm clipping.

Weight decay is applied only to parameters with two or more dimensions (dense kernels, attention
projections, convolution kernels, the token embedding table and the learned position tables) and
masked off biases and normalization scales/offsets, as in GPT-2/nanoGPT: decaying 1-D scale and
shift parameters pulls them towards zero and is known to hurt, while the paper leaves this choice
unstated.
"""

from typing import Any

import jax
import ml_collections
import optax

from gato.config import defaults


def default_optimizer_config() -> ml_collections.ConfigDict:
    """The optimizer section's defaults: the paper's (`gato.config.defaults`)."""
    return defaults.section("optimizer")


def make_schedule(opt_config: Any, total_steps: int) -> optax.Schedule:
    """Learning rate per step: 0 -> lr linearly over `warmup_steps`, then cosine to lr / 10.

    The cosine runs from the end of warm-up to `total_steps` (at least one step long), and holds
    lr * final_lr_fraction after that.
    """
    lr = float(opt_config.learning_rate)
    warmup = int(min(opt_config.warmup_steps, max(total_steps - 1, 0)))
    final = lr * float(opt_config.final_lr_fraction)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=lr, warmup_steps=warmup,
        decay_steps=max(int(total_steps), warmup + 1), end_value=final,
    )


def decay_mask(params: Any) -> Any:
    """True for leaves that get weight decay: every parameter with ndim >= 2."""
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(opt_config: Any, total_steps: int) -> tuple[optax.GradientTransformation,
                                                                optax.Schedule]:
    """Returns (clip -> AdamW transformation, learning-rate schedule) from `config.optimizer`.

    Keys: learning_rate, warmup_steps, final_lr_fraction (0.1), b1, b2, eps, weight_decay,
    clip_norm (<= 0 disables clipping).
    """
    schedule = make_schedule(opt_config, total_steps)
    adamw = optax.adamw(
        schedule, b1=float(opt_config.b1), b2=float(opt_config.b2), eps=float(opt_config.eps),
        weight_decay=float(opt_config.weight_decay), mask=decay_mask,
    )
    clip = float(opt_config.clip_norm)
    chain = [optax.clip_by_global_norm(clip)] if clip > 0 else []
    return optax.chain(*chain, adamw), schedule
