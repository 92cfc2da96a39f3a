"""Vision-language pairs alone: does the model read the image to caption it and answer about it?

MiniGrid scenes with captions and question/answer pairs made from their true state
(`gato.data.recording.scenes`; 2000 training scenes, 200 held out), image patches first and the
loss on the caption or answer only. The "image_text" evaluator scores the held-out scenes with
the image as trained, zeroed, dropped and shuffled, beside the text-only answer prior:
    gato main --config vision_language --workdir runs/vl
    gato curve runs/vl/train
Variants: steps=N, scenes=N (training scenes), quick (a smoke run).
"""

import ml_collections

from gato.config import default_config, parse_variant

VARIANTS = {"steps": int, "scenes": int, "quick": bool}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    variant = parse_variant(arg, VARIANTS)
    quick = bool(variant.get("quick", False))
    c = default_config()

    c.generate.tasks = "minigrid-scenes"
    c.generate.episodes = int(variant.get("scenes", 40 if quick else 2000))

    c.model.name = "tiny" if quick else "small"
    c.train.seq_len = c.model.overrides.max_len = 128 if quick else 256
    c.data.suites = ""
    c.data.tasks = "minigrid-scenes"
    c.data.mixture = {"vision_language": 1.0}

    c.optimizer.learning_rate = 1e-3
    c.optimizer.warmup_steps = 10 if quick else 50
    c.train.total_steps = int(variant.get("steps", 20 if quick else 2000))
    c.train.log_every = 5 if quick else 25
    c.train.checkpoint_every = 10 if quick else 250

    c.eval.suites = ""  # no environment: the evaluator below is the evaluation
    c.eval.tasks = ""
    c.evaluators = {"captions": {"type": "image_text", "every": 10 if quick else 250,
                                 "options": {"examples": 8 if quick else 200}}}
    return c
