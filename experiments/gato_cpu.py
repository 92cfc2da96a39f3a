"""The main job: a small generalist on the default mixture (control, Atari, text), on one CPU.

`gato main` runs it end to end (generate expert data, train, evaluate, print the table):
    gato main --config gato_cpu --workdir runs/main
Train only, on data generated before:
    gato train --config gato_cpu --workdir runs/main/train --set data.data_dir=runs/main/data
Variants (comma separated): steps=N, batch=N, size=tiny|small, control_episodes=N,
atari_episodes=N, quick (a smoke run). Why each choice, with the runs that chose it:
docs/EXPERIMENTS.md.
"""

import ml_collections

from gato.data.pipeline.loader import default_data_config
from gato.eval.config import default_eval_config
from gato.train.config import parse_variant

CONTROL_TASKS = ("cartpole-balance", "cartpole-swingup", "pendulum-swingup", "point_mass-easy",
                 "reacher-easy", "reacher-hard")
ATARI_TASKS = ("boxing", "breakout", "freeway", "pong")
VARIANTS = {"steps": int, "batch": int, "size": str, "control_episodes": int,
            "atari_episodes": int, "quick": bool}  # variant key -> type


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    c = ml_collections.ConfigDict()

    c.generate = ml_collections.ConfigDict()
    c.generate.control_tasks = ",".join(CONTROL_TASKS)  # control tasks with scripted experts
    c.generate.atari_tasks = ",".join(ATARI_TASKS)  # Atari games with RAM-reading experts
    c.generate.control_episodes = int(variant.get("control_episodes", 4 if quick else 20))
    c.generate.control_max_episode_steps = 100 if quick else 0  # per episode; 0: the task's (1000)
    # per-task episodes / step caps over the suite's: a reacher episode has one target, so the
    # reachers get more, shorter episodes (more targets, same steps); cart-pole needs long ones
    reacher = {"episodes": 100, "max_episode_steps": 200}
    c.generate.task_overrides = ml_collections.ConfigDict(
        {} if quick else {"reacher-easy": reacher, "reacher-hard": reacher})
    c.generate.atari_episodes = int(variant.get("atari_episodes", 4 if quick else 20))  # per task
    c.generate.atari_max_episode_steps = 100 if quick else 1000  # cap on Atari episodes (steps)
    # execution noise while recording (DART): the env runs perturbed actions, episodes store the
    # expert's own, so cloned policies see how the expert recovers (gato.policies.noise)
    c.generate.control_action_noise = 0.5  # Gaussian std / half the action range
    # AR(1) coefficient of that noise per step: sustained pushes (~10 steps) move pendulum and
    # cart-pole off the expert's path, where independent noise averages out (0: i.i.d.)
    c.generate.control_noise_correlation = 0.9
    c.generate.atari_action_noise = 0.0  # probability of a random action
    c.generate.workers = 2  # worker processes
    c.generate.seed = 0  # base seed of the generated episodes

    c.model = ml_collections.ConfigDict()
    c.model.name = variant.get("size", "tiny" if quick else "small")  # gato.model size name
    seq_len = 128 if quick else 256  # tokens per training window
    # ModelConfig fields. max_len = seq_len: evaluation attends over the context it was trained
    # on. ALiBi: a recency bias, so the latest observation is easy to find. Sinusoidal continuous
    # bins: neighbouring values start out similar. Both make behaviour cloning learn in few steps.
    # Masked action inputs: the model cannot copy the previous action (smooth expert actions make
    # that the easy answer in training, and a copied mistake in closed loop), so it must read the
    # observation. Attention in 4 query blocks and the backward pass recomputing all but the
    # matmuls: the same math, less memory traffic on a CPU. See ModelConfig; the paper recipe
    # (experiments/gato_cluster.py) has none of these.
    c.model.overrides = ml_collections.ConfigDict({
        "dropout_rate": 0.0, "max_len": seq_len, "position_bias": "alibi",
        "continuous_embedding_init": "sinusoidal", "action_inputs": "masked",
        "attention_blocks": 4, "remat": "dots_saveable"})

    c.data = default_data_config()
    c.data.data_dir = None  # set by `gato main` to WORKDIR/data
    c.data.suites = ""  # tasks are listed explicitly: the ones with generated data
    c.data.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS, "pydocs"))
    # sampling weights per suite: most updates go to control; text is light because a text
    # window holds ~6x the loss targets of a control window and the loss averages over targets
    c.data.mixture = ml_collections.ConfigDict({"control": 4.0, "atari": 0.5, "text": 0.25})
    c.data.worker_count = 1  # one grain worker: the other core trains

    c.optimizer = ml_collections.ConfigDict()
    c.optimizer.learning_rate = 1e-3  # peak (the paper's 1e-4 is for batch 512 at 1.18B scale)
    c.optimizer.warmup_steps = 10 if quick else 50  # linear warm-up (paper: 15000)
    c.optimizer.final_lr_fraction = 0.1  # cosine decays to this fraction of the peak
    c.optimizer.b1 = 0.9  # Adam beta1
    c.optimizer.b2 = 0.95  # Adam beta2
    c.optimizer.eps = 1e-8  # Adam epsilon
    c.optimizer.weight_decay = 0.1  # AdamW decoupled decay, on ndim >= 2 params
    c.optimizer.clip_norm = 1.0  # global-norm gradient clipping

    c.train = ml_collections.ConfigDict()
    # the clone under-fits, so the time budget goes to many small steps (docs/EXPERIMENTS.md)
    c.train.total_steps = int(variant.get("steps", 20 if quick else 4000))  # optimizer updates
    c.train.batch_size = int(variant.get("batch", 8))  # global batch
    c.train.seq_len = seq_len  # tokens per sequence
    c.train.seed = 0  # params init, dropout and data seed
    c.train.log_every = 5 if quick else 10  # steps between metric writes
    c.train.checkpoint_every = 10 if quick else 100  # steps between checkpoints
    c.train.keep_checkpoints = 2  # checkpoints kept on disk
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
    c.train.action_softmax = "range"
    c.train.action_buckets = 4  # with "range": distinct action-target counts compiled at most
    # observation tokens as targets too (gato.model.loss.ObservationLoss): the weight of
    # their mean cross entropy beside the action/text mean (0: Gato's objective), and
    # which observation kinds count
    c.train.observation_weight = 0.0
    c.train.observation_kinds = "continuous,discrete"

    c.eval = default_eval_config()
    c.eval.suites = ""  # evaluate exactly the trained tasks with environments
    c.eval.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS))
    # every episode capped at 1000 agent steps (Atari: ~67 s of play), scored against reference
    # returns measured under the same cap (gato.envs.protocol)
    c.eval.protocol = "cap1000"
    c.eval.episodes = 2 if quick else 5  # episodes per task (0: the protocol's 10)
    c.eval.batch_size = 2 if quick else 5  # environments stepped together
    c.eval.max_steps = 50 if quick else 0  # cap override (0: the protocol's)
    c.eval.normalize = not quick  # no reference returns are measured at the smoke run's cap
    c.eval.prompt_tokens = seq_len // 4  # demonstration prompt: the training prompt budget

    # in-training evaluators: name -> {"type", "every", "options"} (gato.train.evaluators);
    # none here: `gato main` evaluates the final checkpoint
    c.evaluators = ml_collections.ConfigDict()

    c.mesh = ml_collections.ConfigDict()
    c.mesh.axes = [("data", -1), ("fsdp", 1)]  # -1: the remaining devices
    c.mesh.num_devices = 0  # 0: all local devices
    c.mesh.logical_axis_rules = ()  # empty: the model's DEFAULT_LOGICAL_AXIS_RULES

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.resume = True  # resume from WORKDIR/checkpoints when it holds one
    c.checkpoint.resume_from = ""  # explicit checkpoint when WORKDIR has none
    c.checkpoint.init_from = ""  # params-only initialization from this checkpoint
    # newest checkpoint damaged (unreadable, or failing its checksums): "fallback" resumes from
    # the newest intact one (the damaged ones are moved to WORKDIR/checkpoints_damaged), "fail"
    c.checkpoint.on_damaged = "fallback"
    return c
