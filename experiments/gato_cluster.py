"""The paper-scale run: Gato's training recipe on the default mixture, for a GPU or TPU cluster.

Generate the data once (every host reads the same TFDS data_dir, e.g. on a shared filesystem):
    gato generate --suite control,atari --episodes 1000 --workers 32 --data-dir $DATA
Launch on every host (JAX's multi-controller runtime; single host: drop the last three flags):
    gato train --config experiments/gato_cluster.py:size=79m --workdir $RUN \
        --set data.data_dir=$DATA --coordinator $HOST0:1234 --num-processes $N --process-id $I
Variants: size=79m|364m|1.18b (Table 6 of the paper), fsdp=N (shard params and optimizer
state over N devices; 1.18b needs it on 80 GB GPUs with batch 512), batch=N, steps=N.
"""

import ml_collections

from gato.config import default_config, parse_variant
from gato.config.presets import ATARI_TASKS, CONTROL_TASKS

VARIANTS = {"size": str, "fsdp": int, "batch": int, "steps": int}  # variant key -> type


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    c = default_config()

    c.model.name = str(variant.get("size", "79m"))  # 79m, 364m or 1.18b (Table 6)
    c.model.overrides = {
        "dtype": "bfloat16",  # bf16 compute, fp32 params
        "remat": "dots_with_no_batch_dims_saveable",  # recompute activations but matmuls
        "dropout_rate": 0.1,  # Gato trains with dropout
        "return_tokens": False,
    }  # otherwise the paper's ModelConfig (no ALiBi, no masked action inputs)

    c.data.suites = ""  # the shared TFDS data_dir: --set data.data_dir=...
    c.data.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS, "pydocs"))
    c.data.worker_count = 8  # grain worker processes per host
    # the optimizer section's defaults are the paper's AdamW recipe

    c.train.total_steps = int(variant.get("steps", 1_000_000))
    c.train.batch_size = int(variant.get("batch", 512))
    c.train.seq_len = 1024  # context length
    c.train.log_every = 100
    c.train.checkpoint_every = 5_000
    c.train.keep_checkpoints = 5
    c.train.action_softmax = "vocab"  # the paper's objective

    c.eval.suites = ""
    c.eval.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS))
    c.eval.episodes = 50
    c.eval.batch_size = 25

    c.evaluators = {"rollout": {"type": "rollout", "every": 50_000}}
    c.mesh.axes = [("data", -1), ("fsdp", int(variant.get("fsdp", 1)))]
    return c
