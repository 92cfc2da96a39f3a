"""Worker processes that end with their parent, however the parent ends.

A parent killed with SIGKILL runs no clean-up, and Python's worker processes (grain's `mp_prefetch`
workers, `multiprocessing.Pool` workers of `gato generate`) do not notice: they stay alive as
orphans, holding memory and the multiprocessing resource tracker (which exits only when every
process holding its pipe is gone). `exit_with_parent` is their initializer: a daemon thread polls
the parent pid and ends the worker at once when the worker has been re-parented.
"""

import os
import threading
import time
from typing import Any

POLL_SECONDS = 0.5  # how often a worker checks that its parent is alive


def exit_with_parent(*_: Any) -> None:
    """Ends this process (os._exit(1)) within POLL_SECONDS of its parent's death.

    Takes and ignores any arguments, so it serves as grain's `worker_init_fn(index, count)` and as
    a `multiprocessing.Pool` initializer.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="gato-exit-with-parent", daemon=True).start()
