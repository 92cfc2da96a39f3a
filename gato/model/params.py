"""Parameter counting without allocation (`jax.eval_shape`), and the counting convention.

Counted as Gato-size names are (see `param_breakdown`): the paper's Table 6 names (79M, 364M,
1.18B) are compared against `count_params`, which counts every parameter the model has: the
transformer blocks, the final norm, the patch encoder, the position/action encodings and the
token embedding table, which is also the (tied) output layer and so counted once.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gato.model.config import ModelConfig
from gato.model.gato import Gato
from gato.tokenizers.vocab import IMAGE_CHANNELS, PATCH_SIZE


def dummy_batch(batch_size: int = 1, length: int = 2) -> dict[str, jax.Array]:
    """An all-padding batch with the model's input fields (for init and shape evaluation)."""
    b, n = batch_size, length
    return {
        "tokens": jnp.zeros((b, n), jnp.int32),
        "modality": jnp.zeros((b, n), jnp.int8),
        "loss_mask": jnp.zeros((b, n), bool),
        "is_action": jnp.zeros((b, n), bool),
        "local_pos": jnp.zeros((b, n), jnp.int32),
        "patches": jnp.zeros((b, n, PATCH_SIZE, PATCH_SIZE, IMAGE_CHANNELS), jnp.uint8),
        "patch_pos": jnp.zeros((b, n, 4), jnp.float32),
        "task_id": jnp.zeros((b,), jnp.int32),
    }


def param_shapes(config: ModelConfig) -> dict:
    """The params pytree of `Gato(config)` as unboxed ShapeDtypeStructs (nothing is allocated)."""
    def init(rng):
        return Gato(config).init({"params": rng, "patch_pos": rng}, dummy_batch(), train=False)

    variables = jax.eval_shape(init, jax.random.key(0))
    return nn.meta.unbox(variables["params"])


def _size(tree) -> int:
    return int(sum(np.prod(x.shape, dtype=np.int64) for x in jax.tree.leaves(tree)))


def param_breakdown(config: ModelConfig) -> dict[str, int]:
    """Parameter counts: "total", "token_embedding" (the tied vocab table), "transformer"
    (blocks + final norm), "image_and_positions" (patch encoder, position and action codes)."""
    params = param_shapes(config)
    embed = dict(params["embed"])
    table = _size(embed.pop("table"))
    return {
        "total": _size(params),
        "token_embedding": table,
        "transformer": _size(params["decoder"]),
        "image_and_positions": _size(embed),
    }


def count_params(config: ModelConfig) -> int:
    """Total number of parameters of `Gato(config)`, computed with `jax.eval_shape`."""
    return param_breakdown(config)["total"]
