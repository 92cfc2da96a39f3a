"""Tiny Gato on the synthetic mixed-modality source: the CPU smoke run of the trainer.

Launch:
    gato train --config experiments/synthetic_tiny.py --workdir /tmp/gato_tiny
Variants (comma separated): batch=N, seq_len=N, steps=N, size=tiny|small|79m, fsdp=N.
    gato train --config experiments/synthetic_tiny.py:batch=8,steps=50 --workdir /tmp/gato_tiny
"""

import ml_collections

from gato.train.config import parse_variant
from gato.train.optimizer import default_optimizer_config

VARIANTS = {"batch": int, "seq_len": int, "steps": int, "size": str,
            "fsdp": int}  # variant key -> type


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    c = ml_collections.ConfigDict()

    c.model = ml_collections.ConfigDict()
    c.model.name = variant.get("size", "tiny")  # a gato.model.get_model_config size name
    c.model.overrides = ml_collections.ConfigDict({"dropout_rate": 0.0})  # ModelConfig fields

    c.data = ml_collections.ConfigDict()
    c.data.source = "synthetic"  # a name in gato.data.pipeline.sources.SOURCES
    c.data.image_patches = 4  # patches per observation image (square number)
    c.data.num_continuous = 3  # continuous observation values per timestep
    c.data.num_discrete = 2  # discrete observation (and action) values per timestep
    c.data.discrete_range = 16  # discrete observations lie in [0, discrete_range)
    c.data.num_tasks = 3  # control tasks 1..num_tasks; task 0 is text
    c.data.text_fraction = 0.25  # fraction of rows that are text documents
    c.data.text_vocab = 256  # text rows use ids in [0, text_vocab)

    c.optimizer = default_optimizer_config()  # the paper's AdamW settings, then:
    c.optimizer.learning_rate = 3e-3  # a tiny model on a short run takes a larger peak rate
    c.optimizer.warmup_steps = 10  # and a short warm-up

    c.train = ml_collections.ConfigDict()
    c.train.total_steps = int(variant.get("steps", 30))  # optimizer updates
    c.train.batch_size = int(variant.get("batch", 8))  # global batch, sequences
    c.train.seq_len = int(variant.get("seq_len", 64))  # tokens per sequence
    c.train.seed = 0  # params init, dropout and data seed
    c.train.log_every = 5  # steps between metric writes
    c.train.checkpoint_every = 10  # steps between checkpoints
    c.train.keep_checkpoints = 3  # checkpoints kept on disk
    c.train.profile_start = 0  # first step of a jax.profiler trace to WORKDIR/profile (0: none)
    c.train.profile_steps = 5  # steps traced from profile_start
    c.train.peak_flops_per_device = 0.0  # MFU denominator; 0: measure a matmul at start-up
    c.train.num_task_ids = c.data.num_tasks + 1  # per-task losses for ids [0, N) (0: off)
    c.train.nan_check_keys = ("train/loss", "train/grad_norm", "train/param_norm")  # must be finite
    c.train.loss_on_targets_only = True  # logits only at loss targets (same loss, faster)
    c.train.target_buckets = 16  # distinct target-count sizes compiled at most
    # patch encoder only at image positions, their count bucketed into this many sizes
    # (0: encoder on every position); every (targets, images) size pair compiles once
    c.train.image_buckets = 4
    # continuous targets: Gaussian labels of this std in bins (0: one-hot, the paper; see
    # gato.model.loss)
    c.train.label_sigma = 0.0
    # action targets' softmax: "vocab" (the paper: over all 33025 ids) or "range" (over the
    # action's own 1024 ids, the range the agent samples from; 2048 output rows, not 33025)
    c.train.action_softmax = "vocab"
    c.train.action_buckets = 4  # with "range": distinct action-target counts compiled at most
    # observation tokens as targets too (gato.model.loss.ObservationLoss): the weight of
    # their mean cross entropy beside the action/text mean (0: Gato's objective), and
    # which observation kinds count
    c.train.observation_weight = 0.0
    c.train.observation_kinds = "continuous,discrete"

    # in-training evaluators: name -> {"type", "every", "options"} (gato.train.evaluators)
    c.evaluators = ml_collections.ConfigDict()

    c.mesh = ml_collections.ConfigDict()
    c.mesh.axes = [("data", -1), ("fsdp", int(variant.get("fsdp", 1)))]  # -1: remaining devices
    c.mesh.num_devices = 0  # use the first N devices only (0: all)
    c.mesh.logical_axis_rules = ()  # empty: the model's DEFAULT_LOGICAL_AXIS_RULES

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.resume = True  # resume from WORKDIR/checkpoints when it holds one
    c.checkpoint.resume_from = ""  # explicit checkpoint (dir or step dir) when WORKDIR has none
    c.checkpoint.init_from = ""  # params-only initialization from this checkpoint
    # newest checkpoint damaged (unreadable, or failing its checksums): "fallback" resumes from
    # the newest intact one (the damaged ones are moved to WORKDIR/checkpoints_damaged), "fail"
    c.checkpoint.on_damaged = "fallback"
    return c
