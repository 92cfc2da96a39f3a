"""One model on data from every kind of source: the project's own recordings (Control Suite),
vision-language pairs (MiniGrid scenes), a JAT dataset task and a Minari dataset.

    gato generate --tasks cartpole-balance --episodes 20 --data-dir DATA
    gato train --config "mixed_sources:minari=D4RL/door/human-v2" --workdir runs/mixed \\
        --set data.data_dir=DATA
DATA holds the own datasets, the scenes (`gato main` or `gato generate` make them) and a local
copy of the JAT dataset (DATA/jat-dataset/atari-pong/train-*.parquet); Minari datasets are read
from $MINARI_DATASETS_PATH (`pip install 'gato-jax[jat,minari]'`).
Variants: jat=CONFIG (a JAT task, default atari-pong), minari=ID, steps=N, quick.
"""

import ml_collections

from gato.config import default_config, parse_variant

VARIANTS = {"jat": str, "minari": str, "steps": int, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    tasks = ["cartpole-balance", "minigrid-scenes", f"jat/{variant.get('jat', 'atari-pong')}"]
    if "minari" in variant:
        tasks.append(f"minari/{variant['minari']}")
    c = default_config()

    c.model.name = "tiny" if quick else "small"
    c.train.seq_len = c.model.overrides.max_len = 128 if quick else 256
    c.data.suites = ""
    c.data.tasks = ",".join(tasks)
    suite = "jat-" + str(variant.get("jat", "atari-pong")).split("-")[0]
    c.data.mixture = {"control": 1.0, "vision_language": 0.5, suite: 0.5, "minari": 0.5}
    c.data.prompt_fraction = 0.0
    c.data.worker_count = 0 if quick else 1

    c.optimizer.learning_rate = 1e-3
    c.optimizer.warmup_steps = 1 if quick else 50
    c.train.total_steps = int(variant.get("steps", 2 if quick else 2000))
    c.train.log_every = 1 if quick else 25
    c.train.checkpoint_every = 2 if quick else 250
    c.eval.suites = ""  # the own task is evaluated with `gato eval`; the others have no env
    return c
