"""The RLDS format as numpy: prepared TFDS dataset directories and their episodes.

`EpisodeSource` reads one split of a prepared array_record RLDS dataset (the project's own,
`<data_dir>/gato_<suite>/<task>/<version>/`, written by `gato generate`). Sources are random
access (len, [i] -> Episode, see `gato.data.formats.episodes`) and picklable, so they serve as
grain `RandomAccessDataSource`s; they open their files lazily in each process. Which dataset a
task name reads is decided by `gato.data.formats.load`.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gato.data.formats import episodes as episodes_lib
from gato.data.formats.episodes import Episode
from gato.tokenizers.timestep import flatten as flatten_observation  # the tokenizers' rule


def data_root(data_dir: str | Path | None) -> Path:
    """data_dir, or TFDS's default ($TFDS_DATA_DIR or ~/tensorflow_datasets) when None."""
    if data_dir is None:
        import tensorflow_datasets as tfds

        data_dir = tfds.core.constants.DATA_DIR
    return Path(data_dir).expanduser()


def list_datasets(data_dir: str | Path | None) -> list[str]:
    """Every prepared TFDS dataset under data_dir, as "name[/config]/version"."""
    root = data_root(data_dir)
    found = [p.parent.relative_to(root).as_posix()
             for p in root.glob("*/*/dataset_info.json")]
    found += [p.parent.relative_to(root).as_posix()
              for p in root.glob("*/*/*/dataset_info.json")]
    return sorted(found)


def _version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in path.name.split("."))
    except ValueError:
        return (-1,)


def find_builder_dir(data_dir: str | Path | None, names: list[str]) -> Path:
    """The newest prepared version dir of the first of `names` ("dataset[/config]") that exists.

    Raises FileNotFoundError listing what data_dir holds.
    """
    root = data_root(data_dir)
    for name in names:
        versions = [p.parent for p in (root / name).glob("*/dataset_info.json")]
        if versions:
            return max(versions, key=_version_key)
    held = list_datasets(root) if root.exists() else []
    raise FileNotFoundError(
        f"no prepared dataset {' or '.join(names)} in {root}; it holds: "
        f"{', '.join(held) or 'nothing'}. Generate it with `gato generate --data-dir {root}`.")


def file_format(builder_dir: str | Path) -> str:
    """The file format a prepared TFDS dataset was written in ("array_record", "tfrecord")."""
    info = json.loads((Path(builder_dir) / "dataset_info.json").read_text())
    return info.get("fileFormat", "tfrecord")


def _stack_decoded(feature: Any, raw: Any, length: int) -> Any:
    """Decodes a stacked raw leaf [T, ...]: numeric tensors at once, encoded ones step by step."""
    import tensorflow_datasets as tfds

    if isinstance(feature, tfds.features.FeaturesDict):
        return {k: _stack_decoded(f, raw[k], length) for k, f in feature.items()}
    if (isinstance(feature, tfds.features.Tensor) and isinstance(raw, np.ndarray)
            and raw.dtype.kind in "biuf" and None not in feature.shape):
        return raw.astype(feature.np_dtype, copy=False).reshape((length, *feature.shape))
    return np.stack([np.asarray(feature.decode_example_np(x)) for x in raw])


def _stacked_steps(steps: Any, steps_feature: Any) -> dict[str, Any]:
    """Step fields stacked over time, decoding whole arrays where TFDS allows it."""
    getitem = getattr(steps, "getitem", None)
    if steps_feature is not None and hasattr(getitem, "flat_example") and hasattr(getitem, "nest"):
        raw = getitem.nest(list(getitem.flat_example))  # TFDS's undecoded per-field arrays
        return _stack_decoded(steps_feature, raw, len(steps))
    rows = [dict(step) for step in steps]
    stacked = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in rows[0]
               if k != "observation"}
    first = rows[0]["observation"]
    if isinstance(first, dict):
        flat = [flatten_observation(r["observation"]) for r in rows]
        stacked["observation"] = {k: np.stack([o[k] for o in flat]) for k in flat[0]}
    else:
        stacked["observation"] = np.stack([r["observation"] for r in rows])
    return stacked


def steps_to_episode(steps: Any, steps_feature: Any = None) -> Episode:
    """Decoded RLDS steps (a TFDS PythonDataSource of step dicts) -> a stacked Episode.

    With the steps' features (`info.features["steps"].feature`) whole fields are decoded at once
    (about 10x faster); a bare image observation (rlu_atari) becomes observation "pixels".
    """
    if len(steps) == 0:
        raise ValueError("episode has no steps")
    stacked = _stacked_steps(steps, steps_feature)
    observation = stacked["observation"]
    observation = (flatten_observation(observation)
                   if isinstance(observation, dict) else {"pixels": observation})
    episode = {"observation": {k: observation[k] for k in sorted(observation)}}
    for key in episodes_lib.STEP_KEYS:
        episode[key] = np.asarray(stacked[key])
    for key in ("is_first", "is_last", "is_terminal"):
        episode[key] = episode[key].astype(bool)
    return episode


class EpisodeSource:
    """Random access to the episodes of one split of a prepared array_record RLDS dataset."""

    def __init__(self, builder_dir: str | Path, split: str = "train"):
        self.builder_dir = Path(builder_dir)
        self.split = split
        self._source: Any = None
        self._features: Any = None
        self._files: list[tuple[str, int]] = []  # (record file, episodes in it), in order

    def examples(self) -> Any:
        """The underlying TFDS data source of raw example dicts (opened on first use)."""
        if self._source is None:
            import tensorflow_datasets as tfds

            builder = tfds.builder_from_directory(self.builder_dir)
            if self.split not in builder.info.splits:
                raise KeyError(f"split {self.split!r} not in {self.builder_dir}; "
                               f"splits: {sorted(builder.info.splits.keys())}")
            self._source = builder.as_data_source(self.split)
            self._features = builder.info.features
            info = builder.info.splits[self.split]
            self._files = [(str(path), int(n)) for path, n in
                           zip(info.filepaths, info.shard_lengths, strict=True)]
        return self._source

    def locate(self, i: int) -> str:
        """The record file holding episode i and its record number there (for error messages)."""
        self.examples()
        first = 0
        for path, count in self._files:
            if i < first + count:
                return f"file {path}, record {i - first}"
            first += count
        return f"episode {i} beyond the {first} in {self.builder_dir}"

    @property
    def features(self) -> Any:
        """The dataset's top-level TFDS features (FeaturesDict)."""
        self.examples()
        return self._features

    def __len__(self) -> int:
        return len(self.examples())

    def __getitem__(self, i: int) -> Episode:
        steps = self.examples()[i]["steps"]
        return steps_to_episode(steps, self.features["steps"].feature)

    def __iter__(self) -> Iterator[Episode]:
        return (self[i] for i in range(len(self)))

    def metadata(self, i: int) -> dict[str, Any]:
        """The episode-level fields of episode i (episode_id, seed, task, policy)."""
        example = self.examples()[i]
        return {k: v.decode() if isinstance(v, bytes) else v
                for k, v in example.items() if k != "steps"}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_source": None, "_features": None, "_files": []}

    def __repr__(self) -> str:
        return f"EpisodeSource({str(self.builder_dir)!r}, split={self.split!r})"
