"""Orbax checkpoints in WORKDIR/checkpoints: params, optimizer state, step, data-iterator state.

Each checkpoint step directory holds three items: `params` and `opt_state` (sharded arrays,
restored straight onto the mesh), and `meta` (JSON: {"step": int, "data": iterator state,
"integrity": checksums}). The experiment config is written beside them as
WORKDIR/checkpoints/config.json, once the run has started from a checkpoint that matches it (the
run folder's paths: `gato.rundir.RunDir`).

Where a run starts (first match wins):
  1. the latest intact checkpoint in WORKDIR/checkpoints (automatic resume; disabled by
     --no-resume),
  2. an explicit checkpoint, `checkpoint.resume_from` (a checkpoints directory or one step dir):
     params, optimizer state, step and data state,
  3. `checkpoint.init_from` (--init-from): params only; step 0, fresh optimizer, fresh data,
  4. scratch: freshly initialized params.
Orbax writes each step to a temporary directory and renames it when complete, so a process
killed mid-save (kill -9) leaves the previous checkpoints readable. A save that runs out of disk
space (Orbax/TensorStore's `RESOURCE_EXHAUSTED ... No space left on device`, raised when the
asynchronous write is waited for) removes its partial `STEP.orbax-checkpoint-tmp` directory and
raises CheckpointSpaceError naming the disk, its free space and the step; older checkpoints stay
(`gato.train.disk_space`).

Integrity (`gato.train.integrity`): every save stores checksums of all arrays and of the JSON
state in `meta`; every restore recomputes and compares them. A checkpoint that cannot be read or
fails its checksums raises DamagedCheckpointError naming its directory and step; a checkpoint of
another model raises CheckpointMismatchError before any array is read. On resume, a damaged
newest checkpoint is skipped for the newest intact one (`checkpoint.on_damaged="fallback"`, the
damaged ones are moved to WORKDIR/checkpoints_damaged/ so later saves do not collide with them)
or stops the run (`"fail"`). Checkpoints written before checksums existed restore with a warning.
"""

import contextlib
import json
import logging
import pathlib
import shutil
import time
from collections.abc import Iterator
from typing import Any

import jax
import orbax.checkpoint as ocp

from gato.errors import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointSpaceError,
    DamagedCheckpointError,
)
from gato.rundir import RunDir
from gato.train import integrity
from gato.train.disk_space import (
    PARTIAL,
    join_writers,
    mount_point,
    out_of_space,
    remove_partial,
    size_text,
)
from gato.train.step import TrainState

ON_DAMAGED = ("fallback", "fail")


def abstract_with_shardings(tree: Any, shardings: Any) -> Any:
    """ShapeDtypeStructs carrying the target shardings (restore places arrays on the mesh)."""
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                        tree, shardings)


def _manager(directory: pathlib.Path, keep: int | None = None, *,
             read_only: bool = False) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only,
                                           read_only=read_only)
    return ocp.CheckpointManager(directory.absolute(), options=options)


def _brief(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


class Checkpointer:
    """Saves and restores TrainState + data-iterator state in one Orbax CheckpointManager."""

    def __init__(self, directory: str | pathlib.Path, keep: int | None):
        self.directory = pathlib.Path(directory).absolute()  # Orbax needs absolute paths
        self.manager = _manager(self.directory, keep)
        self._saving: int | None = None  # step of the asynchronous save in flight
        self._failed = False  # a save ran out of space (already reported)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def save(self, state: TrainState, data_state: dict[str, Any]) -> int:
        """Saves at step int(state.step) (asynchronously) with checksums; returns that step."""
        step = int(jax.device_get(state.step))
        meta = {"step": step, "data": data_state}
        meta["integrity"] = {"format": integrity.FORMAT,
                             "params": integrity.tree_digests(state.params),
                             "opt_state": integrity.tree_digests(state.opt_state),
                             "meta": integrity.json_digest({"step": step, "data": data_state})}
        self.wait()  # the previous save's errors belong to its step
        with self._out_of_space(step):
            self.manager.save(step, args=ocp.args.Composite(
                params=ocp.args.StandardSave(state.params),
                opt_state=ocp.args.StandardSave(state.opt_state),
                meta=ocp.args.JsonSave(meta),
            ), force=True)
        self._saving = step
        return step

    def restore(self, abstract_state: TrainState, step: int | None = None):
        """Returns (TrainState, data state) of `step` (default latest), verified; on the mesh."""
        return restore_full(self.manager, abstract_state, step)

    def restore_latest_intact(self, abstract_state: TrainState, on_damaged: str = "fallback"):
        """(TrainState, data state, step) of the newest intact checkpoint, or None if there is none.

        Damaged newer checkpoints are logged by path and step and moved aside (on_damaged
        "fallback") or raise DamagedCheckpointError ("fail"). A mismatch with the model raises.
        """
        if on_damaged not in ON_DAMAGED:
            raise ValueError(f"checkpoint.on_damaged={on_damaged!r}; expected one of {ON_DAMAGED}")
        damaged: list[DamagedCheckpointError] = []
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                state, data_state = self.restore(abstract_state, step)
            except DamagedCheckpointError as e:
                logging.error("%s", e)
                if on_damaged == "fail":
                    raise DamagedCheckpointError(
                        f"{e} (checkpoint.on_damaged='fail'; 'fallback' resumes from the newest "
                        "intact checkpoint)", e.path, e.step) from e
                damaged.append(e)
                continue
            if damaged:
                moved = self.quarantine([e.step for e in damaged])
                logging.warning("resuming from step %d, the newest intact checkpoint; damaged "
                                "checkpoints moved to %s", step, moved)
            return state, data_state, step
        if damaged:
            raise DamagedCheckpointError(
                f"every checkpoint in {self.directory} is damaged (steps "
                f"{[e.step for e in damaged]}); newest: {damaged[0]}", str(self.directory))
        return None

    def newest_verified_step(self, abstract_state: TrainState) -> int | None:
        """The newest checkpoint that restores and passes its checksums (None if none does)."""
        self.manager.wait_until_finished()
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                self.restore(abstract_state, step)
                return step
            except CheckpointError as e:
                logging.error("%s", e)
        return None

    def quarantine(self, steps: list[int]) -> pathlib.Path:
        """Moves these step directories to WORKDIR/checkpoints_damaged/ (kept for inspection,
        out of the manager's way so the run can save those steps again)."""
        target = RunDir.damaged_beside(self.directory)
        if jax.process_index() == 0:
            target.mkdir(parents=True, exist_ok=True)
            for step in steps:
                destination, n = target / str(step), 1
                while destination.exists():
                    destination, n = target / f"{step}-{n}", n + 1
                shutil.move(str(self.directory / str(step)), str(destination))
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("gato_checkpoint_quarantine")
        self.manager.reload()
        return target

    def wait(self) -> None:
        """Waits for the save in flight; raises CheckpointSpaceError if it ran out of space."""
        with self._out_of_space(self._saving):
            self.manager.wait_until_finished()
        self._saving = None

    def close(self) -> None:
        try:
            if not self._failed:  # a failed save was reported once already
                self.wait()
        finally:
            try:
                with self._out_of_space(self._saving):
                    self.manager.close()
            except CheckpointSpaceError:
                if not self._failed:
                    raise
            finally:  # Orbax's close may raise the failed save's error again: reported once
                if self._failed:
                    remove_partial(self.directory)

    @contextlib.contextmanager
    def _out_of_space(self, step: int | None) -> Iterator[None]:
        """Turns Orbax's out-of-space error into one line naming the disk; removes the partial
        checkpoint (never a complete one)."""
        try:
            yield
        except Exception as e:
            if not out_of_space(e):
                raise
            self._failed, self._saving = True, None
            raise CheckpointSpaceError(self._space_message(step)) from e

    def _space_message(self, step: int | None) -> str:
        join_writers()  # the other items of the failed step are still being written
        removed = remove_partial(self.directory)
        for _ in range(20):  # TensorStore may land writes its callers gave up on: until none
            time.sleep(0.1)
            if not remove_partial(self.directory):
                break
        if step is None and removed:
            step = int(PARTIAL.fullmatch(removed[0].name).group(1))
        self.manager.reload()
        usage = shutil.disk_usage(self.directory)
        latest = self.manager.latest_step()
        what = "a checkpoint" if step is None else f"the checkpoint of step {step}"
        return (f"{what} was not saved: no space left on the disk at "
                f"{mount_point(self.directory)} ({size_text(usage.free)} free of "
                f"{size_text(usage.total)}), which holds {self.directory}; "
                + (f"removed the partial {', '.join(p.name for p in removed)}; " if removed
                   else "")
                + ("the older checkpoints are intact (latest: step "
                   f"{latest})" if latest is not None else "no earlier checkpoint")
                + ". Free space or lower train.keep_checkpoints, then rerun to resume")


def check_matches(step_dir: pathlib.Path, step: int, abstract_params: Any) -> None:
    """Raises CheckpointMismatchError if the saved params' names, shapes or dtypes differ from
    `abstract_params` (a checkpoint of another model); DamagedCheckpointError if unreadable."""
    try:
        saved = ocp.StandardCheckpointHandler().metadata(
            pathlib.Path(step_dir).absolute() / "params")
        flat, _ = jax.tree_util.tree_flatten_with_path(saved)
        saved = {jax.tree_util.keystr(k): (tuple(m.shape), str(m.dtype)) for k, m in flat}
    except Exception as e:  # noqa: BLE001 -- any failure to read metadata is damage
        raise DamagedCheckpointError(f"checkpoint {step_dir} (step {step}) is damaged: cannot "
                                     f"read its params metadata: {_brief(e)}",
                                     str(step_dir), step) from e
    flat, _ = jax.tree_util.tree_flatten_with_path(abstract_params)
    wanted = {jax.tree_util.keystr(k): (tuple(a.shape), str(a.dtype)) for k, a in flat}
    if saved == wanted:
        return
    diffs = [f"{k}: checkpoint {saved.get(k, 'absent')}, model {wanted.get(k, 'absent')}"
             for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k)]
    raise CheckpointMismatchError(
        f"checkpoint {step_dir} (step {step}) holds another model than the config's: "
        f"{len(diffs)} params differ, e.g. {'; '.join(diffs[:2])}")


def verify_meta(meta: Any, step_dir: pathlib.Path, step: int) -> dict | None:
    """Checks meta's own checksum; returns its "integrity" record (None: saved without one)."""
    if not isinstance(meta, dict) or "step" not in meta or "data" not in meta:
        raise DamagedCheckpointError(f"checkpoint {step_dir} (step {step}) is damaged: "
                                     f"{step_dir / 'meta'} is not a gato meta record",
                                     str(step_dir), step)
    record = meta.get("integrity")
    if record is None:
        logging.warning("checkpoint %s (step %d) has no checksums (saved before they were "
                        "recorded): restored unverified", step_dir, step)
        return None
    if (meta["step"] != step or integrity.json_digest({"step": meta["step"], "data": meta["data"]})
            != record.get("meta")):
        raise DamagedCheckpointError(f"checkpoint {step_dir} (step {step}) is damaged: "
                                     f"{step_dir / 'meta'} fails its checksum",
                                     str(step_dir), step)
    return record


def verify_arrays(record: dict | None, item: str, tree: Any, step_dir: pathlib.Path,
                  step: int) -> None:
    """Compares the digests of a restored item with those saved in meta."""
    if record is None:
        return
    problem = integrity.differences(record.get(item, {}), integrity.tree_digests(tree))
    if problem:
        raise DamagedCheckpointError(f"checkpoint {step_dir} (step {step}) is damaged: {item} "
                                     f"fails its checksums: {problem}", str(step_dir), step)


def _restore_items(manager: ocp.CheckpointManager, step: int, step_dir: pathlib.Path,
                   **items: Any) -> dict:
    try:
        return manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # noqa: BLE001 -- a checkpoint that matches but cannot be read
        where = ", ".join(str(step_dir / item) for item in items)
        raise DamagedCheckpointError(f"checkpoint {step_dir} (step {step}) is damaged: cannot "
                                     f"read {where}: {_brief(e)}", str(step_dir), step) from e


def restore_full(manager: ocp.CheckpointManager, abstract_state: TrainState,
                 step: int | None = None):
    """(TrainState, data state) of `step` (default latest), verified against its checksums."""
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint in {manager.directory}")
    step_dir = pathlib.Path(manager.directory) / str(step)
    check_matches(step_dir, step, abstract_state.params)
    meta = _restore_items(manager, step, step_dir, meta=ocp.args.JsonRestore())["meta"]
    record = verify_meta(meta, step_dir, step)
    restored = _restore_items(manager, step, step_dir,
                              params=ocp.args.StandardRestore(abstract_state.params),
                              opt_state=ocp.args.StandardRestore(abstract_state.opt_state))
    verify_arrays(record, "params", restored["params"], step_dir, step)
    verify_arrays(record, "opt_state", restored["opt_state"], step_dir, step)
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
    """--init-from and evaluation: only the params of a checkpoint (dir or step dir), placed on
    the mesh and verified against their checksums."""
    directory, step = _locate(path)
    manager = _manager(directory, read_only=True)
    try:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {directory}")
        step_dir = directory / str(step)
        check_matches(step_dir, step, abstract_params)
        meta = _restore_items(manager, step, step_dir, meta=ocp.args.JsonRestore())["meta"]
        record = verify_meta(meta, step_dir, step)
        params = _restore_items(manager, step, step_dir,
                                params=ocp.args.StandardRestore(abstract_params))["params"]
        verify_arrays(record, "params", params, step_dir, step)
        return params
    finally:
        manager.close()


def write_config(directory: str | pathlib.Path, config: Any) -> pathlib.Path:
    """Writes the experiment config as JSON beside the checkpoints (process 0 only)."""
    path = RunDir.config_beside(directory)
    if jax.process_index() == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        as_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        partial = path.with_suffix(".json.tmp")
        partial.write_text(json.dumps(as_dict, indent=2, sort_keys=True, default=str))
        partial.replace(path)  # atomic: a reader sees the old config or the new one
    return path


def read_config(directory: str | pathlib.Path) -> dict | None:
    """The config.json recorded beside the checkpoints, or None when absent or unreadable."""
    try:
        return json.loads(RunDir.config_beside(directory).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def config_differences(recorded: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts, as "key: old -> new"."""
    out = []
    for key in sorted(set(recorded) | set(current)):
        a, b = recorded.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{key}.")
        elif a != b and not (isinstance(a, list | tuple) and isinstance(b, list | tuple)
                             and list(a) == list(b)):
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out
