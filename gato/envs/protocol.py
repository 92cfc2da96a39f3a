"""Evaluation protocols: how episodes are run when a return is scored, as one named object.

A normalized score (return - random) / (expert - random) means something only when the return
and the reference returns were measured under the same environment settings: Pong capped at
1000 agent steps is a shorter game than Pong at 4500, and its scores are not comparable. A
`Protocol` pins those settings (episode cap, Atari frame skip, sticky actions and no-op starts)
together with how many episodes are scored and from which seeds; `gato.envs.scores` keeps
reference returns per protocol and refuses to normalize across protocols.

    protocol = get("cap1000")
    task = protocol.apply(registry.get("pong"))    # its make_env builds Pong under the protocol
    protocol.environment(task)  # {"max_episode_steps": 1000, "frame_skip": 4, ...}

Protocols (PROTOCOLS):
- "full": every task at its own episode cap (control 1000 steps, the suite's time limit; Atari
  4500 agent steps = 18,000 frames = 5 minutes, the DQN evaluation cap of Mnih et al. 2015),
  frame skip 4, no sticky actions, up to 30 no-op starts; 10 episodes from seeds 0..9. The
  published Atari human scores were measured this way.
- "cap1000": the same with every episode capped at 1000 agent steps (control: unchanged; Atari:
  4000 frames, about 67 s of play), the main job's evaluation.
"""

import dataclasses
import functools
from typing import Any

from gato.envs.registry import Task

ATARI_SUITE = "atari"


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Environment settings and episode schedule of an evaluation.

    Attributes:
      name: the protocol's name (a key of PROTOCOLS for the pinned ones).
      max_episode_steps: agent-step cap of every episode; 0 means each task's own cap.
      frame_skip: Atari emulator frames per agent step (action repeated, rewards summed).
      sticky_actions: Atari probability of repeating the previous action (Machado et al. 2018).
      noop_max: Atari upper bound of random no-op steps after reset.
      episodes: episodes scored per task.
      seed: episode i of a task uses environment and policy seed `seed + i`.
      overrides: fields changed from the named protocol (empty for a pinned one).
    """

    name: str
    max_episode_steps: int = 0
    frame_skip: int = 4
    sticky_actions: float = 0.0
    noop_max: int = 30
    episodes: int = 10
    seed: int = 0
    overrides: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if (self.max_episode_steps < 0 or self.frame_skip < 1 or self.noop_max < 0
                or self.episodes < 1 or not 0.0 <= self.sticky_actions <= 1.0):
            raise ValueError(f"bad evaluation protocol {self}")

    @property
    def label(self) -> str:
        """The name, with overridden fields: e.g. "cap1000[episodes=5]"."""
        if not self.overrides:
            return self.name
        return f"{self.name}[{','.join(f'{k}={v}' for k, v in self.overrides)}]"

    def seeds(self) -> list[int]:
        """Episode seeds: seed, seed + 1, ..., seed + episodes - 1."""
        return [self.seed + i for i in range(self.episodes)]

    def cap(self, task: Task) -> int:
        """Agent steps an episode of `task` may last. Atari envs take the cap as an option; other
        tasks end at their own limit, so the cap cannot exceed it."""
        if not self.max_episode_steps:
            return task.max_episode_steps
        if task.suite == ATARI_SUITE:
            return self.max_episode_steps
        return min(self.max_episode_steps, task.max_episode_steps)

    def environment(self, task: Task) -> dict[str, Any]:
        """The settings that decide what a return of `task` means: two returns are comparable
        (and one normalizable by the other's reference) only when these are equal."""
        env: dict[str, Any] = {"max_episode_steps": self.cap(task)}
        if task.suite == ATARI_SUITE:
            env |= {"frame_skip": self.frame_skip, "sticky_actions": self.sticky_actions,
                    "noop_max": self.noop_max}
        return env

    def apply(self, task: Task) -> Task:
        """`task` with environments built under this protocol and its episode cap."""
        make_env = task.make_env
        if task.suite == ATARI_SUITE and make_env is not None:
            make_env = functools.partial(
                make_env, frame_skip=self.frame_skip,
                repeat_action_probability=self.sticky_actions, noop_max=self.noop_max,
                max_episode_steps=self.cap(task))
        return dataclasses.replace(task, make_env=make_env, max_episode_steps=self.cap(task))

    def replace(self, **changes: Any) -> "Protocol":
        """A copy with `changes`; fields that differ from this protocol's are recorded in
        `overrides` (the name stays)."""
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        overrides = dict(self.overrides) | changed
        return dataclasses.replace(self, **changed, overrides=tuple(sorted(overrides.items())))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (written into every evaluation's results.json)."""
        out = dataclasses.asdict(self)
        out["overrides"] = dict(self.overrides)
        out["label"] = self.label
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Protocol":
        """Inverse of `to_dict` (unknown keys such as "label" are ignored)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        kwargs["overrides"] = tuple(sorted(dict(kwargs.get("overrides") or {}).items()))
        return cls(**kwargs)


PROTOCOLS: dict[str, Protocol] = {
    "full": Protocol(name="full"),
    "cap1000": Protocol(name="cap1000", max_episode_steps=1000),
}
DEFAULT = "full"  # the protocol of `gato eval` unless the config or --protocol names another


def get(name: str) -> Protocol:
    """The pinned protocol `name`; KeyError lists the known ones."""
    if name not in PROTOCOLS:
        raise KeyError(f"unknown evaluation protocol {name!r}; protocols: "
                       f"{', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]


def resolve(name: str, *, episodes: int = 0, seed: int = -1, max_steps: int = 0) -> Protocol:
    """The pinned protocol `name` with the eval config's overrides (0 / -1: the protocol's)."""
    changes: dict[str, Any] = {}
    if episodes:
        changes["episodes"] = int(episodes)
    if seed >= 0:
        changes["seed"] = int(seed)
    if max_steps:
        changes["max_episode_steps"] = int(max_steps)
    return get(name).replace(**changes)
