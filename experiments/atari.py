"""Atari only: can the pipeline learn from pixels given compute? A learning curve per game.

The main job gives Atari 0.5 of 4.75 of its mixture, ~6-7k frames per game in a run, and its
clone stays at the expert's action frequencies (docs/EXPERIMENTS.md). This trains the same model
on the four games alone and records, as training goes, each game's held-out action error (the
last 3 of 20 generated episodes per game are held out: data.split trains on the first 17) and
rollout scores under the main job's protocol:
    gato main --config atari --workdir runs/atari
    gato curve runs/atari/train          # the learning curve: table and figure
Variants (comma separated): steps=N, episodes=N (generated per game), channels=N (the patch
encoder's width, ModelConfig.patch_channels; 0: the pixels' own), frames=N (data.frame_stack:
each frame shown with its N - 1 predecessors in the patch channels; 1: Gato's single frame),
motion (with frames=2: the frame and its change, data.frame_motion), noise=P (the recording
expert's executed actions replaced by random ones with probability P, its own stored: DART,
generate.atari_action_noise), noise_games=G1+G2 (that noise only in these games, the others
recorded clean: generate.task_overrides), games=G1+G2 (train and evaluate on these games only,
e.g. one game given the whole budget), quick (a smoke run).
"""

import ml_collections

from gato.data.pipeline.loader import default_data_config
from gato.errors import ConfigError
from gato.eval.config import default_eval_config
from gato.train.config import parse_variant

ATARI_TASKS = ("boxing", "breakout", "freeway", "pong")
HELD_OUT = 3  # last episodes of each game kept out of training
# key -> type
VARIANTS = {"steps": int, "episodes": int, "channels": int, "frames": int, "motion": bool,
            "noise": float, "noise_games": str, "games": str, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    episodes = int(variant.get("episodes", 5 if quick else 20))
    steps = int(variant.get("steps", 20 if quick else 1500))
    games = [g for g in str(variant.get("games", "")).split("+") if g] or list(ATARI_TASKS)
    noise = float(variant.get("noise", 0.0))  # P(random action) while recording
    noise_games = [g for g in str(variant.get("noise_games", "")).split("+") if g]
    if noise_games and not noise:
        raise ConfigError("variant noise_games needs noise=P (P > 0): the noise of those games")
    unknown = sorted(set(games + noise_games) - set(ATARI_TASKS))
    if unknown:
        raise ConfigError(f"variant games/noise_games: unknown game(s) {unknown}; "
                          f"choose from {'+'.join(ATARI_TASKS)}")
    if not set(noise_games) <= set(games):
        raise ConfigError(f"variant noise_games={'+'.join(noise_games)} names games outside "
                          f"games={'+'.join(games)}")
    c = ml_collections.ConfigDict()

    c.generate = ml_collections.ConfigDict()
    c.generate.control_tasks = ""  # none
    c.generate.atari_tasks = ",".join(games)  # Atari games with RAM-reading experts
    c.generate.control_episodes = 1  # unused: no control tasks
    c.generate.control_max_episode_steps = 0
    # per-game settings over the suite's (gato.main.generation_groups)
    c.generate.task_overrides = ml_collections.ConfigDict(
        {game: {"action_noise": noise} for game in noise_games})
    c.generate.atari_episodes = episodes  # per game, HELD_OUT of them held out
    c.generate.atari_max_episode_steps = 100 if quick else 1000  # cap on Atari episodes (steps)
    c.generate.control_action_noise = 0.0
    c.generate.control_noise_correlation = 0.0
    c.generate.atari_action_noise = 0.0 if noise_games else noise  # P(random action)
    c.generate.workers = 2  # worker processes
    c.generate.seed = 0  # base seed of the generated episodes (as the main job's)

    c.model = ml_collections.ConfigDict()
    c.model.name = "tiny" if quick else "small"  # gato.model size name (the main job's)
    seq_len = 128 if quick else 256  # tokens per training window
    # ModelConfig fields, as experiments/gato_cpu.py (see there why)
    c.model.overrides = ml_collections.ConfigDict({
        "dropout_rate": 0.0, "max_len": seq_len, "position_bias": "alibi",
        "continuous_embedding_init": "sinusoidal", "action_inputs": "masked",
        "patch_channels": int(variant.get("channels", 0)), "patch_stem": 4})

    c.data = default_data_config()
    c.data.data_dir = None  # set by `gato main` to WORKDIR/data
    c.data.split = f"train[:-{HELD_OUT}]"  # the rest is the held-out evaluator's
    c.data.suites = ""
    c.data.tasks = ",".join(games)
    c.data.mixture = ml_collections.ConfigDict({"atari": 1.0})
    # no demonstration prompts: the question is whether the clone reads the frames, and a
    # prompt would take a quarter of each window's frames
    c.data.prompt_fraction = 0.0
    c.data.frame_stack = int(variant.get("frames", 1))
    c.data.frame_motion = bool(variant.get("motion", False))
    c.data.worker_count = 1  # one grain worker: the other core trains

    c.optimizer = ml_collections.ConfigDict()
    c.optimizer.learning_rate = 1e-3  # peak (as experiments/gato_cpu.py)
    c.optimizer.warmup_steps = 10 if quick else 50  # linear warm-up
    c.optimizer.final_lr_fraction = 0.1  # cosine decays to this fraction of the peak
    c.optimizer.b1 = 0.9  # Adam beta1
    c.optimizer.b2 = 0.95  # Adam beta2
    c.optimizer.eps = 1e-8  # Adam epsilon
    c.optimizer.weight_decay = 0.1  # AdamW decoupled decay, on ndim >= 2 params
    c.optimizer.clip_norm = 1.0  # global-norm gradient clipping

    c.train = ml_collections.ConfigDict()
    c.train.total_steps = steps  # optimizer updates
    c.train.batch_size = 8  # global batch (the main job's)
    c.train.seq_len = seq_len  # tokens per sequence
    c.train.seed = 0  # params init and data seed
    c.train.log_every = 5 if quick else 25  # steps between metric writes
    c.train.checkpoint_every = 10 if quick else 250  # steps between checkpoints
    c.train.keep_checkpoints = 2  # checkpoints kept on disk
    c.train.profile_start = 0  # first step of a jax.profiler trace to WORKDIR/profile (0: none)
    c.train.profile_steps = 5  # steps traced from profile_start
    c.train.peak_flops_per_device = 0.0  # MFU denominator; 0: measure a matmul at start-up
    c.train.nan_check_keys = ("train/loss", "train/grad_norm", "train/param_norm")
    c.train.loss_on_targets_only = True  # logits only at loss targets (same loss, faster)
    c.train.target_buckets = 16  # distinct target-count sizes compiled at most
    c.train.image_buckets = 4  # distinct image-position counts compiled at most
    c.train.label_sigma = 0.0  # no continuous targets here
    c.train.action_softmax = "range"  # each action's softmax over its own ids
    c.train.action_buckets = 4  # distinct action-target counts compiled at most
    c.train.observation_weight = 0.0  # Gato's objective (images are not tokens anyway)
    c.train.observation_kinds = "continuous,discrete"

    c.eval = default_eval_config()
    c.eval.suites = ""
    c.eval.tasks = ",".join(games)
    c.eval.protocol = "cap1000"  # the main job's: 1000-step episodes, references measured so
    c.eval.episodes = 2 if quick else 10  # per game, the final checkpoint
    c.eval.batch_size = 2 if quick else 10  # environments stepped together
    c.eval.max_steps = 50 if quick else 0  # cap override (0: the protocol's)
    c.eval.normalize = not quick  # no reference returns at the smoke run's cap
    c.eval.prompt = "none"  # as data.prompt_fraction
    c.eval.gif = False

    # the learning curve: held-out action error often (cheap, the same windows every time),
    # rollouts less often (5 episodes per game: ~3 min on a 2-core machine)
    c.evaluators = ml_collections.ConfigDict({
        "heldout": {"type": "offline", "every": 10 if quick else 250,
                    "options": {"split": f"train[-{HELD_OUT}:]", "windows": 16 if quick else 64,
                                "prefix": "heldout"}},
        "rollout": {"type": "rollout", "every": 20 if quick else 500,
                    "options": {"episodes": 2 if quick else 5}},
    })

    c.mesh = ml_collections.ConfigDict()
    c.mesh.axes = [("data", -1), ("fsdp", 1)]  # -1: the remaining devices
    c.mesh.num_devices = 0  # 0: all local devices
    c.mesh.logical_axis_rules = ()  # empty: the model's DEFAULT_LOGICAL_AXIS_RULES

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.resume = True  # resume from WORKDIR/checkpoints when it holds one
    c.checkpoint.resume_from = ""  # explicit checkpoint when WORKDIR has none
    c.checkpoint.init_from = ""  # params-only initialization from this checkpoint
    c.checkpoint.on_damaged = "fallback"  # newest checkpoint damaged: resume from an intact one
    return c
