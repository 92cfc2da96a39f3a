"""The run folder: every path of a training workdir in one place, and the lock that holds it.

    WORKDIR/
      .lock                        the training job that holds the folder (pid, host, start)
      checkpoints/<step>/          Orbax checkpoints (gato.train.checkpoint)
      checkpoints/config.json      the experiment config, beside the checkpoints it matches
      checkpoints_damaged/<step>/  damaged checkpoints moved out of the way
      metrics.jsonl, tensorboard/  the metrics writer (gato.train.metrics)
      profile/                     a jax.profiler trace (gato.train.profile)
      eval/step_<N>/results.json   evaluations of step N (gato.eval.evaluator)

`RunDir.hold()` is taken by `train_and_evaluate` for the whole run: a second training process
on the same folder is refused with one line naming the holder, and a lock left by a process that
no longer runs (same host; its pid dead, or reused by a process started later) is taken over
with a warning. Evaluation (`gato eval`) only reads checkpoints and writes under eval/, so it
takes no lock. This module imports nothing from the project but `gato.errors`, so every layer
may use it.
"""

import contextlib
import dataclasses
import errno
import json
import logging
import os
import pathlib
import re
import socket
import time
from collections.abc import Iterator

from gato.errors import RunDirInUseError

CHECKPOINTS = "checkpoints"
CONFIG_JSON = "config.json"
RESULTS_JSON = "results.json"  # an evaluation's results, in eval/step_N or a chosen folder
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_STEP_DIR = re.compile(r"step_(\d+)")
_held: set[pathlib.Path] = set()  # lock files this process holds (a lock of its own pid)


@dataclasses.dataclass(frozen=True)
class Holder:
    """The process recorded in a lock file."""

    pid: int
    host: str
    started: str  # local time, TIME_FORMAT

    def alive(self) -> bool | None:
        """Whether the process still runs: None when it is on another host (unknown). A pid
        that a process started after the lock now has (reused, e.g. after a reboot) is dead."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process
            pass
        started = process_start(self.pid)
        try:
            locked = time.mktime(time.strptime(self.started, TIME_FORMAT))
        except ValueError:
            return True
        return started is None or started < locked + 2  # the lock is written after the start


def process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), from Linux's /proc; None elsewhere."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in pathlib.Path("/proc/stat").read_text()
                    .splitlines() if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start, in ticks
    except (OSError, ValueError, IndexError, StopIteration):
        return None


@dataclasses.dataclass(frozen=True)
class RunDir:
    """The paths of one training workdir (`root`); nothing is created until written."""

    root: pathlib.Path  # a str is converted

    def __post_init__(self):
        object.__setattr__(self, "root", pathlib.Path(self.root))

    def __fspath__(self) -> str:  # a RunDir goes wherever a workdir path does
        return os.fspath(self.root)

    @classmethod
    def of(cls, path: str | pathlib.Path) -> "RunDir":
        """The run folder of `path`: a workdir, or its checkpoints folder."""
        path = pathlib.Path(path)
        return cls(path.parent if path.name == CHECKPOINTS else path)

    @staticmethod
    def config_beside(checkpoints: str | pathlib.Path) -> pathlib.Path:
        """The config.json of a checkpoints folder (a run's, or one named otherwise)."""
        return pathlib.Path(checkpoints) / CONFIG_JSON

    @staticmethod
    def damaged_beside(checkpoints: str | pathlib.Path) -> pathlib.Path:
        """Where damaged checkpoints of a checkpoints folder are moved: FOLDER_damaged."""
        checkpoints = pathlib.Path(checkpoints)
        return checkpoints.parent / f"{checkpoints.name}_damaged"

    @property
    def checkpoints(self) -> pathlib.Path:
        return self.root / CHECKPOINTS

    @property
    def damaged_checkpoints(self) -> pathlib.Path:
        return self.damaged_beside(self.checkpoints)

    @property
    def config_json(self) -> pathlib.Path:
        return self.config_beside(self.checkpoints)

    @property
    def metrics(self) -> pathlib.Path:
        return self.root / "metrics.jsonl"

    @property
    def tensorboard(self) -> pathlib.Path:
        return self.root / "tensorboard"

    @property
    def profile(self) -> pathlib.Path:
        return self.root / "profile"

    @property
    def eval_root(self) -> pathlib.Path:
        return self.root / "eval"

    @property
    def lock(self) -> pathlib.Path:
        return self.root / ".lock"

    def eval_dir(self, step: int) -> pathlib.Path:
        return self.eval_root / f"step_{int(step)}"

    def results(self, step: int) -> pathlib.Path:
        return self.eval_dir(step) / RESULTS_JSON

    def evaluated_steps(self) -> list[int]:
        """Steps with an eval/step_N/results.json, ascending."""
        if not self.eval_root.is_dir():
            return []
        steps = (_STEP_DIR.fullmatch(p.name) for p in self.eval_root.iterdir())
        return sorted(int(m.group(1)) for m in steps if m and self.results(int(m.group(1)))
                      .is_file())

    def holder(self) -> Holder | None:
        """The process recorded in the lock file; None when there is no lock."""
        for _ in range(20):  # a lock being written right now is complete within moments
            try:
                record = json.loads(self.lock.read_text())
                return Holder(int(record["pid"]), str(record["host"]), str(record["started"]))
            except FileNotFoundError:
                return None
            except (ValueError, KeyError, TypeError):
                time.sleep(0.05)
        raise RunDirInUseError(f"{self.root} is locked by {self.lock}, which is unreadable; if "
                               f"no job trains there, delete it")

    @contextlib.contextmanager
    def hold(self, enabled: bool = True) -> Iterator["RunDir"]:
        """Holds the folder for this process until the block ends (errors included).

        Raises RunDirInUseError naming the holder when a live process holds it. `enabled=False`
        (the other processes of a multi-host job: process 0 holds it for all) does nothing.
        """
        if not enabled:
            yield self
            return
        me = self._acquire()
        _held.add(self.lock.absolute())
        try:
            yield self
        finally:
            _held.discard(self.lock.absolute())
            with contextlib.suppress(RunDirInUseError):
                if self.holder() == me:  # never remove a lock another process took over
                    self.lock.unlink(missing_ok=True)

    def _acquire(self) -> Holder:
        self.root.mkdir(parents=True, exist_ok=True)
        me = Holder(os.getpid(), socket.gethostname(),
                    time.strftime(TIME_FORMAT))
        for _ in range(3):
            if self._create(me):
                return me
            other = self.holder()
            if other is None:  # released meanwhile
                continue
            own = other.pid == os.getpid() and other.host == me.host
            if other.alive() is False or (own and self.lock.absolute() not in _held):
                logging.warning("%s: taking over the lock of pid %d on host %s (since %s), which "
                                "no longer runs", self.root, other.pid, other.host, other.started)
                if self.holder() == other:
                    self.lock.unlink(missing_ok=True)
                continue
            raise RunDirInUseError(
                f"{self.root} is in use by pid {other.pid} on host {other.host} since "
                f"{other.started}; wait for it or use another --workdir"
                + ("" if other.alive() else f" (if it no longer runs, delete {self.lock})"))
        raise RunDirInUseError(f"{self.root}: could not take {self.lock} (other processes keep "
                               "taking it); use another --workdir")

    def _create(self, me: Holder) -> bool:
        """Writes the lock file if there is none (O_CREAT | O_EXCL: one creator wins)."""
        try:
            fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except OSError as e:
            if e.errno == errno.EEXIST:
                return False
            raise
        with os.fdopen(fd, "w") as f:
            json.dump(dataclasses.asdict(me), f)
            f.flush()
            os.fsync(f.fileno())
        return True
