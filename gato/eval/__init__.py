"""Evaluation: roll out checkpoints in batched environments and score them per task suite.

Modules: `config` (the `eval` config section), `agent` (the `Agent` interface, the KV-cached
`ModelAgent`), `scripted` (expert stand-ins), `rollout` (the batched loop), `prompts`
(demonstration prompts), `scoring`, `report` (JSON/CSV/plots/GIFs/TensorBoard), `checkpoints`
(restore params + config), `evaluator` (`Evaluator(config.eval, model).run(params, step)`),
`statistics` (aggregates with bootstrap intervals, rliable), `figures`, `runs` (several runs),
`compare` (`gato compare`), `cli` (`gato eval`). Names are imported lazily so that `gato eval
--help` stays fast.
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


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gato.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
