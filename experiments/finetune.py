"""Fine-tuning on a held-out task (Gato's Fig. 9): cartpole-swingup, a same-domain sibling of
cartpole-balance, from a checkpoint of the main job's model (experiments/gato_cpu.py):
    gato finetune --config finetune --checkpoint runs/main/train --workdir runs/ft_swingup
    gato finetune --config finetune --workdir runs/ft_scratch          # the scratch baseline
30 expert episodes are recorded as the main job records control (AR(1) execution noise); the
first finetune.episodes train, the next 3 choose the checkpoint by held-out action nll.
Variants: task=NAME (the held-out task), episodes=N, steps=N, lr=X, quick (a smoke run).
"""

import ml_collections

from gato.config import default_config, parse_variant

VARIANTS = {"task": str, "episodes": int, "steps": int, "lr": float, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    task = str(variant.get("task", "cartpole-swingup"))
    c = default_config()  # the model is the main job's, so its checkpoints load

    c.generate.tasks = task
    c.generate.episodes = 8 if quick else 30
    c.generate.max_episode_steps = 40 if quick else 0
    c.generate.action_noise, c.generate.noise_correlation = 0.5, 0.9

    c.finetune.episodes = int(variant.get("episodes", 2 if quick else 10))
    c.finetune.heldout_episodes = 2 if quick else 3
    c.finetune.every = 2 if quick else 50
    c.finetune.windows = 4 if quick else 32

    if quick:
        c.model.name = "tiny"
        c.train.seq_len = c.model.overrides.max_len = 128
    c.data.suites = ""
    c.data.tasks = task
    c.data.mixture = {"control": 1.0}

    c.optimizer.learning_rate = float(variant.get("lr", 3e-4))
    c.optimizer.warmup_steps = 2 if quick else 20
    c.train.total_steps = int(variant.get("steps", 6 if quick else 500))
    c.train.log_every = 2 if quick else 10

    c.eval.suites = ""
    c.eval.tasks = task
    c.eval.protocol = "cap1000"
    c.eval.episodes = 2 if quick else 10
    c.eval.batch_size = 2 if quick else 10
    c.eval.max_steps = 40 if quick else 0
    c.eval.normalize = not quick
    c.eval.prompt = "none"
    c.eval.gif = False
    return c
