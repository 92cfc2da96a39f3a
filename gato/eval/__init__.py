"""Evaluation: roll out checkpoints in batched environments and score them per task suite.

Acting on checkpoints: `config` (the `eval` config section), `agent` (the `Agent` interface, the
KV-cached `ModelAgent`), `decoding`, `scripted` (expert stand-ins), `rollout` (the batched loop),
`prompts` (demonstration prompts), `returns` (return targets), `checkpoints` (restore params +
config), `evaluator` (`Evaluator(config.eval, model).run(params, step)`, `evaluate_checkpoint`),
`cli` (`gato eval`); teacher-forced checks: `offline` (`gato offline`), `text`, `image_text`.
What is done with the written results (scores, statistics, figures, compare, curves) is in
`gato.results`. Names are imported lazily so that `gato eval --help` stays fast.
"""

import importlib

_EXPORTS = {
    "Agent": "gato.eval.agent",
    "ModelAgent": "gato.eval.agent",
    "PolicyAgent": "gato.eval.scripted",
    "TokenReplayAgent": "gato.eval.scripted",
    "Evaluator": "gato.eval.evaluator",
    "default_eval_config": "gato.eval.config",
    "load_checkpoint": "gato.eval.checkpoints",
    "run_batch": "gato.eval.rollout",
}

__all__ = sorted(_EXPORTS)
# modules whose import registers the in-training evaluator types that ship (gato.train.evaluators)
EVALUATOR_MODULES = ("gato.eval.evaluator", "gato.eval.offline", "gato.eval.text",
                     "gato.eval.image_text")


def register_evaluators() -> None:
    """Imports EVALUATOR_MODULES, registering the types "rollout", "offline", "text" and
    "image_text"."""
    for module in EVALUATOR_MODULES:
        importlib.import_module(module)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gato.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
