"""Staged episode shards: fixed-size groups of episodes written as compressed .npz files.

Generation writes each shard to a temporary file and renames it atomically, so a shard file either
holds every one of its episodes or does not exist. A run is identified by (task, policy, seed,
episode cap); its shards live in `<staging_root>/<task>/<run key>/` and are named by the global
episode index range they hold, `<task>-<start>-<end>.npz` (end exclusive). An interrupted run
resumes by regenerating only the shards that are missing or fail to load (zip CRC checks).
"""

import dataclasses
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gato.data.formats.episodes import STEP_KEYS, Episode

TMP_MARK = ".tmp-"


@dataclasses.dataclass(frozen=True)
class Shard:
    """Episodes [start, end) of one task's run, stored at `path`."""

    task: str
    start: int
    end: int
    path: Path

    @property
    def num_episodes(self) -> int:
        return self.end - self.start


def run_key(policy: str, seed: int, max_episode_steps: int, action_noise: float = 0.0,
            noise_correlation: float = 0.0, store_executed: bool = False) -> str:
    """Directory name identifying what a run generates; a new key never reuses old shards."""
    noise = f"-noise{action_noise:g}" if action_noise else ""
    noise += f"-corr{noise_correlation:g}" if noise_correlation else ""
    noise += "-executed" if store_executed else ""
    return f"{policy}{noise}-seed{seed}-cap{max_episode_steps}"


def episode_seed(seed: int, task: str, index: int) -> int:
    """Seed of episode `index` of `task`: a pure function of (seed, task, index), < 2**31."""
    entropy = [int(seed) & 0xFFFFFFFF, zlib.crc32(task.encode()), int(index)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)


def plan_shards(directory: Path, task: str, num_episodes: int, shard_size: int,
                start: int = 0) -> list[Shard]:
    """The shards holding episodes [start, start + num_episodes) in groups of `shard_size`."""
    if num_episodes < 0 or shard_size < 1 or start < 0:
        raise ValueError(f"need num_episodes >= 0, shard_size >= 1 and start >= 0, got "
                         f"{num_episodes}, {shard_size}, {start}")
    end = start + num_episodes
    return [Shard(task, s, min(s + shard_size, end),
                  Path(directory) / f"{task}-{s:08d}-{min(s + shard_size, end):08d}.npz")
            for s in range(start, end, shard_size)]


def write_shard(shard: Shard, episodes: list[Episode], metadata: list[dict[str, Any]]) -> None:
    """Writes episodes (and per-episode scalar metadata) to shard.path atomically."""
    if len(episodes) != shard.num_episodes or len(metadata) != shard.num_episodes:
        raise ValueError(f"{shard.path.name} holds {shard.num_episodes} episodes, "
                         f"got {len(episodes)} episodes and {len(metadata)} metadata")
    arrays: dict[str, np.ndarray] = {"episode_index": np.arange(shard.start, shard.end)}
    for j, (episode, meta) in enumerate(zip(episodes, metadata, strict=True)):
        for key, value in episode["observation"].items():
            arrays[f"{j}/observation/{key}"] = value
        arrays.update({f"{j}/{key}": episode[key] for key in STEP_KEYS})
        arrays.update({f"{j}/meta/{key}": np.asarray(value) for key, value in meta.items()})
    shard.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = shard.path.with_name(f"{shard.path.name}{TMP_MARK}{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, shard.path)


def read_shard(shard: Shard) -> tuple[list[Episode], list[dict[str, Any]]]:
    """Loads every array of a shard (verifying zip CRCs); raises ValueError naming the file."""
    try:
        with np.load(shard.path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"corrupt staged shard {shard.path}: {e}") from e
    index = arrays.pop("episode_index", None)
    if index is None or not np.array_equal(index, np.arange(shard.start, shard.end)):
        raise ValueError(f"staged shard {shard.path} does not hold episodes "
                         f"[{shard.start}, {shard.end})")
    episodes: list[Episode] = [{"observation": {}} for _ in range(shard.num_episodes)]
    metadata: list[dict[str, Any]] = [{} for _ in range(shard.num_episodes)]
    for key, value in arrays.items():
        j, _, rest = key.partition("/")
        if rest.startswith("observation/"):
            episodes[int(j)]["observation"][rest[len("observation/"):]] = value
        elif rest.startswith("meta/"):
            metadata[int(j)][rest[len("meta/"):]] = value.item()
        else:
            episodes[int(j)][rest] = value
    missing = [k for k in STEP_KEYS if any(k not in e for e in episodes)]
    if missing:
        raise ValueError(f"corrupt staged shard {shard.path}: missing {missing}")
    return episodes, metadata


def check_shard(shard: Shard) -> str | None:
    """None if the shard exists and loads; otherwise why not ("missing" or the load error)."""
    if not shard.path.exists():
        return "missing"
    try:
        read_shard(shard)
    except ValueError as e:
        return str(e)
    return None


def remove_temporaries(directory: Path) -> list[Path]:
    """Deletes leftovers of interrupted writes in `directory`; returns what was deleted."""
    directory = Path(directory)
    leftovers = sorted(directory.glob(f"*{TMP_MARK}*")) if directory.exists() else []
    for path in leftovers:
        path.unlink()
    return leftovers
