"""Reference scores: the measured expert/random table and the published Atari human/random table.

`reference_scores.json` (written by `python -m gato.envs.measure`) holds, per task, the mean and
std of the return of the scripted expert and of the uniform random policy over recorded seeds,
at the task's episode cap. Expert-normalized score = (return - random) / (expert - random), the
paper's per-task score (1.0 = expert, 0.0 = random).
"""

import functools
import json
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("reference_scores.json")

# Published per-game scores of a human tester and of a uniform random policy, from Mnih et al.,
# "Human-level control through deep reinforcement learning", Nature 518 (2015), Extended Data
# Table 2 (episodes of up to 5 minutes = 18,000 frames, the Atari suite's episode cap here).
# game -> (random, human)
ATARI_HUMAN_RANDOM: dict[str, tuple[float, float]] = {
    "boxing": (0.1, 4.3),
    "breakout": (1.7, 31.8),
    "freeway": (0.0, 29.6),
    "pong": (-20.7, 9.3),
}


def normalize(ret: float, low: float, high: float) -> float:
    """(ret - low) / (high - low); raises ValueError when high == low (no scale)."""
    if high == low:
        raise ValueError(f"cannot normalize: reference scores are equal ({low})")
    return (ret - low) / (high - low)


@functools.cache
def load_table(path: str | Path = TABLE_PATH) -> dict[str, dict]:
    """The reference table {task: {"expert_mean", "expert_std", "random_mean", ...}}."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no reference table at {path}; run `python -m gato.envs.measure`")
    return json.loads(path.read_text())


def reference(task_name: str) -> dict:
    """The table's entry for `task_name`; KeyError lists the tasks that have one."""
    table = load_table()
    if task_name not in table:
        raise KeyError(f"no reference scores for task {task_name!r}; tasks with reference "
                       f"scores: {', '.join(sorted(table))}")
    return table[task_name]


def expert_normalized(task_name: str, ret: float) -> float:
    """(ret - random_mean) / (expert_mean - random_mean) from the reference table."""
    ref = reference(task_name)
    return normalize(ret, ref["random_mean"], ref["expert_mean"])


def human_normalized(task_name: str, ret: float) -> float:
    """(ret - random) / (human - random) with the published Atari scores (Mnih et al. 2015)."""
    if task_name not in ATARI_HUMAN_RANDOM:
        raise KeyError(f"no human score for task {task_name!r}; games with human scores: "
                       f"{', '.join(sorted(ATARI_HUMAN_RANDOM))}")
    random_score, human_score = ATARI_HUMAN_RANDOM[task_name]
    return normalize(ret, random_score, human_score)
