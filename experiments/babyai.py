"""BabyAI alone: an instruction (text) and a grid view (discrete) in one timestep.

The 7 default levels (gato.envs.babyai.LEVELS, easy to hard), recorded with minigrid's bot as
the expert, a random action executed 10% of the time (DART; the bot's own action stored), ~30k
timesteps per level (EPISODES: the bot's GoTo and Pickup episodes are ~6 steps, the maze
levels' 60-100), the last 10 episodes of each level held out; a learning curve of held-out
action nll (beside the same windows with each episode's mission another's) and rollout success,
then the final checkpoint over 20 episodes per level (cap1000):
    gato main --config babyai --workdir runs/babyai
    gato curve runs/babyai/train
Variants: steps=N, episodes=N (the same for every level; episodes=300 is the first run's data),
cells (the view one token per cell: `data.grid_cells`), quick (a smoke run).
"""

import ml_collections

from gato.config import default_config, parse_variant
from gato.config.presets import heldout_curve, suite_eval
from gato.envs.babyai import LEVELS, task_name

HELD_OUT = 10  # last episodes of each level kept out of training
# episodes recorded per level: ~30k timesteps each at the bot's mean episode length with 10%
# random actions (300 episodes each: 5.9, 6.0, 7.1, 13.5, 75, 63 and 100 steps, in LEVELS' order)
EPISODES = {"BabyAI-GoToRedBall-v0": 5000, "BabyAI-GoToLocal-v0": 5000,
            "BabyAI-PickupLoc-v0": 4000, "BabyAI-PutNextLocal-v0": 2200,
            "BabyAI-GoToObjMaze-v0": 400, "BabyAI-Synth-v0": 500, "BabyAI-BossLevel-v0": 300}
VARIANTS = {"steps": int, "episodes": int, "cells": bool, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    levels = ",".join(task_name(gym_id) for gym_id in LEVELS)
    c = default_config()

    c.generate.tasks = levels
    c.generate.episodes = int(variant.get("episodes", 12 if quick else 300))
    if not quick and "episodes" not in variant:
        c.generate.task_overrides = {task_name(k): {"episodes": n} for k, n in EPISODES.items()}
    c.generate.max_episode_steps = 64 if quick else 0
    c.generate.action_noise = 0.1  # P(random action) executed while recording

    c.model.name = "tiny" if quick else "small"
    # a timestep is ~160-180 tokens (147 view components, direction, mission, action): 3 per
    # window; ~60 with one token per cell (49): 8 per window
    c.train.seq_len = c.model.overrides.max_len = 256 if quick else 512
    c.data.grid_cells = bool(variant.get("cells", False))
    c.data.suites = ""
    c.data.tasks = levels
    c.data.mixture = {"babyai": 1.0}
    c.data.prompt_fraction = 0.0  # the instruction is the task: no demonstration prompt

    c.optimizer.learning_rate = 1e-3
    c.optimizer.warmup_steps = 10 if quick else 50
    c.train.total_steps = int(variant.get("steps", 20 if quick else 3000))
    c.train.log_every = 5 if quick else 25
    c.train.checkpoint_every = 10 if quick else 250

    # Synth and BossLevel cut at 1000 steps (references measured so)
    suite_eval(c, levels, protocol="cap1000", episodes=2 if quick else 20,
               batch_size=2 if quick else 10, max_steps=64 if quick else 0)
    heldout_curve(c, held_out=HELD_OUT, every=10 if quick else 250, windows=8 if quick else 64,
                  rollout_every=20 if quick else 1000, rollout_episodes=2 if quick else 5)
    # the same held-out windows with each episode's mission another's: does the clone read it?
    shuffled = c.evaluators["heldout"].to_dict()
    shuffled["options"] |= {"missions": "shuffled", "prefix": "heldout_shuffled"}
    c.evaluators["heldout_shuffled"] = shuffled
    return c
