"""Scripted stand-ins for the model-backed agent, driven through the same rollout loop.

`PolicyAgent` wraps one `Policy` per environment (e.g. the task's expert). `TokenReplayAgent`
is a "model" stand-in: it takes the expert's action, tokenizes it as the model would emit it,
checks the ids lie in the task's action token range and decodes them back with the same
`detokenize_action` the model-backed agent uses.
"""

from collections.abc import Callable, Sequence
from typing import Any

import dm_env
import numpy as np

from gato.envs.registry import Task
from gato.policies.base import Policy
from gato.tokenizers.sequence import TokenSequence
from gato.tokenizers.timestep import action_token_range, detokenize_action, tokenize_action

PolicyFactory = Callable[[dm_env.Environment], Policy]


def expert_factory(task: Task) -> PolicyFactory:
    """env -> the scripted expert of `task` bound to that env."""
    from gato.policies import make_expert

    return lambda env: make_expert(task.name, env)


class PolicyAgent:
    """One policy per environment, built by `factory(env)` and reset with the episode's seed."""

    def __init__(self, factory: PolicyFactory):
        self.factory = factory
        self.policies: list[Policy | None] = []
        self.prompt: TokenSequence | None = None

    def reset(self, batch_size: int, prompt: TokenSequence | None, *,
              envs: Sequence[dm_env.Environment | None] = (), seeds: Sequence[int] = ()
              ) -> None:
        if len(envs) != batch_size or len(seeds) != batch_size:
            raise ValueError(f"PolicyAgent needs one env and seed per row: batch {batch_size}, "
                             f"{len(envs)} envs, {len(seeds)} seeds")
        self.prompt = prompt
        self.policies = [None if env is None else self.factory(env) for env in envs]
        for policy, seed in zip(self.policies, seeds, strict=True):
            if policy is not None:
                policy.reset(int(seed))

    def act(self, timesteps: Sequence[dm_env.TimeStep | None], active: np.ndarray) -> list[Any]:
        return [self.policies[i].step(ts) if active[i] else None
                for i, ts in enumerate(timesteps)]


class TokenReplayAgent(PolicyAgent):
    """Emits the policy's action tokens and decodes them as the model-backed agent does.

    `emitted` collects every emitted id (int32) so tests can check the action range.
    """

    def __init__(self, factory: PolicyFactory, task: Task):
        super().__init__(factory)
        self.spec = task.spec
        self.lo, self.hi = action_token_range(task.spec)
        self.emitted: list[np.ndarray] = []

    def act(self, timesteps: Sequence[dm_env.TimeStep | None], active: np.ndarray) -> list[Any]:
        actions = super().act(timesteps, active)
        out = []
        for action in actions:
            if action is None:
                out.append(None)
                continue
            ids = tokenize_action(self.spec, action)
            if ids.min() < self.lo or ids.max() >= self.hi:
                raise ValueError(f"action ids {ids} outside [{self.lo}, {self.hi})")
            self.emitted.append(ids)
            out.append(detokenize_action(self.spec, ids))
        return out
