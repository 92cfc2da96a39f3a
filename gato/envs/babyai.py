"""BabyAI levels (minigrid 3.2.0, gymnasium) as dm_env environments: an instruction and a grid view.

Each timestep holds three observations, tokenized in key order (Gato's lexicographic order):
- "direction": the agent's heading, int [1] in {0: east, 1: south, 2: west, 3: north} (discrete);
- "image": the agent's 7 x 7 egocentric view as symbolic cells (object, colour, state), uint8
  [7, 7, 3] in [0, 10], indexed [column, row] as minigrid gives it (discrete, 147 tokens,
  row-major);
- "mission": the level's instruction, e.g. "go to the red ball" (text, SentencePiece tokens).
Actions are the 7 minigrid actions (left, right, forward, pickup, drop, toggle, done). A level
rewards 1 - 0.9 * steps / max_steps on success and 0 otherwise; an episode ends on success, on
failure (e.g. picking up the wrong object) or at the level's max_steps, which for most levels
depends on the episode's instruction (`episode_cap` is the level's bound over instructions).

The default set (LEVELS, easy to hard) is registered at import as tasks "babyai-go-to-red-ball",
...; `level(name)` registers any other BabyAI level by task name or gym id ("BabyAI-GoToSeq-v0")
when minigrid's BabyAIBot (the expert, `gato.policies.babyai_expert`) can solve it. Levels are
seeded: `make_env(seed)` builds the level whose first `reset()` draws the layout and instruction
from `seed` (later resets continue that stream), so an episode is reproduced from its seed.
"""

import contextlib
import functools
import io
import re

import dm_env
import numpy as np
from dm_env import specs

from gato.envs.registry import Task, get, register, register_resolver, registered
from gato.tokenizers.spec import TimestepSpec

SUITE = "babyai"
NUM_ACTIONS = 7
VIEW = 7  # agent view size in cells
MAX_CELL_VALUE = 10  # the largest index minigrid encodes (OBJECT_TO_IDX["agent"])
# a view cell's components: object (11 kinds), colour (6), state (open, closed, locked)
CELL_RADIX = (MAX_CELL_VALUE + 1, 6, 3)
VIEW_SHAPE = (VIEW, VIEW, len(CELL_RADIX))  # the "image" observation: rows, columns, components

# The default levels, easy to hard (bot success measured: see reference_scores.json).
LEVELS = ("BabyAI-GoToRedBall-v0", "BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0",
          "BabyAI-PutNextLocal-v0", "BabyAI-GoToObjMaze-v0", "BabyAI-Synth-v0",
          "BabyAI-BossLevel-v0")
# Levels minigrid's BabyAIBot does not solve reliably, and why. Measured here: the other 89
# levels were solved on every seed tried (0-4 each, 0-9 for the last 25 in minigrid's order).
_CANNOT = "the bot cannot solve it (minigrid's BabyAIBot docstring; 0 of 5 seeds)"
UNSOLVABLE = {
    "BabyAI-PutNextS5N2Carrying-v0": _CANNOT, "BabyAI-PutNextS6N3Carrying-v0": _CANNOT,
    "BabyAI-PutNextS7N4Carrying-v0": _CANNOT, "BabyAI-KeyInBox-v0": _CANNOT,
    "BabyAI-OpenDoorsOrderN2Debug-v0": "the bot solved 7 of 20 seeds (it may open the doors out "
                                       "of order, which ends a Debug level as failed)",
    "BabyAI-OpenDoorsOrderN4Debug-v0": "the bot solved 2 of 20 seeds (it may open the doors out "
                                       "of order, which ends a Debug level as failed)",
    "BabyAI-UnlockToUnlock-v0": "the bot solved 7 of 10 seeds (its planner loops forever on the "
                                "others)",
}
# Episode caps of the default levels (`episode_cap`; tests check them against minigrid).
CAPS = {"BabyAI-GoToRedBall-v0": 64, "BabyAI-GoToLocal-v0": 64, "BabyAI-PickupLoc-v0": 64,
        "BabyAI-PutNextLocal-v0": 128, "BabyAI-GoToObjMaze-v0": 576, "BabyAI-Synth-v0": 1152,
        "BabyAI-BossLevel-v0": 4608}


def task_name(gym_id: str) -> str:
    """"BabyAI-GoToObjMazeS4R2-v0" -> "babyai-go-to-obj-maze-s4-r2" (versions other than v0
    kept as a suffix: "BabyAI-GoToObjS6-v1" -> "babyai-go-to-obj-s6-v1")."""
    match = re.fullmatch(r"BabyAI-(\w+)-v(\d+)", gym_id)
    if not match:
        raise ValueError(f"not a BabyAI gym id: {gym_id!r} (expected BabyAI-<Level>-v<N>)")
    words = re.findall(r"[A-Z][a-z]*\d*|\d+", match.group(1))
    version = "" if match.group(2) == "0" else f"-v{match.group(2)}"
    return "babyai-" + "-".join(w.lower() for w in words) + version


@functools.cache
def gym_ids() -> dict[str, str]:
    """Task name -> gym id of every BabyAI level minigrid registers (96 in minigrid 3.2.0)."""
    import gymnasium
    import minigrid  # noqa: F401 - registers the BabyAI-* ids with gymnasium

    return {task_name(i): i for i in sorted(gymnasium.registry) if i.startswith("BabyAI-")}


def solvable_levels() -> list[str]:
    """Task names of every level the bot can solve."""
    return sorted(n for n, i in gym_ids().items() if i not in UNSOLVABLE)


def resolve(name: str) -> str:
    """The gym id of a level given as task name or gym id; one-line errors for unknown levels
    and for levels the bot cannot solve."""
    gym_id = name if name.startswith("BabyAI-") else gym_ids().get(name)
    if gym_id is None or gym_id not in gym_ids().values():
        raise KeyError(f"unknown BabyAI level {name!r}; levels: {', '.join(solvable_levels())}")
    if gym_id in UNSOLVABLE:
        raise ValueError(f"BabyAI level {name!r} ({gym_id}) has no expert: {UNSOLVABLE[gym_id]}")
    return gym_id


def _quiet(fn, *args, **kwargs):
    """Calls fn silencing minigrid's "Sampling rejected" prints (level generation retries)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def _make_gym(gym_id: str):
    import gymnasium
    import minigrid  # noqa: F401

    return gymnasium.make(gym_id, disable_env_checker=True)


def episode_cap(gym_id: str) -> int:
    """The largest max_steps an episode of the level can have: its fixed max_steps, or (levels
    whose limit follows the instruction) room cells x rooms x the most navigations an
    instruction can need (an action: 1, put-next: 2; "and": 2 actions, "seq": 4)."""
    from minigrid.envs.babyai.core.levelgen import LevelGen

    env = _make_gym(gym_id)
    level = env.unwrapped
    try:
        if getattr(level, "fixed_max_steps", True):
            return int(level.max_steps)
        rooms = level.room_size ** 2 * level.num_rows * level.num_cols
        if isinstance(level, LevelGen):
            per_action = 2 if "putnext" in level.action_kinds else 1
            kinds = set(level.instr_kinds)
            actions = 4 if "seq" in kinds else 2 if "and" in kinds else 1
            return rooms * per_action * actions
        _quiet(env.reset, seed=0)  # a fixed instruction form: its navigations from one episode
        return rooms * int(level.num_navs_needed(level.instrs))
    finally:
        env.close()


class GridRenderer:
    """The rollout's frame hook (`gato.eval.rollout.render_frame` renders `env.physics`):
    `render(height, width)` draws the whole level, the agent's view highlighted, as RGB."""

    def __init__(self, env: "BabyAIEnv"):
        self.env = env

    def render(self, height: int = 128, width: int = 128, camera_id: int = 0) -> np.ndarray:
        del camera_id  # one view
        return self.env.render_rgb(height, width)


class BabyAIEnv(dm_env.Environment):
    """One BabyAI level as a dm_env.Environment; see the module docstring for observations.

    `gym_env` is the gymnasium env (the bot reads `gym_env.unwrapped`), `last_action` the action
    executed by the latest `step` (None after reset), `success` whether the current episode has
    been solved (terminated with reward > 0).
    """

    def __init__(self, gym_id: str, seed: int = 0):
        self.gym_id, self.seed = gym_id, int(seed)
        self.gym_env = _make_gym(gym_id)
        self.last_action: int | None = None
        self.success = False
        self._seeded = False
        self._needs_reset = True

    def observation_spec(self) -> dict[str, specs.Array]:
        return {
            "direction": specs.BoundedArray((1,), np.uint8, 0, 3, name="direction"),
            "image": specs.BoundedArray(VIEW_SHAPE, np.uint8, 0, MAX_CELL_VALUE,
                                        name="image"),
            "mission": specs.StringArray((), name="mission"),
        }

    def action_spec(self) -> specs.DiscreteArray:
        return specs.DiscreteArray(NUM_ACTIONS, dtype=np.int32, name="action")

    def reset(self) -> dm_env.TimeStep:
        seed = None if self._seeded else self.seed
        obs, _ = _quiet(self.gym_env.reset, seed=seed)
        self._seeded, self._needs_reset = True, False
        self.last_action, self.success = None, False
        return dm_env.restart(self._observation(obs))

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        index = int(np.asarray(action).reshape(()))
        if not 0 <= index < NUM_ACTIONS:
            raise ValueError(f"action {index} outside [0, {NUM_ACTIONS}) for {self.gym_id}")
        obs, reward, terminated, truncated, _ = self.gym_env.step(index)
        self.last_action = index
        observation = self._observation(obs)
        if terminated:
            self._needs_reset = True
            self.success = reward > 0
            return dm_env.termination(float(reward), observation)
        if truncated:
            self._needs_reset = True
            return dm_env.truncation(float(reward), observation)
        return dm_env.transition(float(reward), observation)

    def _observation(self, obs: dict) -> dict[str, np.ndarray | str]:
        return {"direction": np.asarray([obs["direction"]], np.uint8),
                "image": np.asarray(obs["image"], np.uint8),
                "mission": str(obs["mission"])}

    @property
    def max_steps(self) -> int:
        """This episode's step limit (it follows the instruction in most levels)."""
        return int(self.gym_env.unwrapped.max_steps)

    @property
    def physics(self) -> GridRenderer:
        """The frame hook the rollout's GIFs use (see GridRenderer); no physics is simulated."""
        return GridRenderer(self)

    def render_rgb(self, height: int = 128, width: int = 128) -> np.ndarray:
        """The whole level as uint8 RGB [height, width, 3] (8-pixel tiles, then resized)."""
        from PIL import Image

        frame = self.gym_env.unwrapped.get_frame(highlight=True, tile_size=8)
        image = Image.fromarray(np.asarray(frame, np.uint8))
        return np.asarray(image.resize((width, height), Image.Resampling.NEAREST), np.uint8)

    def close(self) -> None:
        self.gym_env.close()


def make_env(gym_id: str, seed: int) -> BabyAIEnv:
    """The level `gym_id` seeded by `seed`."""
    return BabyAIEnv(gym_id, seed)


def make_spec() -> TimestepSpec:
    """Direction and view as discrete tokens (the view's cells combinable: `data.grid_cells`),
    the mission as text, one of 7 actions."""
    return TimestepSpec(observation={"direction": "discrete", "image": "discrete",
                                     "mission": "text"},
                        action_kind="discrete", action_shape=(), num_actions=NUM_ACTIONS,
                        cell_radix=(("image", CELL_RADIX),))


def _task(gym_id: str, cap: int) -> Task:
    return Task(name=task_name(gym_id), suite=SUITE, spec=make_spec(),
                make_env=functools.partial(make_env, gym_id), max_episode_steps=cap,
                description=f"BabyAI {gym_id} (minigrid): instruction text + 7x7 symbolic view")


def level(name: str) -> Task:
    """The task of any BabyAI level the bot can solve, by task name or gym id, registered on
    first use (the default LEVELS are registered at import). KeyError for an unknown level,
    ValueError for one the bot cannot solve."""
    gym_id = resolve(name)
    if registered(task_name(gym_id)):
        return get(task_name(gym_id))
    return register(_task(gym_id, episode_cap(gym_id)))


def _register_defaults() -> None:
    for gym_id in LEVELS:
        register(_task(gym_id, CAPS[gym_id]))


_register_defaults()
register_resolver("babyai-", level)
register_resolver("BabyAI-", level)
