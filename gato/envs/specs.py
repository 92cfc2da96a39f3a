"""A run's TimestepSpec per task: the registry's spec with the run's data section applied.

Training (the data pipeline) and evaluation (rollouts, prompts, held-out windows) both call
`task_spec(task, config.data)`, so a checkpoint is always shown tokens made as in training:
  - `data.returns` adds return-to-go tokens (`gato.envs.returns`);
  - `data.frame_stack` (1-3, default 1: Gato's single frame) shows grayscale image observations
    with their predecessors in the patches' channels (`TimestepSpec.frame_stack`), and
    `data.frame_motion` (with frame_stack 2) the frame and its change instead;
  - `data.grid_cells` shows a grid view (BabyAI's) one token per cell (`TimestepSpec.cells`).
`data_config` is the ConfigDict, the dict read back from a run's config.json, or None (Gato's
timestep); a run saved before a field existed gets its default.
"""

from typing import Any

from gato.config import section
from gato.envs import returns
from gato.envs.registry import Task
from gato.tokenizers.spec import TimestepSpec


def task_spec(task: Task, data_config: Any = None) -> TimestepSpec | None:
    """The task's TimestepSpec under the run's data section (a full ConfigDict; None: the
    defaults), or None for tasks without one (text)."""
    if task.spec is None:
        return None
    data = section("data") if data_config is None else data_config
    spec = task.spec.with_returns(returns.return_spec(task.name, data.returns))
    spec = spec.with_cells(bool(data.get("grid_cells", False)))
    return spec.with_frame_stack(int(data.frame_stack), bool(data.frame_motion))
