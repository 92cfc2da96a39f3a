"""Loading trained checkpoints for evaluation: params only, plus the run's config.json.

A checkpoint path may be a run's WORKDIR (holding checkpoints/), its checkpoints directory
(latest step) or one step directory (WORKDIR/checkpoints/<step>), as written by
`gato.train.checkpoint`. Every failure names the offending path.
"""

import dataclasses
import json
import logging
import pathlib
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections

from gato.config import run_config
from gato.envs.registry import Task
from gato.envs.returns import check_model as check_returns
from gato.errors import CheckpointError  # a checkpoint that exists but cannot be restored
from gato.model import ModelConfig, build
from gato.rundir import RunDir
from gato.tokenizers.timestep import action_token_range
from gato.tokenizers.vocab import RETURN_VOCAB_SIZE, VOCAB_SIZE

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoadedCheckpoint:
    path: pathlib.Path  # the step directory restored
    workdir: pathlib.Path  # the run directory (TensorBoard and eval outputs go under it)
    step: int
    config: ml_collections.ConfigDict  # the run's config.json, read back as a full config
    model_config: ModelConfig
    params: Any


def checkpoints_dir(path: str | pathlib.Path) -> tuple[pathlib.Path, int | None]:
    """(checkpoints directory, step or None for all/latest) for a workdir, checkpoints dir or
    step dir; raises FileNotFoundError naming `path` if it is not a directory."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint path {str(path)!r} does not exist or is not a "
                                "directory")
    if RunDir(path).checkpoints.is_dir():
        return RunDir(path).checkpoints, None
    if path.name.isdigit() and RunDir.config_beside(path.parent).exists():
        return path.parent, int(path.name)
    return path, None


def list_steps(directory: pathlib.Path) -> list[int]:
    """Steps of the complete checkpoints in `directory` (digit-named dirs), newest first."""
    return sorted((int(p.name) for p in directory.iterdir() if p.is_dir() and p.name.isdigit()),
                  reverse=True)


def read_config(directory: pathlib.Path) -> dict:
    """The run's config.json beside the checkpoints."""
    path = RunDir.config_beside(directory)
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {str(directory)!r}: not a gato checkpoints "
                                "directory")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e


def model_config_from(config: dict, source: pathlib.Path) -> ModelConfig:
    """ModelConfig from the config's model section {"name", "overrides"}."""
    model = config.get("model")
    if not isinstance(model, dict) or "name" not in model:
        raise CheckpointError(f"{RunDir.config_beside(source)} has no model.name")
    try:
        return build.model_config_from(model)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{RunDir.config_beside(source)}: bad model section {model}: "
                              f"{e}") from e


def abstract_params(model_config: ModelConfig) -> Any:
    """ShapeDtypeStructs of the (unboxed) params, on the first local device."""
    shapes = build.param_shapes(model_config)
    sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding),
                        shapes)


def load_checkpoint(path: str | pathlib.Path, step: int | None = None) -> LoadedCheckpoint:
    """Restores the params of `step` (default: the one named by `path`, else the latest)."""
    from gato.train.checkpoint import restore_params

    directory, named_step = checkpoints_dir(path)
    config = read_config(directory)
    steps = list_steps(directory)
    step = step if step is not None else named_step if named_step is not None else (
        steps[0] if steps else None)
    if step is None or step not in steps:
        raise FileNotFoundError(f"no checkpoint{'' if step is None else f' for step {step}'} "
                                f"in {str(directory)!r} (steps found: {steps})")
    model_config = model_config_from(config, directory)
    step_dir = directory / str(step)
    try:
        params = restore_params(step_dir, abstract_params(model_config))
    except CheckpointError:
        raise  # damaged or of another model: the message names path and step already
    except Exception as e:
        raise CheckpointError(f"cannot restore params from {step_dir} with the model config in "
                              f"{RunDir.config_beside(directory)} (corrupt checkpoint or "
                              f"mismatched config): {type(e).__name__}: {e}") from e
    return LoadedCheckpoint(step_dir, RunDir.of(directory).root, step, run_config(config),
                            model_config, params)


def trained_task_names(config: ml_collections.ConfigDict) -> set[str] | None:
    """Names of the tasks the run (a full config) trained on; None when its data names none
    (the synthetic source, or no suites and no tasks)."""
    from gato.envs import registry

    data = config.data
    if data.source == "synthetic" or not (data.suites or data.tasks):
        return None
    return {t.name for t in registry.select(data.suites or None, data.tasks or None)}


def check_compatible(loaded: LoadedCheckpoint, tasks: Sequence[Task]) -> list[str]:
    """Raises ValueError when the model cannot emit the tasks' tokens; returns warnings for tasks
    the model was not trained on."""
    vocab = loaded.model_config.vocab_size
    want = RETURN_VOCAB_SIZE if loaded.model_config.return_tokens else VOCAB_SIZE
    if vocab != want:
        raise ValueError(f"checkpoint {loaded.path}: model vocab_size {vocab} does not match the "
                         f"tokenizers' {want}")
    try:
        check_returns(loaded.config.data.returns,
                      loaded.model_config.return_tokens)
    except ValueError as e:
        raise ValueError(f"checkpoint {loaded.path}: {e}") from None
    for task in tasks:
        if task.spec is None:
            raise ValueError(f"task {task.name!r} (suite {task.suite}) has no actions to evaluate")
        lo, hi = action_token_range(task.spec)
        if hi > vocab:
            raise ValueError(f"task {task.name!r}: action ids [{lo}, {hi}) exceed the model's "
                             f"vocab_size {vocab} in {loaded.path}")
    trained = trained_task_names(loaded.config)
    warnings = []
    if trained is None:
        warnings.append(f"config of {loaded.path} names no training tasks (data source "
                        f"{loaded.config.data.source!r}); scores of "
                        f"{[t.name for t in tasks]} may be meaningless")
    else:
        warnings += [f"task {t.name!r} was not in the training mixture of {loaded.path}"
                     for t in tasks if t.name not in trained]
    for w in warnings:
        log.warning(w)
    return warnings
