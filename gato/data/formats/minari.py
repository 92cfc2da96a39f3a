"""Minari datasets (Farama's successor to D4RL) from the local store, as Episodes and specs.

A task "minari/<dataset id>" ("minari/mujoco/halfcheetah/expert-v0", "minari/D4RL/door/human-v2")
reads the local dataset of that id with `minari.load_dataset(id, download=False)`: from
$MINARI_DATASETS_PATH, else ~/.minari/datasets (Minari's own rule); nothing is downloaded.
minari and h5py come with the extra `minari`. Ids are open-ended, so such tasks are registered
on first use (`register_task`, `register_named`: suite "minari", make_env None) with a spec
made from the dataset's gymnasium spaces by `gato.data.formats.gym_spaces` (Box, Discrete,
MultiDiscrete, MultiBinary, Text, Dict -> kinds image / continuous / discrete / text; discrete
values are stored minus the space's start).

A Minari episode has N actions and N + 1 observations (the first and the final one). It becomes
the RLDS layout of `gato.data.formats.episodes`: T = N + 1 steps, step N holds the final
observation with a zero action and reward 0 and is_last; discount 0 from the last action on when
the episode terminated (not when truncated), is_terminal on the final step likewise: N timesteps.
Minari has no splits: "train" is every episode (slices like "train[:-3]" work through
`load_episodes`).
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from gato.data.formats import gym_spaces
from gato.data.formats.episodes import Episode
from gato.data.formats.optional import require

PREFIX = "minari/"
SUITE = "minari"


def _minari() -> Any:
    require("h5py", "reading Minari datasets (HDF5)")
    return require("minari", "reading Minari datasets")


def dataset_id(task_name: str) -> str:
    """"minari/D4RL/door/human-v2" -> "D4RL/door/human-v2"."""
    if not task_name.startswith(PREFIX) or len(task_name) == len(PREFIX):
        raise KeyError(f"{task_name!r} is not a Minari task; expected 'minari/<dataset id>'")
    return task_name[len(PREFIX):]


def open_dataset(dataset_id: str, root: str | Path | None = None) -> Any:
    """The local minari.MinariDataset `dataset_id` (never downloaded), from Minari's store or,
    given `root`, from `<root>/<dataset_id>/data`."""
    if root is None:
        minari = _minari()
        try:
            return minari.load_dataset(dataset_id, download=False)
        except FileNotFoundError as err:
            where = minari.storage.get_dataset_path(dataset_id)
            raise FileNotFoundError(f"no local Minari dataset {dataset_id!r} at {where} "
                                    "(set $MINARI_DATASETS_PATH; nothing is downloaded)") from err
    path = Path(root).expanduser() / dataset_id / "data"
    if not path.is_dir():
        raise FileNotFoundError(f"no Minari dataset {dataset_id!r} at {path}")
    return _minari().MinariDataset(path)


def find_datasets(root: str | Path) -> list[str]:
    """Ids of the Minari datasets stored under `root` (folders `<id>/data/metadata.json`)."""
    root = Path(root).expanduser()
    return sorted(p.parent.parent.relative_to(root).as_posix()
                  for p in root.rglob("data/metadata.json") if p.parent.parent != root)


class MinariEpisodeSource:
    """Random access to a local Minari dataset, as Episodes (len, [i], metadata, locate).

    Picklable: grain workers reopen the dataset from its data folder."""

    def __init__(self, dataset_id: str, split: str = "train", root: str | Path | None = None):
        if split != "train":
            raise ValueError(f"Minari datasets have one split, 'train' (got {split!r})")
        dataset = open_dataset(dataset_id, root)
        self.dataset_id, self.split = dataset_id, split
        self.data_path = Path(dataset.storage.data_path)
        self.leaves = gym_spaces.observation_leaves(dataset.observation_space)
        self.action_fields, self.action_offset = gym_spaces.action_fields(dataset.action_space)
        self.spec = gym_spaces.timestep_spec(dataset.observation_space, dataset.action_space)
        self.policy = str(dataset.storage.metadata.get("algorithm_name") or "minari")
        self._indices = np.asarray(dataset.episode_indices)
        self._dataset: Any = dataset

    def __len__(self) -> int:
        return int(self._indices.size)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None}

    def _data(self) -> Any:
        if self._dataset is None:
            self._dataset = _minari().MinariDataset(self.data_path)
        return self._dataset

    def locate(self, i: int) -> str:
        return f"{self.data_path}, episode_{int(self._indices[i])}"

    def metadata(self, i: int) -> dict[str, Any]:
        """{"policy": the dataset's algorithm_name (else "minari"), "episode_id"}."""
        return {"policy": self.policy, "episode_id": int(self._indices[i])}

    def __getitem__(self, i: int) -> Episode:
        episode = self._data()[int(i)]
        return self.convert(episode.observations, episode.actions, episode.rewards,
                            episode.terminations, episode.truncations)

    def convert(self, observations: Any, actions: Any, rewards: Any, terminations: Any,
                truncations: Any) -> Episode:
        """One Minari episode's arrays (N + 1 observations, N of the rest) -> an Episode."""
        rewards = np.asarray(rewards, np.float32).reshape(-1)
        steps = rewards.size
        if steps == 0:
            raise ValueError("empty episode (no steps)")
        for name, value in (("actions", actions), ("terminations", terminations),
                            ("truncations", truncations)):
            if len(value) != steps:
                raise ValueError(f"{name} has {len(value)} steps, rewards has {steps}")
        flat = gym_spaces.flatten(observations)
        if sorted(flat) != sorted(self.leaves):
            raise ValueError(f"observation keys {sorted(flat)}, the spaces have "
                             f"{sorted(self.leaves)}")
        observation = {k: _observation(k, v, *self.leaves[k], steps + 1) for k, v in flat.items()}
        terminal = bool(np.asarray(terminations)[-1])
        discount = np.ones(steps + 1, np.float32)
        discount[steps - 1:] = 0.0 if terminal else 1.0
        last = np.arange(steps + 1) == steps
        return {"observation": observation, "action": self._actions(actions, steps),
                "reward": np.append(rewards, np.float32(0.0)), "discount": discount,
                "is_first": np.arange(steps + 1) == 0, "is_last": last,
                "is_terminal": last & terminal}

    def _actions(self, actions: Any, steps: int) -> np.ndarray:
        shape = tuple(self.action_fields["action_shape"])
        actions = np.asarray(actions)
        if actions.shape != (steps, *shape):
            raise ValueError(f"actions have shape {actions.shape}, expected {(steps, *shape)}")
        if self.action_fields["action_kind"] == "discrete":
            actions = actions.astype(np.int64) - self.action_offset
        else:
            actions = actions.astype(np.float32)
        return np.concatenate([actions, np.zeros((1, *shape), actions.dtype)])

    def reference(self) -> dict[str, float] | None:
        """{random_mean, expert_mean} from the dataset's ref_min_score / ref_max_score, if set."""
        metadata = self._data().storage.metadata
        if metadata.get("ref_min_score") is None or metadata.get("ref_max_score") is None:
            return None
        return {"random_mean": float(metadata["ref_min_score"]),
                "expert_mean": float(metadata["ref_max_score"])}

    def __repr__(self) -> str:
        return f"MinariEpisodeSource({self.dataset_id!r})"


def _observation(key: str, value: Any, kind: str, offset: Any, steps: int) -> np.ndarray:
    """One observation leaf [N + 1, ...] in the dtype its kind is tokenized from."""
    if kind == "text":
        value = np.asarray(list(value), dtype=object)
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"text observation {key!r} holds values that are not str")
    else:
        value = np.asarray(value)
    if value.ndim == 0 or len(value) != steps:
        raise ValueError(f"observation {key!r} has shape {value.shape}, expected {steps} steps "
                         "(the actions' count + 1)")
    if kind == "discrete":
        return value.astype(np.int64) - offset
    if kind == "continuous":
        return value.astype(np.float32)
    if kind == "image":
        return value.astype(np.uint8)
    return value


def load_minari_episodes(task_name: str, split: str = "train") -> MinariEpisodeSource:
    """Episodes of "minari/<dataset id>" from the local Minari store."""
    return MinariEpisodeSource(dataset_id(task_name), split)


def register_task(task_name: str) -> Any:
    """The registry's Task "minari/<id>", registered from the local dataset's spaces if new."""
    from gato.envs import registry

    if task_name in {t.name for t in registry.all_tasks()}:
        return registry.get(task_name)
    dataset = open_dataset(dataset_id(task_name))
    spec = gym_spaces.timestep_spec(dataset.observation_space, dataset.action_space)
    env_spec = dataset.env_spec
    steps = int(getattr(env_spec, "max_episode_steps", None) or 0)
    return registry.register(registry.Task(
        name=task_name, suite=SUITE, spec=spec, make_env=None, max_episode_steps=steps,
        description=f"Minari dataset {dataset_id(task_name)} (data only, "
                    "gato.data.formats.minari)"))


def register_named(names: str | Iterable[str] | None) -> list[Any]:
    """Registers the "minari/..." names among `names` (a comma-separated string or a list, as
    data.tasks takes them); returns their Tasks."""
    if names is None:
        return []
    names = names.split(",") if isinstance(names, str) else list(names)
    return [register_task(n.strip()) for n in names if n.strip().startswith(PREFIX)]
