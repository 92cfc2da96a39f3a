"""gato: a Gato-style generalist agent framework in JAX (Reed et al., 2022).

Subpackages: `tokenizers` (one module per modality, timestep layout), `model` (the decoder-only
transformer), `train` (optimizer, mesh, checkpoints, train loop), `data` (RLDS episodes to packed
batches), `envs` (task registry, Atari and Control Suite), `policies` (experts, agents) and `eval`
(rollouts and per-suite scores).
"""

__version__ = "0.1.0"
