"""The JAT dataset (jat-project/jat-dataset, huggingface/jat) from a local copy, as Episodes.

A local copy is the hub's parquet files, one folder per JAT config ("atari-pong", ...):
`<root>/<config>/<split>-NNNNN-of-NNNNN.parquet`, splits "train" and "test" (JAT's ~90/10). The
root is `<data_dir>/<config>` when that exists, else `<data_dir>/jat-dataset/<config>` (e.g.
`huggingface-cli download jat-project/jat-dataset --repo-type dataset --include 'atari-pong/*'
--local-dir <data_dir>/jat-dataset`). Nothing is ever downloaded here; pyarrow (extra `jat`)
reads the files, PIL decodes Atari's PNG frames.

One row is one episode, with one list entry per timestep (the final observation is not
stored). Columns read per domain (schema as JAT's data scripts write it):
  atari      image_observations list<struct<bytes, path>> (PNG, 84x84x4: four stacked
             grayscale frames, newest last), discrete_actions list<int64>, rewards list<float32>
  babyai     text_observations list<string> (the mission), discrete_observations
             list<list<int64>> (148: direction, then the 7x7x3 grid), discrete_actions, rewards
  metaworld, mujoco: continuous_observations list<list<float32>>, continuous_actions
             list<list<float32>>, rewards
They become the observation keys of `gato.envs.datasets` (Atari: the newest frame centre-cropped
to 80x80x1; BabyAI: direction uint8 [1], image uint8 [7, 7, 3], mission). Since no final
observation is stored, all T steps carry an action: an episode has T steps, is_first at step 0
and is_last False throughout (the pipeline then trains on all T;
`gato.data.pipeline.windows.validate_episode`), discount 1, is_terminal False (JAT does not say
whether an episode ended by termination or time limit). JAT's text and caption configs
(oscar, wikipedia, conceptual-captions, ok-vqa) are not read here.
"""

import io
from pathlib import Path
from typing import Any

import numpy as np

from gato.data.formats.episodes import Episode
from gato.data.formats.optional import require
from gato.envs import datasets as jat_tasks

SPLITS = ("train", "test")
FOLDER = "jat-dataset"
COLUMNS = {
    "atari": ("image_observations", "discrete_actions", "rewards"),
    "babyai": ("text_observations", "discrete_observations", "discrete_actions", "rewards"),
    "metaworld": ("continuous_observations", "continuous_actions", "rewards"),
    "mujoco": ("continuous_observations", "continuous_actions", "rewards"),
}
FRAME_SHAPE = (84, 84, 4)
CROP = 2  # 84 -> 80 rows and columns: the centre, sides a multiple of the 16-pixel patch


def _parquet() -> Any:
    return require("pyarrow.parquet", "reading the JAT dataset (parquet)")


def _open(path: Path) -> Any:
    """pyarrow's ParquetFile of `path`; ValueError naming the file when it is not parquet."""
    parquet = _parquet()
    try:
        return parquet.ParquetFile(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"JAT file {path} is not a readable parquet file: {err}") from err


def task_folder(task_name: str, data_dir: str | Path) -> Path:
    """The folder of a JAT task's parquet files under data_dir (see the module docstring)."""
    config = jat_tasks.config_name(task_name)
    root = Path(data_dir).expanduser()
    direct = root / config
    return direct if direct.is_dir() else root / FOLDER / config


def split_files(task_name: str, data_dir: str | Path, split: str) -> list[Path]:
    """The parquet files of one split; FileNotFoundError naming the pattern looked for."""
    if split not in SPLITS:
        raise ValueError(f"JAT split {split!r}; expected one of {SPLITS}")
    folder = task_folder(task_name, data_dir)
    files = sorted(folder.glob(f"{split}-*.parquet"))
    if not files:
        raise FileNotFoundError(f"no JAT files {folder}/{split}-*.parquet for {task_name} (a "
                                f"local copy of jat-project/jat-dataset; nothing is downloaded)")
    return files


def find_tasks(data_dir: str | Path) -> list[tuple[str, str]]:
    """(task name, split) of every JAT task with parquet files under data_dir (either layout)."""
    root, found = Path(data_dir).expanduser(), set()
    for base in (root, root / FOLDER):
        for path in base.glob("*/*.parquet"):
            config, split = path.parent.name, path.name.split("-", 1)[0]
            if config in jat_tasks.jat_scores() and split in SPLITS:
                found.add((jat_tasks.PREFIX + config, split))
    return sorted(found)


class JatEpisodeSource:
    """Random access to one split of a JAT task, as Episodes (len, [i], metadata, locate).

    Reading episode i reads its parquet row group (the last one read is kept): rows of a row
    group cost one read together. Picklable (grain workers reopen the files).
    """

    def __init__(self, task_name: str, data_dir: str | Path, split: str = "train"):
        self.task, self.split = task_name, split
        self.domain = jat_tasks.domain(task_name)
        self.sizes = jat_tasks.observation_sizes(task_name)
        spec = jat_tasks.spec(task_name)
        self.action_size, self.num_actions = spec.action_size, spec.num_actions
        self.files = split_files(task_name, data_dir, split)
        self.columns = COLUMNS[self.domain]
        self._index: list[tuple[int, int, int]] = []  # episode -> (file, row group, row in it)
        for f, path in enumerate(self.files):
            parquet = _open(path)
            meta, names = parquet.metadata, parquet.schema_arrow.names
            missing = [c for c in self.columns if c not in names]
            if missing:
                raise ValueError(f"JAT file {path} lacks columns {missing} of a {self.domain} "
                                 f"task (has {names})")
            for g in range(meta.num_row_groups):
                self._index += [(f, g, r) for r in range(meta.row_group(g).num_rows)]
        self._cache: tuple[tuple[int, int], Any] | None = None

    def __len__(self) -> int:
        return len(self._index)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": None}

    def locate(self, i: int) -> str:
        f, g, r = self._index[i]
        return f"file {self.files[f]}, row group {g}, row {r}"

    def metadata(self, i: int) -> dict[str, Any]:
        """{"policy": "jat"} (JAT's expert agents recorded every episode) and the row's place."""
        f, g, r = self._index[i]
        return {"policy": "jat", "file": self.files[f].name, "row_group": g, "row": r}

    def __getitem__(self, i: int) -> Episode:
        f, g, r = self._index[i]
        if self._cache is None or self._cache[0] != (f, g):
            table = _open(self.files[f]).read_row_group(g, columns=self.columns)
            self._cache = ((f, g), table)
        row = self._cache[1].slice(r, 1)
        steps = {c: _steps(row.column(c).combine_chunks(), c) for c in self.columns}
        rewards = np.asarray(steps["rewards"].to_numpy(zero_copy_only=False), np.float32)
        if rewards.size == 0:
            raise ValueError("empty episode (no rewards)")
        for column, values in steps.items():
            if len(values) != rewards.size:
                raise ValueError(f"column {column!r} has {len(values)} timesteps, rewards has "
                                 f"{rewards.size}")
        observation, action = self._convert(steps)
        return _episode(observation, action, rewards)

    def _discrete_actions(self, values: Any) -> np.ndarray:
        actions = _vectors(values, "discrete_actions", np.int64, ())
        if actions.min() < 0 or actions.max() >= self.num_actions:
            raise ValueError(f"column 'discrete_actions' holds values outside "
                             f"[0, {self.num_actions})")
        return actions

    def _convert(self, steps: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        if self.domain == "atari":
            return ({"pixels": _frames(steps["image_observations"])},
                    self._discrete_actions(steps["discrete_actions"]))
        if self.domain == "babyai":
            mission = np.asarray(steps["text_observations"].to_pylist(), dtype=object)
            if not all(isinstance(m, str) for m in mission):
                raise ValueError("column 'text_observations' holds a mission that is not text")
            symbolic = _vectors(steps["discrete_observations"], "discrete_observations",
                                np.int64, (1 + int(np.prod(self.sizes["image"])),))
            if symbolic.min() < 0 or symbolic.max() > 255:
                raise ValueError("column 'discrete_observations' holds values outside [0, 255]")
            symbolic = symbolic.astype(np.uint8)
            return ({"direction": symbolic[:, :1], "mission": mission,
                     "image": symbolic[:, 1:].reshape(-1, *self.sizes["image"])},
                    self._discrete_actions(steps["discrete_actions"]))
        state = _vectors(steps["continuous_observations"], "continuous_observations",
                         np.float32, self.sizes["state"])
        return {"state": state}, _vectors(steps["continuous_actions"], "continuous_actions",
                                          np.float32, (self.action_size,))

    def episode_records(self) -> list[dict[str, Any]]:
        """`manifest.episode_record`s of every episode from the rewards column alone (fast)."""
        records = []
        for path in self.files:
            table = _parquet().read_table(path, columns=["rewards"])
            for rewards in table.column("rewards").to_pylist():
                steps = len(rewards or [])
                records.append({"policy": "jat", "return": float(np.sum(rewards or [],
                                                                         dtype=np.float64)),
                                "steps": steps, "timesteps": steps})
        return records

    def __repr__(self) -> str:
        return f"JatEpisodeSource({self.task!r}, split={self.split!r})"


def _is_list(values: Any) -> bool:
    types = require("pyarrow", "reading the JAT dataset (parquet)").types
    return types.is_list(values.type) or types.is_large_list(values.type)


def _steps(column: Any, name: str) -> Any:
    """The per-timestep values (an arrow array) of a one-row list column."""
    if not _is_list(column):
        raise ValueError(f"column {name!r} has type {column.type}, expected a list per episode")
    if column.null_count:
        raise ValueError(f"column {name!r} is null")
    return column.flatten()


def _vectors(values: Any, name: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """[T] scalars (shape ()) or [T, n] vectors (shape (n,)) of a list or list-of-list column."""
    if shape:
        if not _is_list(values) or values.null_count:
            raise ValueError(f"column {name!r}: expected a list of {shape[0]} values per timestep")
        lengths = np.asarray(values.value_lengths().to_numpy(zero_copy_only=False))
        if np.any(lengths != shape[0]):
            bad = int(np.flatnonzero(lengths != shape[0])[0])
            raise ValueError(f"column {name!r} timestep {bad} has {lengths[bad]} values, "
                             f"expected {shape[0]}")
        values = values.flatten()
    if values.null_count:
        raise ValueError(f"column {name!r} holds nulls")
    flat = np.asarray(values.to_numpy(zero_copy_only=False))
    if flat.dtype.kind not in ("i", "u", "f") or (np.dtype(dtype).kind == "i" and
                                                  flat.dtype.kind == "f"):
        raise ValueError(f"column {name!r} has dtype {flat.dtype}, expected {np.dtype(dtype)}")
    return flat.astype(dtype).reshape(-1, *shape)


def _frames(images: Any) -> np.ndarray:
    """PNG frames [T] (84x84x4 stacked grayscale) -> the newest frame cropped, uint8 [T,80,80,1]."""
    from PIL import Image

    types = require("pyarrow", "reading the JAT dataset (parquet)").types
    if not types.is_struct(images.type) or images.type.get_field_index("bytes") < 0:
        raise ValueError(f"column 'image_observations' has type {images.type}, expected "
                         "struct<bytes, path> per timestep")
    data = images.field("bytes").to_pylist()
    out = np.empty((len(data), 84 - 2 * CROP, 84 - 2 * CROP, 1), np.uint8)
    for t, png in enumerate(data):
        if png is None:
            raise ValueError(f"image_observations timestep {t} has no bytes")
        frame = np.asarray(Image.open(io.BytesIO(png)))
        if frame.shape != FRAME_SHAPE or frame.dtype != np.uint8:
            raise ValueError(f"image_observations timestep {t} has shape {frame.shape} "
                             f"{frame.dtype}, expected {FRAME_SHAPE} uint8")
        out[t, :, :, 0] = frame[CROP:-CROP, CROP:-CROP, -1]
    return out


def _episode(observation: dict[str, np.ndarray], action: np.ndarray,
             rewards: np.ndarray) -> Episode:
    steps = rewards.size
    return {"observation": observation, "action": action, "reward": rewards,
            "discount": np.ones(steps, np.float32), "is_first": np.arange(steps) == 0,
            "is_last": np.zeros(steps, bool), "is_terminal": np.zeros(steps, bool)}


def load_jat_episodes(task_name: str, data_dir: str | Path,
                      split: str = "train") -> JatEpisodeSource:
    """Episodes of JAT task `task_name` ("jat/atari-pong") of a local copy under data_dir."""
    return JatEpisodeSource(task_name, data_dir, split)
