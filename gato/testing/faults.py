"""Fault injection for the reliability tests and the drill `benchmarks/faults.py`.

Damage files the way disks, copies and kills do (a flipped byte, a truncated file), fill the
disk under a checkpoint save, find a process's children, and provide a data source whose
episodes are partly unreadable. Every function works on real files written by the real code
(Orbax checkpoints, TFDS array_record datasets); none of them is used by training or
evaluation.
"""

import contextlib
import json
import pathlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from gato.rundir import RunDir
from gato.train import evaluators


def params_data_files(step_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """The array data files of a checkpoint's params item, largest first."""
    root = pathlib.Path(step_dir) / "params"
    files = [p for p in root.rglob("*") if p.is_file() and p.parent.name == "d"]
    return sorted(files, key=lambda p: p.stat().st_size, reverse=True)


def flip_byte(path: str | pathlib.Path, offset: int | None = None, mask: int = 0x01) -> int:
    """XORs one byte of `path` with `mask` (default: the middle byte); returns its offset."""
    path = pathlib.Path(path)
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= mask
    path.write_bytes(bytes(data))
    return offset


def truncate(path: str | pathlib.Path, fraction: float = 0.5) -> int:
    """Cuts `path` to `fraction` of its size (a copy or write cut short); returns the new size."""
    path = pathlib.Path(path)
    size = int(path.stat().st_size * fraction)
    with open(path, "r+b") as f:
        f.truncate(size)
    return size


def readable_episodes(task: str, data_dir: str | pathlib.Path) -> list[bool]:
    """Per episode of `task`'s dataset in `data_dir`: whether it reads (any error: it does not)."""
    from gato.data.formats import load_episodes

    source, ok = load_episodes(task, data_dir), []
    for i in range(len(source)):
        try:
            source[i]
            ok.append(True)
        except Exception:  # noqa: BLE001 -- any error makes it unreadable
            ok.append(False)
    return ok


def corrupt_records(path: str | pathlib.Path, read_all: Callable[[], list[bool]],
                    span: int = 16) -> list[bool]:
    """Inverts `span` bytes of a record file at the first offset (scanning its non-zero extent)
    where some but not all records become unreadable; returns which records still read.

    `read_all()` re-reads every record of the file and returns per-record success. Raises
    RuntimeError if no such offset exists (a file of one record).
    """
    path = pathlib.Path(path)
    original = path.read_bytes()
    extent = len(original.rstrip(b"\0"))
    for offset in range(0, max(extent - span, 1), max(extent // 64, 1)):
        data = bytearray(original)
        for i in range(offset, offset + span):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))
        readable = read_all()
        if 0 < sum(readable) < len(readable):
            return readable
    path.write_bytes(original)
    raise RuntimeError(f"no offset of {path} breaks some but not all records")


def children(pid: int) -> list[int]:
    """Pids of the live descendants of `pid` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def alive(pids: Sequence[int]) -> list[int]:
    """The pids of `pids` still running (zombies count as ended)."""
    out = []
    for pid in pids:
        try:
            state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


def wait_until_gone(pids: Sequence[int], timeout: float = 10.0) -> list[int]:
    """Waits up to `timeout` seconds for `pids` to end; returns those still alive."""
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def bad_episode_iterator(data_config: Any, *, batch_size: int, seq_len: int, seed: int,
                         process_index: int = 0, process_count: int = 1) -> Any:
    """A data source (register with `gato.data.pipeline.sources.register`) over fake control
    episodes of which ids 1 and 3 are unreadable: the real pipeline, skipping them under
    data.on_bad_episode."""
    import ml_collections

    from gato.data.pipeline import loader
    from gato.data.pipeline.examples import TaskData
    from gato.testing import pipeline as fakes

    source = fakes.RecordingSource(fakes.control_episodes(6, seed=seed), broken=[1],
                                   corrupt=[3])
    task = TaskData("walk", "control", fakes.CONTROL_SPEC, source, where="memory")
    config = ml_collections.ConfigDict(data_config.to_dict())  # the run's data section, with
    config.mixture = ml_collections.ConfigDict({"control": 1.0})  # this one task
    config.worker_count = 0
    return loader.build_iterator([task], config, batch_size=batch_size, seq_len=seq_len,
                                   seed=seed, process_index=process_index,
                                   process_count=process_count)


@evaluators.register("damage_checkpoint")
class DamageCheckpoint:
    """Test drill: at step `options["step"]`, once that checkpoint is on disk, flips a byte of
    its params (a disk error after the save), so a later report must not call it good."""

    def __init__(self, config: Any, options: Mapping[str, Any], workdir: pathlib.Path):
        del config
        self.step = int(options["step"])
        self.directory = RunDir(workdir).checkpoints

    def run(self, params: Any, step: int) -> dict[str, float]:
        del params
        if step != self.step:
            return {}
        step_dir = self.directory / str(step)
        deadline = time.monotonic() + 60
        while not (step_dir / "commit_success.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # the save is asynchronous
        flip_byte(params_data_files(step_dir)[0], mask=0x40)
        return {}


def tree_equal(a: Any, b: Any) -> bool:
    """Whether two pytrees of arrays hold identical values."""
    import jax

    left, right = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(left) == len(right) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(left, right, strict=True))


@contextlib.contextmanager
def disk_full(when: Callable[[str], bool]) -> Iterator[list[str]]:
    """Orbax's array writes whose TensorStore spec (as JSON) `when` accepts fail as on a full
    disk; yields the specs that failed.

    The array is written first (the partial STEP.orbax-checkpoint-tmp a full disk leaves), then
    TensorStore's error is raised in Orbax's writer thread, in the words a 14 MiB tmpfs gave:
    `ValueError: RESOURCE_EXHAUSTED: Error writing "NAME" in OCDBT database at local file
    "...": ... No space left on device [os_error_code='28']`.
    """
    from orbax.checkpoint._src.serialization import serialization

    write, failed = serialization.async_serialize_from_host, []

    async def write_until_full(rslices: Any, spec: dict, **kwargs: Any) -> None:
        await write(rslices, spec, **kwargs)
        text = json.dumps(spec, default=str)
        if when(text):
            failed.append(text)
            kvstore = spec.get("kvstore", {})
            base = kvstore.get("base", kvstore)
            where = base.get("path", "") if isinstance(base, dict) else str(base)
            raise ValueError(
                f'RESOURCE_EXHAUSTED: Error writing "{kvstore.get("path", "")}" in OCDBT '
                f'database at local file "{where}": Failed writing: "{where}/d/0": Failed to '
                f"write 65536 bytes to file 4: No space left on device [os_error_code='28']")

    serialization.async_serialize_from_host = write_until_full
    try:
        yield failed
    finally:
        serialization.async_serialize_from_host = write
