"""Data-only tasks: the JAT dataset's control tasks (huggingface/jat), trained on, not played.

Every RL task of JAT's reference table (`jat_scores.json`: 57 Atari, 39 BabyAI, 50 Meta-World,
11 MuJoCo) is registered as "jat/<JAT config name>" ("jat/atari-pong", "jat/babyai-go-to",
"jat/metaworld-assembly", "jat/mujoco-ant") in suite "jat-<domain>", with make_env None: none of
the project's environments produces JAT's observations (its Atari frames are 84x84 crops of
gymnasium's resize, its Meta-World is v2), so these tasks train and are scored offline only.
Their episodes are read by `gato.data.formats.jat`, which writes these observation keys:

  atari      {"pixels": image uint8 [80, 80, 1]}: the newest of JAT's four stacked 84x84
             grayscale frames, centre-cropped to 80x80 (patch sides are multiples of 16);
             `data.frame_stack` 2-3 shows the older frames again from the episode. Discrete
             action, 18 values (ALE's full set; JAT plays each game's minimal set, ids below).
  babyai     {"direction": discrete uint8 [1], "image": discrete uint8 [7, 7, 3], "mission":
             text}: JAT's 148 values split as `gato.envs.babyai` observes them; discrete
             action, MiniGrid's 7.
  metaworld  {"state": continuous [39]} (as `gato.envs.metaworld`, whose tasks are v3, JAT's
             v2); 4 continuous actions in [-1, 1].
  mujoco     {"state": continuous [D]}; the gymnasium v4 environment's action size and bounds.

`jat_reference(task)` / `jat_normalized(task, ret)`: JAT's expert (mean return of its dataset's
episodes) and random scores, measured in JAT's environments, not the project's protocols.
"""

import functools
import json
from pathlib import Path

from gato.envs import babyai
from gato.envs.registry import Task, register
from gato.tokenizers.spec import TimestepSpec

PREFIX = "jat/"
SCORES_PATH = Path(__file__).with_name("jat_scores.json")
DOMAINS = ("atari", "babyai", "metaworld", "mujoco")
ATARI_ACTIONS = 18
METAWORLD_STATE, METAWORLD_ACTIONS = 39, 4
# MuJoCo config -> (gymnasium id, observation size, action size, action bound) of JAT's v4 envs
MUJOCO: dict[str, tuple[str, int, int, float]] = {
    "ant": ("Ant-v4", 27, 8, 1.0),
    "doublependulum": ("InvertedDoublePendulum-v4", 11, 1, 1.0),
    "halfcheetah": ("HalfCheetah-v4", 17, 6, 1.0),
    "hopper": ("Hopper-v4", 11, 3, 1.0),
    "humanoid": ("Humanoid-v4", 376, 17, 0.4),
    "pendulum": ("InvertedPendulum-v4", 4, 1, 3.0),
    "pusher": ("Pusher-v4", 23, 7, 2.0),
    "reacher": ("Reacher-v4", 11, 2, 1.0),
    "standup": ("HumanoidStandup-v4", 376, 17, 0.4),
    "swimmer": ("Swimmer-v4", 8, 2, 1.0),
    "walker": ("Walker2d-v4", 17, 6, 1.0),
}


@functools.cache
def jat_scores() -> dict[str, dict[str, float]]:
    """JAT config name ("atari-pong") -> {expert_mean, expert_std, random_mean, ...}."""
    return json.loads(SCORES_PATH.read_text())["tasks"]


def config_name(task_name: str) -> str:
    """"jat/atari-pong" -> "atari-pong"; KeyError naming the known tasks otherwise."""
    config = task_name[len(PREFIX):] if task_name.startswith(PREFIX) else ""
    if config not in jat_scores():
        raise KeyError(f"unknown JAT task {task_name!r}; expected 'jat/<config>' with config one "
                       f"of {', '.join(sorted(jat_scores()))}")
    return config


def domain(task_name: str) -> str:
    """The JAT domain ("atari", "babyai", "metaworld", "mujoco") of a JAT task name."""
    return config_name(task_name).split("-", 1)[0]


def observation_sizes(task_name: str) -> dict[str, tuple[int, ...]]:
    """Shape of one step of each fixed-size observation key (text keys are not listed)."""
    dom, config = domain(task_name), config_name(task_name)
    if dom == "atari":
        return {"pixels": (80, 80, 1)}
    if dom == "babyai":
        return {"direction": (1,), "image": babyai.VIEW_SHAPE}  # JAT's 148 values, split
    if dom == "metaworld":
        return {"state": (METAWORLD_STATE,)}
    return {"state": (MUJOCO[config.split("-", 1)[1]][1],)}


def spec(task_name: str) -> TimestepSpec:
    """The TimestepSpec of a JAT task (see the module docstring)."""
    dom, config = domain(task_name), config_name(task_name)
    if dom == "atari":
        return TimestepSpec(observation={"pixels": "image"}, action_kind="discrete",
                            action_shape=(), num_actions=ATARI_ACTIONS)
    if dom == "babyai":
        return babyai.make_spec()
    size, bound = METAWORLD_ACTIONS, 1.0
    if dom == "mujoco":
        _, _, size, bound = MUJOCO[config.split("-", 1)[1]]
    return TimestepSpec(observation={"state": "continuous"}, action_kind="continuous",
                        action_shape=(size,), action_minimum=-bound, action_maximum=bound)


def jat_reference(task_name: str) -> dict[str, float]:
    """JAT's reference returns of a task: expert_mean, expert_std, random_mean (and
    random_std, human_mean where JAT lists them)."""
    return dict(jat_scores()[config_name(task_name)])


def jat_normalized(task_name: str, ret: float) -> float:
    """(ret - random) / (expert - random) with JAT's reference returns (1.0 = JAT's expert)."""
    ref = jat_reference(task_name)
    low, high = ref["random_mean"], ref["expert_mean"]
    if high == low:
        raise ValueError(f"cannot normalize {task_name}: JAT's expert and random scores are equal")
    return (ret - low) / (high - low)


def _register_all() -> None:
    for config in sorted(jat_scores()):
        name = PREFIX + config
        register(Task(name=name, suite=f"jat-{domain(name)}", spec=spec(name), make_env=None,
                      max_episode_steps=0,
                      description=f"JAT dataset {config} (data only, gato.data.formats.jat)"))


_register_all()
