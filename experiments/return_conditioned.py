"""Ask for performance: BC on all, %BC and return-conditioned, on the same mixed-quality data.

One command runs the whole study (`gato.return_study`): mixed data for 6 control tasks, three
arms trained on it with the same model and steps, each evaluated over 20 episodes per task, a
sweep of requested returns for the return-conditioned arm, then a table and a plot:
    gato return-study --config return_conditioned --workdir runs/rc
    gato return-study --config experiments/return_conditioned.py:tiny --workdir /tmp/rc  # smoke
Variants (comma separated): steps=N (per arm), episodes=N (eval), tiny (a minutes-long smoke run
of every step on two tasks: it checks the plumbing, not the question); and to scale it up on
one accelerator host, the cluster recipe's model and sharding: size=79m|364m|1.18b (bf16,
remat, as experiments/gato_cluster.py), batch=N (global), fsdp=N (parameter shards):
    gato return-study --config return_conditioned:size=79m,batch=128 --workdir runs/rc79m

The data (generate.behaviours): per task, the scripted expert acting through executed noise of
two strengths (AR(1), coefficient 0.9 per step) and a random policy, the executed actions stored
(`gato.data.recording.behaviours`). No clean expert: measured over 3-4 episodes per level
(`gato data describe`), the best level of each task averages ~55-75% of the expert's return
(cartpole-balance noise 0.7: 709 of 1000; swingup 0.7: 520 of 850; pendulum 0.5: 484 of 799;
point_mass 0.5: 518 of 842; reacher-easy 1.0: 653 of 988; reacher-hard 0.8: between 730 (0.7)
and 393 (0.85) of 978), so each task has its own levels.
"""

import ml_collections

from gato.data.pipeline.loader import default_data_config
from gato.eval.config import default_eval_config
from gato.train.config import parse_variant

CONTROL_TASKS = ("cartpole-balance", "cartpole-swingup", "pendulum-swingup", "point_mass-easy",
                 "reacher-easy", "reacher-hard")
TINY_TASKS = ("cartpole-swingup", "pendulum-swingup")
VARIANTS = {"steps": int, "episodes": int, "tiny": bool, "size": str, "batch": int,
            "fsdp": int}  # variant key -> type
# per-task behaviour mixes: two executed-noise levels of the expert, then random actions
MIXES = {
    "cartpole-balance": "noisy0.7:40,noisy1:40,random:20",
    "cartpole-swingup": "noisy0.7:40,noisy1:40,random:20",
    "pendulum-swingup": "noisy0.5:40,noisy0.85:40,random:20",
    "point_mass-easy": "noisy0.5:40,noisy0.85:40,random:20",
    "reacher-easy": "noisy1:40,noisy1.5:40,random:20",
    "reacher-hard": "noisy0.8:40,noisy1.2:40,random:20",
}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    tiny = bool(variant.get("tiny", False))
    tasks = TINY_TASKS if tiny else CONTROL_TASKS
    c = ml_collections.ConfigDict()

    c.generate = ml_collections.ConfigDict()
    c.generate.tasks = ",".join(tasks)  # control tasks with scripted experts
    # task -> behaviour mix (gato.data.recording.behaviours): expert:N, noisyS:N, random:N
    c.generate.behaviours = ml_collections.ConfigDict(
        {t: ("noisy0.7:3,noisy1:3,random:2" if tiny else MIXES[t]) for t in tasks})
    c.generate.max_episode_steps = 100 if tiny else 1000  # per episode (the eval cap too)
    c.generate.noise_correlation = 0.9  # AR(1) coefficient per step of the executed noise
    c.generate.workers = 2  # worker processes
    c.generate.seed = 0  # base seed of the episodes

    c.model = ml_collections.ConfigDict()
    size = str(variant.get("size", "tiny" if tiny else "small"))
    c.model.name = size  # gato.model size name
    seq_len = 64 if tiny else 256  # tokens per training window
    # ModelConfig fields, as experiments/gato_cpu.py (see there why); the study sets
    # return_tokens per arm
    c.model.overrides = ml_collections.ConfigDict({
        "dropout_rate": 0.0, "max_len": seq_len, "position_bias": "alibi",
        "continuous_embedding_init": "sinusoidal", "action_inputs": "masked",
        "return_tokens": False})
    if size not in ("tiny", "small"):  # the cluster recipe's sizes (experiments/gato_cluster.py)
        c.model.overrides.update({"dtype": "bfloat16",
                                  "remat": "dots_with_no_batch_dims_saveable"})

    c.data = default_data_config()
    c.data.data_dir = None  # set by the study to WORKDIR/data
    c.data.suites = ""  # the tasks are listed
    c.data.tasks = ",".join(tasks)
    c.data.mixture = ml_collections.ConfigDict({"control": 1.0})  # control only: the question
    # no demonstration prompts, in training or evaluation: a prompt from a random episode of the
    # mix would condition every arm on its data's quality (a confound of the comparison)
    c.data.prompt_fraction = 0.0
    c.data.worker_count = 1  # one grain worker: the other core trains

    c.optimizer = ml_collections.ConfigDict()
    c.optimizer.learning_rate = 1e-3  # peak (as experiments/gato_cpu.py)
    c.optimizer.warmup_steps = 5 if tiny else 50  # linear warm-up
    c.optimizer.final_lr_fraction = 0.1  # cosine decays to this fraction of the peak
    c.optimizer.b1 = 0.9  # Adam beta1
    c.optimizer.b2 = 0.95  # Adam beta2
    c.optimizer.eps = 1e-8  # Adam epsilon
    c.optimizer.weight_decay = 0.1  # AdamW decoupled decay, on ndim >= 2 params
    c.optimizer.clip_norm = 1.0  # global-norm gradient clipping

    c.train = ml_collections.ConfigDict()
    # per arm (docs/RETURNS.md: what the study costs)
    c.train.total_steps = int(variant.get("steps", 10 if tiny else 1200))  # optimizer updates
    c.train.batch_size = int(variant.get("batch", 4 if tiny else 8))  # global batch
    c.train.seq_len = seq_len  # tokens per sequence
    c.train.seed = 0  # params init and data seed, the same for every arm
    c.train.log_every = 5 if tiny else 50  # steps between metric writes
    c.train.checkpoint_every = 10 if tiny else 300  # steps between checkpoints
    c.train.keep_checkpoints = 1  # checkpoints kept on disk
    c.train.profile_start = 0  # first step of a jax.profiler trace to WORKDIR/profile (0: none)
    c.train.profile_steps = 5  # steps traced from profile_start
    c.train.peak_flops_per_device = 0.0  # MFU denominator; 0: measure a matmul at start-up
    c.train.nan_check_keys = ("train/loss", "train/grad_norm", "train/param_norm")
    c.train.loss_on_targets_only = True  # logits only at loss targets (same loss, faster)
    c.train.target_buckets = 16  # distinct target-count sizes compiled at most
    c.train.image_buckets = 4  # image-position sizes compiled at most (no images here)
    c.train.label_sigma = 0.0  # Gaussian labels for continuous targets (0: one-hot)
    # each action (and return) target's softmax over its own ids (as experiments/gato_cpu.py)
    c.train.action_softmax = "range"
    c.train.action_buckets = 4  # distinct action-target counts compiled at most
    # observation tokens as targets too (gato.model.loss.ObservationLoss): the weight of
    # their mean cross entropy beside the action/text mean (0: Gato's objective), and
    # which observation kinds count
    c.train.observation_weight = 0.0
    c.train.observation_kinds = "continuous,discrete"

    c.evaluators = ml_collections.ConfigDict()  # no in-training evaluation: the study evaluates

    c.eval = default_eval_config()
    c.eval.suites = ""  # exactly the trained tasks
    c.eval.tasks = ",".join(tasks)
    c.eval.episodes = int(variant.get("episodes", 2 if tiny else 20))  # per task and arm
    c.eval.batch_size = 2 if tiny else 10  # environments stepped together
    c.eval.max_steps = c.generate.max_episode_steps  # the data's episode length
    c.eval.prompt = "none"  # see data.prompt_fraction
    c.eval.gif = False  # no rollout GIFs
    # expert-normalized scores need the reference protocol's 1000-step episodes; the tiny
    # variant's 100-step episodes are scored by their returns only
    c.eval.normalize = not tiny

    c.study = ml_collections.ConfigDict()
    c.study.arms = "bc,filtered,returns"  # BC on all, %BC, return-conditioned
    c.study.top_fraction = 0.2  # %BC: each task's best 20% of episodes by return
    # the return-conditioned arm's request: the best episode return in its data (DT's choice)
    c.study.target = "q1"
    # requested returns of the sweep (gato.eval.returns forms), each evaluated on the
    # return-conditioned arm: what is asked for against what is got
    # (fractions of the expert's return need the reference protocol's episode cap: not in tiny)
    c.study.sweep = ("q0,q0.25,q0.5,q0.75,q1,expert" if tiny else
                     "q0,q0.25,q0.5,q0.75,q1,1.0xexpert,1.2xexpert,expert")
    c.study.sweep_episodes = 2 if tiny else 10  # episodes per task and requested return

    c.mesh = ml_collections.ConfigDict()
    c.mesh.axes = [("data", -1), ("fsdp", int(variant.get("fsdp", 1)))]  # -1: the rest
    c.mesh.num_devices = 0  # 0: all local devices
    c.mesh.logical_axis_rules = ()  # empty: the model's DEFAULT_LOGICAL_AXIS_RULES

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.resume = True  # resume from WORKDIR/checkpoints when it holds one
    c.checkpoint.resume_from = ""  # explicit checkpoint when WORKDIR has none
    c.checkpoint.init_from = ""  # params-only initialization from this checkpoint
    return c
