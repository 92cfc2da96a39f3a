"""Meta-World MT10 alone: 39-float observations and 4 continuous actions, 500-step episodes.

The 10 MT10 tasks recorded with metaworld's scripted policies (100 episodes each, Gaussian
execution noise of std 0.1 while recording, the policy's own action stored; the last 5 held out),
goal positions drawn per episode from its seed (95 training goals per task); a learning curve of
held-out action nll and rollout success, then the final checkpoint over 10 episodes per task
(seeds 0-9, cap1000):
    gato main --config metaworld --workdir runs/mt10
Variants: steps=N, episodes=N, tasks=SET (a named set: mt10, mt50, ml45-train), quick.
"""

import ml_collections

from gato.config import default_config, parse_variant
from gato.config.presets import heldout_curve, suite_eval

HELD_OUT = 5
VARIANTS = {"steps": int, "episodes": int, "tasks": str, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    tasks = str(variant.get("tasks", "mt10"))
    c = default_config()

    c.generate.tasks = tasks
    c.generate.episodes = int(variant.get("episodes", 5 if quick else 100))
    c.generate.max_episode_steps = 50 if quick else 0
    c.generate.action_noise = 0.1  # Gaussian std / half the action range

    c.model.name = "tiny" if quick else "small"
    c.train.seq_len = c.model.overrides.max_len = 128 if quick else 256  # ~5 timesteps of 44
    c.data.suites = ""
    c.data.tasks = tasks
    c.data.mixture = {"metaworld": 1.0}
    c.data.prompt_fraction = 0.0  # the task is read from the scene, as in Gato

    c.optimizer.learning_rate = 1e-3
    c.optimizer.warmup_steps = 10 if quick else 50
    c.train.total_steps = int(variant.get("steps", 20 if quick else 3000))
    c.train.log_every = 5 if quick else 25
    c.train.checkpoint_every = 10 if quick else 250

    suite_eval(c, tasks, protocol="cap1000", episodes=2 if quick else 10,  # the references'
               batch_size=2 if quick else 10, max_steps=50 if quick else 0)
    heldout_curve(c, held_out=3 if quick else HELD_OUT, every=10 if quick else 250,
                  windows=8 if quick else 64,
                  rollout_every=20 if quick else 1000, rollout_episodes=2 if quick else 5)
    return c
