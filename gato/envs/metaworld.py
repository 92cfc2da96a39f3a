"""Meta-World's 50 Sawyer-arm manipulation tasks (metaworld 3.x, `*-v3`) as dm_env environments.

Task "metaworld-<id>" is metaworld's "<id>-v3" (e.g. "metaworld-assembly" is "assembly-v3").
Observations are {"state": float64 [39]}: hand position (3), gripper opening (1), two objects'
positions and quaternions (14), the same 18 values one step earlier, and the goal position (3).
The goal is shown (metaworld's goal-observable variant) and no one-hot task id is appended: the
task is read from the scene, as in Gato. Actions are float32 [4] in [-1, 1] (hand displacement
x/y/z, gripper effort). Rewards are metaworld's v2 shaped rewards in [0, 10] per step; episodes
last 500 steps (metaworld's horizon) and end by truncation (discount 1). `env.success` is True
once `info["success"]` was seen in the current episode (the suite's success rate reads it).

Goals: the object and goal positions of every episode are drawn by metaworld from the env's
seeded generator (`seeded_rand_vec`), so `make_env(seed)` fixes the goal of each episode after
it, a different seed gives different goals, and every reset draws a new one. Registration builds
nothing and imports no metaworld; `make_env` compiles the task's MuJoCo model.

Named task sets (metaworld's own splits, `gato.envs.registry.task_set`): MT10, MT50,
ML45-train and ML45-test (bin-picking, box-close, door-lock, door-unlock, hand-insert held out).
"""

import functools

import dm_env
import numpy as np
from dm_env import specs

from gato.envs.registry import Task, TaskSet, register, register_task_set
from gato.tokenizers.spec import TimestepSpec

SUITE = "metaworld"
MAX_EPISODE_STEPS = 500  # metaworld's max_path_length
OBSERVATION_SIZE = 39
ACTION_SIZE = 4
PREFIX = "metaworld-"

# metaworld 3.1.1's ALL_V3_ENVIRONMENTS, in its order (tests/test_metaworld.py checks the list)
METAWORLD_IDS: tuple[str, ...] = tuple(f"{n}-v3" for n in (
    "assembly", "basketball", "bin-picking", "box-close", "button-press-topdown",
    "button-press-topdown-wall", "button-press", "button-press-wall", "coffee-button",
    "coffee-pull", "coffee-push", "dial-turn", "disassemble", "door-close", "door-lock",
    "door-open", "door-unlock", "hand-insert", "drawer-close", "drawer-open", "faucet-open",
    "faucet-close", "hammer", "handle-press-side", "handle-press", "handle-pull-side",
    "handle-pull", "lever-pull", "pick-place-wall", "pick-out-of-hole", "pick-place",
    "plate-slide", "plate-slide-side", "plate-slide-back", "plate-slide-back-side",
    "peg-insert-side", "peg-unplug-side", "soccer", "stick-push", "stick-pull", "push",
    "push-wall", "push-back", "reach", "reach-wall", "shelf-place", "sweep-into", "sweep",
    "window-open", "window-close"))


def task_name(metaworld_id: str) -> str:
    """"assembly-v3" -> "metaworld-assembly"."""
    return PREFIX + metaworld_id.removesuffix("-v3")


TASK_IDS: dict[str, str] = {task_name(i): i for i in METAWORLD_IDS}  # task name -> metaworld id


def metaworld_id(name: str) -> str:
    """"metaworld-assembly" -> "assembly-v3"; KeyError (one line) for other names."""
    if name not in TASK_IDS:
        raise KeyError(f"unknown Meta-World task {name!r}; tasks: {', '.join(sorted(TASK_IDS))}")
    return TASK_IDS[name]


class MetaWorldEnv(dm_env.Environment):
    """One Meta-World task with the goal observable and seeded goals (see the module docstring)."""

    def __init__(self, name: str, seed: int = 0):
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE  # imports mujoco

        self.name = name
        cls = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[metaworld_id(name) + "-goal-observable"]
        self._env = cls(seed=int(seed))  # seeds env.np_random; its goal is frozen by default
        self._env._freeze_rand_vec = False  # a new goal at every reset ...
        self._env.seeded_rand_vec = True  # ... drawn from env.np_random
        self._success = False
        self._needs_reset = True

    @property
    def success(self) -> bool:
        """True once the task was solved (info["success"]) in the current episode."""
        return self._success

    def reset(self) -> dm_env.TimeStep:
        obs, _ = self._env.reset()
        self._success, self._needs_reset = False, False
        return dm_env.restart({"state": obs})

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        action = np.clip(np.asarray(action, np.float32).reshape(ACTION_SIZE), -1.0, 1.0)
        obs, reward, terminated, truncated, info = self._env.step(action)
        self._success = self._success or bool(info["success"])
        observation = {"state": obs}
        if terminated or truncated:
            self._needs_reset = True
            if terminated:
                return dm_env.termination(float(reward), observation)
            return dm_env.truncation(float(reward), observation)
        return dm_env.transition(float(reward), observation)

    def observation_spec(self) -> dict[str, specs.Array]:
        return {"state": specs.Array((OBSERVATION_SIZE,), np.float64, name="state")}

    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray((ACTION_SIZE,), np.float32, -1.0, 1.0, name="action")

    def close(self) -> None:
        self._env.close()


def make_env(name: str, seed: int) -> MetaWorldEnv:
    """The Meta-World task `name` ("metaworld-<id>") with goals seeded by `seed`."""
    return MetaWorldEnv(name, seed)


SPEC = TimestepSpec(
    observation={"state": "continuous"},
    action_kind="continuous",
    action_shape=(ACTION_SIZE,),
    action_minimum=(-1.0,) * ACTION_SIZE,
    action_maximum=(1.0,) * ACTION_SIZE,
)


def _split(benchmark: str, split: str | None = None) -> list[str]:
    """Task names of metaworld's benchmark dict `benchmark` (e.g. "MT10_V3"), in its order."""
    from metaworld import env_dict

    classes = getattr(env_dict, benchmark)
    return [task_name(i) for i in (classes[split] if split else classes)]


TASK_SETS = (
    TaskSet("MT10", functools.partial(_split, "MT10_V3"), "Meta-World MT10: 10 tasks"),
    TaskSet("MT50", functools.partial(_split, "MT50_V3"), "Meta-World MT50: all 50 tasks"),
    TaskSet("ML45-train", functools.partial(_split, "ML45_V3", "train"),
            "Meta-World ML45 training tasks (45)"),
    TaskSet("ML45-test", functools.partial(_split, "ML45_V3", "test"),
            "Meta-World ML45 held-out tasks (5)"),
)


def _register_all() -> None:
    for mw_id in METAWORLD_IDS:
        register(Task(
            name=task_name(mw_id),
            suite=SUITE,
            spec=SPEC,
            make_env=functools.partial(make_env, task_name(mw_id)),
            max_episode_steps=MAX_EPISODE_STEPS,
            description=f"Meta-World {mw_id}, goal observable, 39 floats",
        ))
    for task_set in TASK_SETS:
        register_task_set(task_set)


_register_all()
