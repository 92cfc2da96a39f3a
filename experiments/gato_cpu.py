"""The main job: a small generalist on the default mixture (control, Atari, text), on one CPU.

`gato main` runs it end to end (generate expert data, train, evaluate, print the table):
    gato main --config gato_cpu --workdir runs/main
Train only, on data generated before:
    gato train --config gato_cpu --workdir runs/main/train --set data.data_dir=runs/main/data
Variants (comma separated): steps=N, batch=N, size=tiny|small, control_episodes=N,
atari_episodes=N, vl (adds experiments/vision_language.py's image-text pairs at weight 0.25),
quick (a smoke run). Why each choice, with the runs that chose it:
docs/EXPERIMENTS.md. Everything not set here is the default (gato/config/defaults.py).
"""

import ml_collections

from gato.config import default_config, parse_variant
from gato.config.presets import ATARI_TASKS, CONTROL_TASKS

VARIANTS = {"steps": int, "batch": int, "size": str, "control_episodes": int,
            "atari_episodes": int, "vl": bool, "quick": bool}  # variant key -> type


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    c = default_config()

    c.generate.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS))
    c.generate.episodes = 4 if quick else 20
    c.generate.max_episode_steps = 100 if quick else 0
    # control recorded with AR(1) execution noise (DART): sustained pushes move pendulum and
    # cart-pole off the expert's path, where independent noise averages out
    control = {"episodes": int(variant.get("control_episodes", c.generate.episodes)),
               "action_noise": 0.5, "noise_correlation": 0.9}
    atari = {"episodes": int(variant.get("atari_episodes", c.generate.episodes)),
             "max_episode_steps": 100 if quick else 1000}
    c.generate.suite_overrides = {"control": control, "atari": atari}
    # a reacher episode has one target: more, shorter episodes (more targets, same steps)
    reacher = {"episodes": 100, "max_episode_steps": 200}
    c.generate.task_overrides = {} if quick else {"reacher-easy": reacher,
                                                   "reacher-hard": reacher}

    c.model.name = variant.get("size", "tiny" if quick else "small")
    c.train.seq_len = c.model.overrides.max_len = 128 if quick else 256

    c.data.suites = ""  # exactly the tasks with generated data
    c.data.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS, "pydocs"))
    # text is light: a text window holds ~6x the loss targets of a control window
    c.data.mixture = {"control": 4.0, "atari": 0.5, "text": 0.25}
    if variant.get("vl", False):
        c.generate.tasks += ",minigrid-scenes"
        c.generate.suite_overrides["vision_language"] = {"episodes": 40 if quick else 2000}
        c.data.tasks += ",minigrid-scenes"
        c.data.mixture["vision_language"] = 0.25

    c.optimizer.learning_rate = 1e-3  # the paper's 1e-4 is for batch 512 at 1.18B scale
    c.optimizer.warmup_steps = 10 if quick else 50

    # the clone under-fits, so the time budget goes to many small steps
    c.train.total_steps = int(variant.get("steps", 20 if quick else 4000))
    c.train.batch_size = int(variant.get("batch", 8))
    c.train.log_every = 5 if quick else 10
    c.train.checkpoint_every = 10 if quick else 100

    c.eval.suites = ""
    c.eval.tasks = ",".join((*CONTROL_TASKS, *ATARI_TASKS))
    c.eval.protocol = "cap1000"  # 1000-step episodes, scored against references measured so
    c.eval.episodes = 2 if quick else 5
    c.eval.batch_size = 2 if quick else 5
    c.eval.max_steps = 50 if quick else 0
    c.eval.normalize = not quick  # no reference returns at the smoke run's cap
    c.eval.prompt_tokens = c.train.seq_len // 4  # the training prompt budget
    return c
