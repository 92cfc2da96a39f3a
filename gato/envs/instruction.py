"""A wrong instruction: tasks whose text observations (a BabyAI mission) come from another
episode, so an evaluation shows how much the agent reads its instruction.

    task = with_other_instruction(registry.get("babyai-go-to-local"))
    env = task.make_env(seed)  # the level of `seed`, showing the mission of another seed's level

The environment, its rewards and its success are the episode's own; only the observed text is
replaced, at every step, by the first instruction of a donor level built from another seed
(`seed + OFFSET + i`, the first i whose instruction differs, when one does within TRIES).
"""

import dataclasses
from collections.abc import Callable

import dm_env

from gato.envs.registry import Task

OFFSET = 100_003  # donor seeds lie far from the evaluation seeds
TRIES = 10


class OtherInstruction(dm_env.Environment):
    """`env` with its text observations `keys` replaced by a donor episode's."""

    def __init__(self, env: dm_env.Environment, donor: Callable[[int], dm_env.Environment],
                 keys: list[str]):
        self._env, self._donor, self._keys = env, donor, keys
        self._text: dict[str, object] = {}

    def __getattr__(self, name: str):  # success, physics, ... of the wrapped environment
        return getattr(self._env, name)

    def _replace(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        return timestep._replace(observation={**timestep.observation, **self._text})

    def reset(self) -> dm_env.TimeStep:
        timestep = self._env.reset()
        own = {k: timestep.observation[k] for k in self._keys}
        for i in range(TRIES):
            donor = self._donor(i)
            try:
                self._text = {k: donor.reset().observation[k] for k in self._keys}
            finally:
                donor.close()
            if self._text != own:
                break
        return self._replace(timestep)

    def step(self, action) -> dm_env.TimeStep:
        return self._replace(self._env.step(action))

    def observation_spec(self):
        return self._env.observation_spec()

    def action_spec(self):
        return self._env.action_spec()

    def close(self) -> None:
        self._env.close()


def with_other_instruction(task: Task) -> Task:
    """`task` whose environments show another episode's instruction; ValueError for a task
    without text observations."""
    keys = sorted(k for k, kind in (task.spec.observation if task.spec else {}).items()
                  if kind == "text")
    if not keys or task.make_env is None:
        raise ValueError(f"task {task.name!r} has no text observation to replace")

    def make_env(seed: int) -> dm_env.Environment:
        return OtherInstruction(task.make_env(seed),
                                lambda i: task.make_env(seed + OFFSET + i), keys)

    return dataclasses.replace(task, make_env=make_env)
