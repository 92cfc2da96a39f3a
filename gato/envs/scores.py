"""Reference scores: the measured expert/random table and the published Atari human/random table.

`reference_scores.json` (written by `python -m gato.policies.measure --protocol NAME`) holds, per
evaluation protocol (`gato.envs.protocol`), per task, the mean and std of the return of the
scripted expert and of the uniform random policy over recorded seeds, and the environment
settings they were measured under:

    {"full": {"protocol": {...}, "tasks": {"pong": {"expert_mean": .., "random_mean": ..,
                                                     "environment": {"max_episode_steps": ..}}}}}

Expert-normalized score = (return - random) / (expert - random), the paper's per-task score
(1.0 = expert, 0.0 = random). A return is normalized only by references measured under the same
environment settings (`reference` raises `ProtocolMismatchError` otherwise).
"""

import functools
import json
import math
from pathlib import Path

from gato.envs import protocol as protocol_lib
from gato.envs import registry
from gato.envs.protocol import Protocol

TABLE_PATH = Path(__file__).with_name("reference_scores.json")

# Published per-game scores of a human tester and of a uniform random policy, from Mnih et al.,
# "Human-level control through deep reinforcement learning", Nature 518 (2015), Extended Data
# Table 2 (episodes of up to 5 minutes = 18,000 frames, the Atari suite's episode cap here, up to
# 30 no-op starts, no sticky actions: the "full" protocol). game -> (random, human)
ATARI_HUMAN_RANDOM: dict[str, tuple[float, float]] = {
    "boxing": (0.1, 4.3),
    "breakout": (1.7, 31.8),
    "freeway": (0.0, 29.6),
    "pong": (-20.7, 9.3),
}
HUMAN_PROTOCOL = "full"  # the protocol the human and random scores above were measured under


class ProtocolMismatchError(ValueError):
    """Reference returns exist for a task, but none under the evaluation's protocol."""


def normalize(ret: float, low: float, high: float) -> float:
    """(ret - low) / (high - low): the expert- (or human-) normalized score; raises ValueError
    when the reference range is empty or not finite."""
    if not math.isfinite(high - low) or high == low:
        raise ValueError(f"cannot normalize against an empty range [{low}, {high}]")
    return (ret - low) / (high - low)


@functools.cache
def load_table(path: str | Path = TABLE_PATH) -> dict[str, dict]:
    """The reference table {protocol: {"protocol": {...}, "tasks": {task: entry}}}."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no reference table at {path}; run `python -m "
                                "gato.policies.measure`")
    return json.loads(path.read_text())


def _as_task(task: registry.Task | str) -> registry.Task:
    return registry.get(task) if isinstance(task, str) else task


def reference(task: registry.Task | str, protocol: Protocol | None = None) -> dict:
    """The table's entry for `task` measured under `protocol`'s environment settings (default:
    the default protocol), with "measured_under": the protocol it was measured with.

    Entries of any protocol whose settings for this task are equal count (control episodes of
    1000 steps are the same under "full" and "cap1000"), the protocol's own first. Raises
    KeyError when the table has no entry for the task, ProtocolMismatchError (one line) when it
    has entries only under other settings.
    """
    task = _as_task(task)
    protocol = protocol or protocol_lib.get(protocol_lib.DEFAULT)
    want = protocol.environment(task)
    found = {name: block["tasks"][task.name] for name, block in load_table().items()
             if task.name in block["tasks"]}
    if not found:
        with_refs = sorted({t for block in load_table().values() for t in block["tasks"]})
        raise KeyError(f"no reference scores for task {task.name!r}; tasks with reference "
                       f"scores: {', '.join(with_refs)}")
    for name in sorted(found, key=lambda n: n != protocol.name):
        if found[name]["environment"] == want:
            return {**found[name], "measured_under": name}
    differ = sorted({k for e in found.values() for k in set(e["environment"]) | set(want)
                     if e["environment"].get(k) != want.get(k)})
    mine = ", ".join(f"{k}={want.get(k)}" for k in differ)
    others = "; ".join(f"{n}: " + ", ".join(f"{k}={e['environment'].get(k)}" for k in differ)
                       for n, e in sorted(found.items()))
    raise ProtocolMismatchError(
        f"cannot normalize {task.name} under protocol {protocol.label} ({mine}): its reference "
        f"returns were measured under other settings ({others}); evaluate under one of those, "
        f"measure them (python -m gato.policies.measure --protocol NAME) or set "
        f"eval.normalize=False (gato eval --no-normalize)")


def expert_normalized(task: registry.Task | str, ret: float,
                      protocol: Protocol | None = None) -> float:
    """(ret - random_mean) / (expert_mean - random_mean) from the reference table."""
    ref = reference(task, protocol)
    return normalize(ret, ref["random_mean"], ref["expert_mean"])


def check_human_protocol(task: registry.Task | str, protocol: Protocol) -> None:
    """Raises ProtocolMismatchError when `protocol` runs `task` unlike the published human
    scores."""
    task = _as_task(task)
    want = protocol_lib.get(HUMAN_PROTOCOL).environment(task)
    if protocol.environment(task) != want:
        raise ProtocolMismatchError(
            f"no human-normalized score for {task.name} under protocol {protocol.label} "
            f"{protocol.environment(task)}: the human scores were measured under "
            f"{HUMAN_PROTOCOL} {want}")


def human_normalized(task_name: str, ret: float) -> float:
    """(ret - random) / (human - random) with the published Atari scores (Mnih et al. 2015)."""
    if task_name not in ATARI_HUMAN_RANDOM:
        raise KeyError(f"no human score for task {task_name!r}; games with human scores: "
                       f"{', '.join(sorted(ATARI_HUMAN_RANDOM))}")
    random_score, human_score = ATARI_HUMAN_RANDOM[task_name]
    return normalize(ret, random_score, human_score)
