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

from gato.data.pipeline.loader import default_data_config
from gato.eval.config import default_eval_config
from gato.train.config import parse_variant

CONTROL_TASKS = ("cartpole-balance", "cartpole-swingup", "pendulum-swingup", "point_mass-easy",
                 "reacher-easy", "reacher-hard")
ATARI_TASKS = ("boxing", "breakout", "freeway", "pong")
VARIANTS = {"size": str, "fsdp": int, "batch": int, "steps": int}  # variant key -> type


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    c = ml_collections.ConfigDict()

    c.model = ml_collections.ConfigDict()
    c.model.name = str(variant.get("size", "79m"))  # 79m, 364m or 1.18b
    c.model.overrides = ml_collections.ConfigDict({  # ModelConfig fields
        "dtype": "bfloat16",  # bf16 compute, fp32 params
        "remat": "dots_with_no_batch_dims_saveable",  # recompute activations but matmuls
        "dropout_rate": 0.1,  # Gato trains with dropout
        # return-to-go tokens (docs/RETURNS.md); with data.returns.enabled=True
        "return_tokens": False,
    })

    c.data = default_data_config()
    c.data.data_dir = None  # the shared TFDS data_dir (set with --set data.data_dir=...)
    c.data.suites = ""  # tasks listed explicitly below
    c.data.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS, "pydocs"))
    c.data.mixture = ml_collections.ConfigDict({"control": 1.0, "atari": 1.0, "text": 1.0})
    c.data.worker_count = 8  # grain worker processes per host

    c.optimizer = ml_collections.ConfigDict()  # the paper's AdamW recipe
    c.optimizer.learning_rate = 1e-4  # peak learning rate
    c.optimizer.warmup_steps = 15_000  # linear warm-up
    c.optimizer.final_lr_fraction = 0.1  # cosine decay by 10x
    c.optimizer.b1 = 0.9  # Adam beta1
    c.optimizer.b2 = 0.95  # Adam beta2
    c.optimizer.eps = 1e-8  # Adam epsilon
    c.optimizer.weight_decay = 0.1  # AdamW decoupled decay
    c.optimizer.clip_norm = 1.0  # global-norm gradient clipping

    c.train = ml_collections.ConfigDict()
    c.train.total_steps = int(variant.get("steps", 1_000_000))  # optimizer updates
    c.train.batch_size = int(variant.get("batch", 512))  # global batch, sequences
    c.train.seq_len = 1024  # context length
    c.train.seed = 0  # params init, dropout and data seed
    c.train.log_every = 100  # steps between metric writes
    c.train.checkpoint_every = 5_000  # steps between checkpoints
    c.train.keep_checkpoints = 5  # checkpoints kept on disk
    c.train.profile_start = 0  # first step of a jax.profiler trace to WORKDIR/profile (0: none)
    c.train.profile_steps = 5  # steps traced from profile_start
    c.train.peak_flops_per_device = 0.0  # MFU denominator; 0: measure a matmul at start-up
    c.train.nan_check_keys = ("train/loss", "train/grad_norm", "train/param_norm")
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

    c.eval = default_eval_config()
    c.eval.suites = ""  # evaluate exactly the trained tasks with environments
    c.eval.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS))
    c.eval.episodes = 50  # episodes per task
    c.eval.batch_size = 25  # environments stepped together

    # in-training evaluators: name -> {"type", "every", "options"} (gato.train.evaluators);
    # "rollout" scores every eval task with the settings of c.eval, updated by its options
    c.evaluators = ml_collections.ConfigDict({"rollout": {"type": "rollout", "every": 50_000}})

    c.mesh = ml_collections.ConfigDict()
    c.mesh.axes = [("data", -1), ("fsdp", int(variant.get("fsdp", 1)))]  # -1: the rest
    c.mesh.num_devices = 0  # 0: all devices
    c.mesh.logical_axis_rules = ()  # empty: the model's DEFAULT_LOGICAL_AXIS_RULES

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.resume = True  # resume from WORKDIR/checkpoints when it holds one
    c.checkpoint.resume_from = ""  # explicit checkpoint when WORKDIR has none
    c.checkpoint.init_from = ""  # params-only initialization from this checkpoint
    # newest checkpoint damaged (unreadable, or failing its checksums): "fallback" resumes from
    # the newest intact one (the damaged ones are moved to WORKDIR/checkpoints_damaged), "fail"
    c.checkpoint.on_damaged = "fallback"
    return c
