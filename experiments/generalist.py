"""The generalist on all four suites and non-control data: Control Suite, Atari, BabyAI,
Meta-World MT10, text and vision-language pairs, one model, evaluated per suite.

    gato main --config generalist --workdir runs/generalist
Each suite is recorded as its own config does (experiments/gato_cpu.py, babyai.py,
metaworld.py, vision_language.py); windows of 512 tokens hold 3 BabyAI timesteps. Variants:
steps=N, quick (a smoke run). The main job (gato_cpu) keeps today's mixture until a comparison
over seeds shows that this one costs its tasks nothing.
"""

import ml_collections

from gato.config import default_config, load_config, parse_variant
from gato.config.presets import ATARI_TASKS, CONTROL_TASKS
from gato.envs.babyai import LEVELS, task_name

BABYAI = tuple(task_name(gym_id) for gym_id in LEVELS)
VARIANTS = {"steps": int, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    acting = ",".join((*CONTROL_TASKS, *ATARI_TASKS, *BABYAI, "mt10"))
    c = default_config()

    c.generate.tasks = acting + ",minigrid-scenes"
    c.generate.episodes = 4 if quick else 20
    c.generate.max_episode_steps = 50 if quick else 0
    c.generate.suite_overrides = {
        "control": {"action_noise": 0.5, "noise_correlation": 0.9},
        "atari": {"max_episode_steps": 50 if quick else 1000},
        "babyai": {"episodes": 4 if quick else 300, "action_noise": 0.1},
        "metaworld": {"episodes": 4 if quick else 100, "action_noise": 0.1},
        "vision_language": {"episodes": 40 if quick else 2000}}
    reacher = {"episodes": 100, "max_episode_steps": 200}
    c.generate.task_overrides = {} if quick else {
        "reacher-easy": reacher, "reacher-hard": reacher,
        **load_config("babyai").generate.task_overrides.to_dict()}  # episodes per level

    c.model.name = "tiny" if quick else "small"
    c.train.seq_len = c.model.overrides.max_len = 256 if quick else 512
    c.data.suites = ""
    c.data.tasks = acting + ",pydocs,minigrid-scenes"
    c.data.mixture = {"control": 4.0, "atari": 0.5, "babyai": 1.0, "metaworld": 2.0,
                      "text": 0.25, "vision_language": 0.25}

    c.optimizer.learning_rate = 1e-3
    c.optimizer.warmup_steps = 10 if quick else 50
    c.train.total_steps = int(variant.get("steps", 20 if quick else 6000))
    c.train.log_every = 5 if quick else 25
    c.train.checkpoint_every = 10 if quick else 250

    c.eval.suites = ""
    c.eval.tasks = acting
    c.eval.protocol = "cap1000"  # references of all four suites are measured under it
    c.eval.episodes = 2 if quick else 5
    c.eval.batch_size = 2 if quick else 5
    c.eval.max_steps = 50 if quick else 0
    c.eval.normalize = not quick
    c.eval.prompt_tokens = c.train.seq_len // 4
    c.eval.gif = False
    c.evaluators = {"captions": {"type": "image_text", "every": 10 if quick else 1000,
                                 "options": {"examples": 8 if quick else 200}}}
    return c
