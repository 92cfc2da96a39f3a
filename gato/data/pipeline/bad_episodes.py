"""The bad-episode policy (`data.on_bad_episode`) of training, `gato offline` and `gato eval`.

An episode is bad when reading it raises (a corrupt or truncated record file) or it does not match
its task's TimestepSpec. With "skip" the reader moves on to the next episode id (cyclically, so
the choice stays a pure function of the requested id), logs and counts the skip; with "fail" it
raises BadEpisodeError. Messages name the task, where its data lives (data_dir and split), the
record file and record number when the source knows them (`EpisodeSource.locate`), and the
episode id.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gato.data.pipeline.windows import BadEpisodeError, validate_episode
from gato.tokenizers.spec import TimestepSpec

ON_BAD_EPISODE = ("skip", "fail")


def locate(source: Any, index: int) -> str:
    """Where episode `index` of `source` is stored ("file F, record r"), or "" if unknown."""
    where = getattr(source, "locate", None)
    if not callable(where):
        return ""
    try:
        return str(where(index))
    except Exception:  # noqa: BLE001 -- a location is a courtesy; never hide the real error
        return ""


def describe(task: str, where: str, source: Any, index: int) -> str:
    """"task 'T' (data_dir D, split 'S', file F, record r) episode I"."""
    location = locate(source, index)
    return f"task {task!r} ({where}{', ' + location if location else ''}) episode {index}"


def check_policy(policy: str) -> str:
    if policy not in ON_BAD_EPISODE:
        raise ValueError(f"on_bad_episode={policy!r}; expected one of {ON_BAD_EPISODE}")
    return policy


class EpisodeReader:
    """Reads one task's episodes under the bad-episode policy.

    `read(i)` returns (id, episode, usable length) of episode i or, when it is bad and the policy
    is "skip", of the next good id of `ids` after it (cyclically). `skipped` lists the messages.
    `check(episode)` may add a test of its own (e.g. that a timestep fits a window); it raises.
    """

    def __init__(self, task: str, spec: TimestepSpec, source: Any, *, where: str,
                 policy: str = "skip", check: Callable[[Any], None] | None = None):
        self.task, self.spec, self.source, self.where = task, spec, source, where
        self.policy = check_policy(policy)
        self.check = check
        self.skipped: list[str] = []

    def read(self, index: int, ids: Sequence[int] | None = None) -> tuple[int, Any, int]:
        ids = np.arange(len(self.source)) if ids is None else np.asarray(ids)
        pos = int(np.searchsorted(ids, index))
        for offset in range(ids.size):
            candidate = int(ids[(pos + offset) % ids.size])
            try:
                episode = self.source[candidate]
                length = validate_episode(self.spec, episode)
                if self.check is not None:
                    self.check(episode)
                return candidate, episode, length
            except Exception as err:  # noqa: BLE001 -- any read/format error makes it bad
                message = (f"bad episode: {describe(self.task, self.where, self.source, candidate)}"
                           f": {type(err).__name__}: {' '.join(str(err).split())[:300]}")
                if self.policy == "fail":
                    raise BadEpisodeError(message) from err
                logging.warning("%s (skipped)", message)
                self.skipped.append(message)
        raise BadEpisodeError(f"all {ids.size} episodes of task {self.task!r} ({self.where}) are "
                              f"bad; first: {self.skipped[-ids.size] if self.skipped else '?'}")
