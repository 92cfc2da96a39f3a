"""Tiny Gato on the synthetic mixed-modality source: the CPU smoke run of the trainer.

Launch:
    gato train --config experiments/synthetic_tiny.py --workdir /tmp/gato_tiny
Variants (comma separated): batch=N, seq_len=N, steps=N, size=tiny|small|79m, fsdp=N.
    gato train --config experiments/synthetic_tiny.py:batch=8,steps=50 --workdir /tmp/gato_tiny
"""

import ml_collections

from gato.config import default_config, parse_variant

VARIANTS = {"batch": int, "seq_len": int, "steps": int, "size": str,
            "fsdp": int}  # variant key -> type

def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    c = default_config()

    c.model.name = variant.get("size", "tiny")
    c.model.overrides = {"dropout_rate": 0.0}  # the paper's ModelConfig otherwise

    c.data.source = "synthetic"  # the synthetic mixed-modality source (data.image_patches ...)

    c.optimizer.learning_rate = 3e-3  # a tiny model on a short run takes a larger peak rate
    c.optimizer.warmup_steps = 10  # and a short warm-up

    c.train.total_steps = int(variant.get("steps", 30))
    c.train.batch_size = int(variant.get("batch", 8))
    c.train.seq_len = int(variant.get("seq_len", 64))
    c.train.log_every = 5
    c.train.checkpoint_every = 10
    c.train.keep_checkpoints = 3
    c.train.num_task_ids = c.data.num_tasks + 1  # per-task losses (task 0 is text)
    c.train.action_softmax = "vocab"

    c.mesh.axes = [("data", -1), ("fsdp", int(variant.get("fsdp", 1)))]
    return c
