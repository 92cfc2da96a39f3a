"""Building the model from an experiment config's `model` section: shared by train and eval."""

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from gato.model.config import ModelConfig, get_model_config
from gato.model.gato import Gato
from gato.tokenizers import sequence as seqlib


def model_config_from(section: Mapping[str, Any]) -> ModelConfig:
    """The ModelConfig of a `model` section {"name": size name, "overrides": {field: value}}."""
    return get_model_config(section["name"], **dict(section.get("overrides") or {}))


def build_model(section: Mapping[str, Any]) -> tuple[Gato, ModelConfig]:
    """(Gato module, ModelConfig) from a `model` section (name + overrides)."""
    config = model_config_from(section)
    return Gato(config), config


def example_batch(batch_size: int, seq_len: int) -> dict[str, np.ndarray]:
    """An all-padding batch [batch_size, seq_len, ...] in the training layout (for init and
    shape inference), plus `task_id` int32 [batch_size]."""
    seq = seqlib.empty(seq_len)
    batch = {k: np.broadcast_to(v, (batch_size, *v.shape)).copy() for k, v in seq.items()}
    batch["task_id"] = np.zeros((batch_size,), np.int32)
    return batch


def init_boxed(model: Gato, rng: jax.Array, seq_len: int = 8) -> Any:
    """The params of `model` initialized from `rng` on an `example_batch`, still boxed with
    their logical axis names (what sharding reads); `nn.unbox` them to use."""
    return model.init({"params": rng, "patch_pos": rng}, example_batch(1, seq_len),
                      train=False)["params"]


def param_shapes(config: ModelConfig) -> Any:
    """The unboxed params pytree of `Gato(config)` as ShapeDtypeStructs (nothing allocated)."""
    return nn.unbox(jax.eval_shape(lambda rng: init_boxed(Gato(config), rng),
                                   jax.random.PRNGKey(0)))
