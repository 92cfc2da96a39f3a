"""Running out of disk space under an Orbax checkpoint save: telling it from other errors,
waiting for the save's other writers, and removing what it left half-written.

Measured on a 14 MiB tmpfs (orbax-checkpoint 0.12.8, tensorstore 0.1.86): the asynchronous save
fails when waited for with `ValueError: RESOURCE_EXHAUSTED: Error writing "NAME" in OCDBT
database at local file ".../STEP.orbax-checkpoint-tmp/params.orbax-checkpoint-tmp/...": ...
No space left on device [os_error_code='28']`, while Orbax's threads go on writing the other
items of that step; the older checkpoints are untouched.
"""

import errno
import os
import pathlib
import re
import shutil
import threading
import time

import jax

PARTIAL = re.compile(r"(\d+)\.orbax-checkpoint-tmp.*")  # a step Orbax has not finished writing


def out_of_space(error: BaseException) -> bool:
    """Whether `error` (or an error it came from) is a write that found the disk full:
    ENOSPC/EDQUOT, or TensorStore's "RESOURCE_EXHAUSTED: Error writing ... No space left"."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(error)
        if ("No space left" in text or "Disk quota exceeded" in text
                or ("RESOURCE_EXHAUSTED" in text and "writing" in text)):
            return True
        error = error.__cause__ or error.__context__
    return False


def join_writers(timeout: float = 300.0) -> None:
    """Waits for Orbax's writer threads (after one item of a save failed, the others go on)."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if (thread is not threading.current_thread()
                and type(thread).__module__.startswith("orbax.")):
            thread.join(max(deadline - time.monotonic(), 0.0))


def remove_partial(directory: pathlib.Path) -> list[pathlib.Path]:
    """Removes the step directories Orbax did not finish (STEP.orbax-checkpoint-tmp*) in
    `directory` (process 0; complete checkpoints are never touched); returns them."""
    if jax.process_index() != 0 or not directory.is_dir():
        return []
    partial = sorted(p for p in directory.iterdir() if PARTIAL.fullmatch(p.name))
    for path in partial:
        shutil.rmtree(path, ignore_errors=True)
    return partial


def mount_point(path: str | pathlib.Path) -> pathlib.Path:
    """The mount point of the file system holding `path`."""
    path = pathlib.Path(os.path.realpath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def size_text(n: float) -> str:
    """Bytes as "12.3 GiB"."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
