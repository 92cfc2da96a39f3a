"""Orbax checkpoints in WORKDIR/checkpoints: params, optimizer state, step, data-iterator state.

Each checkpoint step directory holds three items: `params` and `opt_state` (sharded arrays,
restored straight onto the mesh), and `meta` (JSON: {"step": int, "data": iterator state}).
The experiment config is written beside them as WORKDIR/checkpoints/config.json.

Where a run starts (first match wins):
  1. the latest checkpoint in WORKDIR/checkpoints (automatic resume; disabled by --no-resume),
  2. an explicit checkpoint, `checkpoint.resume_from` (a checkpoints directory or one step dir):
     params, optimizer state, step and data state,
  3. `checkpoint.init_from` (--init-from): params only; step 0, fresh optimizer, fresh data,
  4. scratch: freshly initialized params.
Orbax writes each step to a temporary directory and renames it when complete, so a process
killed mid-save (kill -9) leaves the previous checkpoints readable.
"""

import json
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from gato.train.step import TrainState


def abstract_with_shardings(tree: Any, shardings: Any) -> Any:
    """ShapeDtypeStructs carrying the target shardings (restore places arrays on the mesh)."""
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                        tree, shardings)


def _manager(directory: pathlib.Path, keep: int | None = None, *,
             read_only: bool = False) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                           read_only=read_only)
    return ocp.CheckpointManager(directory.absolute(), options=options)


class Checkpointer:
    """Saves and restores TrainState + data-iterator state in one Orbax CheckpointManager."""

    def __init__(self, directory: str | pathlib.Path, keep: int | None):
        self.directory = pathlib.Path(directory)
        self.manager = _manager(self.directory, keep)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, state: TrainState, data_state: dict[str, Any]) -> int:
        """Saves at step int(state.step) (asynchronously); returns that step."""
        step = int(jax.device_get(state.step))
        meta = {"step": step, "data": data_state}
        self.manager.save(step, args=ocp.args.Composite(
            params=ocp.args.StandardSave(state.params),
            opt_state=ocp.args.StandardSave(state.opt_state),
            meta=ocp.args.JsonSave(meta),
        ), force=True)
        return step

    def restore(self, abstract_state: TrainState, step: int | None = None):
        """Returns (TrainState, data state) of `step` (default latest); arrays on the mesh."""
        return restore_full(self.manager, abstract_state, step)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def restore_full(manager: ocp.CheckpointManager, abstract_state: TrainState,
                 step: int | None = None):
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {manager.directory}")
    restored = manager.restore(step, args=ocp.args.Composite(
        params=ocp.args.StandardRestore(abstract_state.params),
        opt_state=ocp.args.StandardRestore(abstract_state.opt_state),
        meta=ocp.args.JsonRestore(),
    ))
    meta = restored["meta"]
    step_array = jax.device_put(jax.numpy.asarray(meta["step"], jax.numpy.int32),
                                abstract_state.step.sharding)
    return TrainState(step_array, restored["params"], restored["opt_state"]), meta["data"]


def _locate(path: str | pathlib.Path) -> tuple[pathlib.Path, int | None]:
    """A checkpoints directory -> (it, None = latest); a step directory -> (parent, step)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint path {str(path)!r} is not a directory")
    if path.name.isdigit() and (path / "params").exists():
        return path.parent, int(path.name)
    return path, None


def restore_from_path(path: str | pathlib.Path, abstract_state: TrainState):
    """Explicit resume: (TrainState, data state) from a checkpoints dir or one step dir."""
    directory, step = _locate(path)
    manager = _manager(directory, read_only=True)
    try:
        return restore_full(manager, abstract_state, step)
    finally:
        manager.close()


def restore_params(path: str | pathlib.Path, abstract_params: Any) -> Any:
    """--init-from: only the params of a checkpoint (dir or step dir), placed on the mesh."""
    directory, step = _locate(path)
    manager = _manager(directory, read_only=True)
    try:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {directory}")
        restored = manager.restore(step, args=ocp.args.Composite(
            params=ocp.args.StandardRestore(abstract_params)))
        return restored["params"]
    finally:
        manager.close()


def write_config(directory: str | pathlib.Path, config: Any) -> pathlib.Path:
    """Writes the experiment config as JSON beside the checkpoints (process 0 only)."""
    path = pathlib.Path(directory) / "config.json"
    if jax.process_index() == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        as_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        path.write_text(json.dumps(as_dict, indent=2, sort_keys=True, default=str))
    return path
