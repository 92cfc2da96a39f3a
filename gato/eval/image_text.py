"""Held-out captions and answers, teacher-forced: the "image_text" in-training evaluator.

    c.evaluators = {"captions": {"type": "image_text", "every": 500,
                                 "options": {"split": "validation", "examples": 200}}}

Scores the held-out split of data.vision_language with the image as trained, zeroed, dropped
and shuffled between examples (`gato.data.pipeline.image_text_scoring`), and beside them the
text-only prior: for each held-out question, the answer most often given to that question in
the training split (what a model that never looks at the image can reach). Metrics:
{prefix}/{variant}/{all,caption,vqa}/{token_accuracy,exact_match,nll}, each with its 95%
bootstrap interval over the examples as {name}_low and {name}_high, and
{prefix}/prior/vqa/exact_match; the image's worth is "image" minus the others.
"""

import collections
import logging
import pathlib
from typing import Any

import numpy as np

from gato.data.pipeline import image_text, image_text_scoring
from gato.eval.decoding import range_log_probs
from gato.model.gato import MODEL_FIELDS
from gato.tokenizers.vocab import TEXT_VOCAB_SIZE
from gato.train import evaluators

log = logging.getLogger(__name__)
OPTIONS = {"split": "validation", "train_split": "train", "examples": 200, "batch_size": 8,
           "variants": "image,zeroed,dropped,shuffled", "prefix": "image_text", "seed": 0}


def answer_prior(train: Any, heldout: Any, limit: int | None = None) -> dict[str, float]:
    """Exact match of the text-only prior on the held-out questions: each question answered
    with its most frequent training answer ({"questions", "exact_match"})."""
    answers: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for i in range(len(train)):
        for question, answer in train[i].questions:
            answers[question][answer] += 1
    n = len(heldout) if limit is None else min(len(heldout), int(limit))
    right = [answers[q].most_common(1)[0][0] == a if answers[q] else False
             for i in range(n) for q, a in heldout[i].questions]
    return {"questions": len(right), "exact_match": float(np.mean(right)) if right else 0.0}


class ImageTextEvaluator:
    """Scores one fixed set of held-out examples under each image variant."""

    def __init__(self, model: Any, source: Any, prior: dict[str, float], options: dict):
        self.model, self.source, self.prior, self.o = model, source, prior, options
        self.fn = range_log_probs(model, 0, TEXT_VOCAB_SIZE)
        self.variants = [v.strip() for v in options["variants"].split(",") if v.strip()]

    def results(self, params: Any) -> dict[str, dict]:
        import jax.numpy as jnp

        def log_probs(batch):
            return self.fn(params, {k: jnp.asarray(batch[k]) for k in MODEL_FIELDS})

        return image_text_scoring.compare_images(
            log_probs, self.source, self.variants, max_examples=int(self.o["examples"]),
            batch_size=int(self.o["batch_size"]), seed=int(self.o["seed"]))

    def run(self, params: Any, step: int) -> dict[str, float]:
        prefix, out = self.o["prefix"], {}
        for variant, kinds in self.results(params).items():
            for kind, m in kinds.items():
                for key in ("token_accuracy", "exact_match", "nll"):
                    name = f"{prefix}/{variant}/{kind}/{key}"
                    out[name] = float(m[key])
                    out[f"{name}_low"], out[f"{name}_high"] = map(float, m[f"{key}_interval"])
        out[f"{prefix}/prior/vqa/exact_match"] = self.prior["exact_match"]
        log.info("step %d %s: %s", step, prefix, {k: round(v, 3) for k, v in out.items()
                                                  if k.endswith("exact_match")})
        return out


@evaluators.register("image_text")
def image_text_evaluator(config: Any, options: dict[str, Any], workdir: pathlib.Path
                         ) -> ImageTextEvaluator:
    """The "image_text" in-training evaluator (options: OPTIONS)."""
    from gato.model.build import build_model

    del workdir  # metrics only
    o = evaluators.with_defaults("image_text", options, OPTIONS)
    unknown = {v.strip() for v in o["variants"].split(",")} - set(image_text_scoring.VARIANTS)
    if unknown or int(o["examples"]) < 1:
        raise ValueError(f"image_text evaluator: variants among "
                         f"{image_text_scoring.VARIANTS} and examples >= 1, got {o}")
    model, _ = build_model(config.model)
    heldout = image_text.load_source(config.data, o["split"])
    prior = answer_prior(image_text.load_source(config.data, o["train_split"]), heldout,
                         int(o["examples"]))
    return ImageTextEvaluator(model, heldout, prior, o)
