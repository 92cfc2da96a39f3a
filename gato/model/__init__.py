"""The Gato model: config, flax module, KV cache, loss, parameter and FLOP counting."""

from gato.model.build import param_shapes
from gato.model.cache import KVCache, init_cache, reset_rows
from gato.model.config import MODEL_SIZES, ModelConfig, get_model_config
from gato.model.flops import (
    attention_flops_per_token,
    flops_per_token,
    forward_flops_per_token,
    matmul_params,
)
from gato.model.gato import Gato
from gato.model.loss import masked_loss, per_task_loss
from gato.model.params import count_params, param_breakdown
from gato.model.transformer import stack_layer_params, unstack_layer_params

# Suggested logical -> mesh axis rules (the trainer owns the final ones): shard the batch over
# data and fsdp, and parameters' embed dimension over fsdp.
DEFAULT_LOGICAL_AXIS_RULES = (
    ("batch", ("data", "fsdp")),
    ("embed", "fsdp"),
    ("vocab", None),
    ("mlp", None),
    ("heads", None),
    ("kv", None),
    ("layers", None),
    ("patch_in", None),
    ("positions", None),
    ("length", None),
)

__all__ = [
    "DEFAULT_LOGICAL_AXIS_RULES",
    "MODEL_SIZES",
    "Gato",
    "KVCache",
    "ModelConfig",
    "attention_flops_per_token",
    "count_params",
    "flops_per_token",
    "forward_flops_per_token",
    "get_model_config",
    "init_cache",
    "masked_loss",
    "matmul_params",
    "param_breakdown",
    "param_shapes",
    "per_task_loss",
    "reset_rows",
    "stack_layer_params",
    "unstack_layer_params",
]
