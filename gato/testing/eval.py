"""Test fakes for evaluation (kept in the package so tests can share them, as acme does).

`CounterEnv` is a tiny deterministic dm_env with discrete observations and actions: the reward is 1
when the action equals the observed `target`. `CrashingEnv` wraps any environment and raises at a
chosen step, to exercise the evaluator's error handling. `tiny_model` and
`save_random_checkpoint` give a random tiny Gato in memory or on disk (trainer's Checkpointer).
"""

import dataclasses
import functools

import dm_env
import numpy as np
from dm_env import specs

from gato.envs.registry import Task
from gato.tokenizers.spec import TimestepSpec

COUNTER_ACTIONS = 4
COUNTER_SPEC = TimestepSpec(observation={"target": "discrete", "time": "discrete"},
                            action_kind="discrete", action_shape=(), num_actions=COUNTER_ACTIONS)


def counter_spec(action_dims: int = 1) -> TimestepSpec:
    """COUNTER_SPEC, with actions of shape (action_dims,) when action_dims > 1."""
    shape = () if action_dims == 1 else (action_dims,)
    return dataclasses.replace(COUNTER_SPEC, action_shape=shape)


class CounterEnv(dm_env.Environment):
    """Observations {"target": int32 [], "time": int32 []}; actions ints in [0, 4) (any shape);
    `length` steps; reward: the fraction of action elements equal to the target. Targets are
    drawn from the seed."""

    def __init__(self, seed: int, length: int = 12):
        self.seed, self.length = int(seed), int(length)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"target": np.int32(self._targets[self._t]), "time": np.int32(self._t)}

    def reset(self) -> dm_env.TimeStep:
        self._targets = np.random.default_rng(self.seed).integers(0, COUNTER_ACTIONS, self.length)
        self._t = 0
        return dm_env.restart(self._obs())

    def step(self, action) -> dm_env.TimeStep:
        action = np.asarray(action).reshape(-1)
        if action.min() < 0 or action.max() >= COUNTER_ACTIONS:
            raise ValueError(f"CounterEnv: action {action} outside [0, {COUNTER_ACTIONS})")
        reward = float(np.mean(action == self._targets[self._t]))
        self._t += 1
        if self._t >= self.length:
            self._t -= 1
            return dm_env.termination(reward, self._obs())
        return dm_env.transition(reward, self._obs())

    def observation_spec(self):
        return {"target": specs.Array((), np.int32, "target"),
                "time": specs.Array((), np.int32, "time")}

    def action_spec(self):
        return specs.DiscreteArray(COUNTER_ACTIONS, np.int32, "action")


class CounterExpert:
    """The optimal policy of CounterEnv: play the observed target (in every action element)."""

    def __init__(self, action_shape: tuple[int, ...] = ()):
        self.action_shape = action_shape

    def reset(self, seed: int) -> None:
        del seed

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        return np.full(self.action_shape, timestep.observation["target"], np.int32)


def counter_task(length: int = 12, name: str = "test-counter", action_dims: int = 1) -> Task:
    """An unregistered Task around CounterEnv (suite "test")."""
    return Task(name=name, suite="test", spec=counter_spec(action_dims),
                make_env=lambda seed: CounterEnv(seed, length), max_episode_steps=length)


class CrashingEnv(dm_env.Environment):
    """Wraps `env` and raises RuntimeError on step number `crash_at` (0-based)."""

    def __init__(self, env: dm_env.Environment, crash_at: int):
        self._env, self.crash_at, self._t = env, int(crash_at), 0

    def reset(self) -> dm_env.TimeStep:
        self._t = 0
        return self._env.reset()

    def step(self, action) -> dm_env.TimeStep:
        if self._t == self.crash_at:
            raise RuntimeError(f"simulated crash at step {self._t}")
        self._t += 1
        return self._env.step(action)

    def observation_spec(self):
        return self._env.observation_spec()

    def action_spec(self):
        return self._env.action_spec()


def crashing_task(task: Task, crash_at: int, crash_seeds: set[int]) -> Task:
    """`task` whose environments built with a seed in `crash_seeds` crash at step `crash_at`."""

    def make_env(seed: int) -> dm_env.Environment:
        env = task.make_env(seed)
        return CrashingEnv(env, crash_at) if seed in crash_seeds else env

    return dataclasses.replace(task, make_env=make_env)


@functools.lru_cache(maxsize=4)
def tiny_model(seed: int = 0, **overrides):
    """(Gato module, params) of a randomly initialized tiny model (float32); cached, so tests in
    one process share the model and its compilations."""
    import flax.linen as nn
    import jax

    from gato.model import Gato, get_model_config
    from gato.model.build import init_boxed

    config = get_model_config("tiny", **{"max_len": 128, **overrides})
    model = Gato(config)

    @jax.jit
    def init(rng):
        return nn.unbox(init_boxed(model, rng))

    return model, init(jax.random.PRNGKey(seed))


def save_random_checkpoint(workdir, steps=(1,), model: str = "tiny", data: dict | None = None,
                           **overrides) -> None:
    """Saves a randomly initialized model with the trainer's Checkpointer under
    WORKDIR/checkpoints (one checkpoint per step, config.json beside them)."""
    import jax.numpy as jnp
    import ml_collections
    import optax

    from gato.rundir import RunDir
    from gato.train.checkpoint import Checkpointer, write_config
    from gato.train.step import TrainState

    overrides = {"max_len": 32, **overrides}
    _, params = tiny_model(seed=0, **overrides) if model == "tiny" else (None, None)
    config = ml_collections.ConfigDict({
        "model": {"name": model, "overrides": overrides},
        "data": data if data is not None else {"source": "rlds", "suites": "control", "tasks": ""},
    })
    directory = RunDir(workdir).checkpoints
    checkpointer = Checkpointer(directory, keep=None)
    opt_state = optax.sgd(0.1).init(params)
    for step in steps:
        checkpointer.save(TrainState(jnp.int32(step), params, opt_state), {"epoch": 0})
    checkpointer.close()
    write_config(directory, config)
