"""RL Unplugged (`rlu_atari`, `rlu_control_suite` in TFDS) as Episodes, without TensorFlow.

The user prepares them with TFDS (`tfds.load("rlu_atari/Pong_run_1")`, which stores tfrecord files
of serialized tf.train.Example); this module reads the prepared directory: features from its
features.json, records through `gato.data.formats.tfrecord`, images decoded by TFDS with PIL.
Episodes come out in the project's layout (`gato.data.formats.episodes`): rlu_control_suite's nested
observation dict keeps its keys, rlu_atari's single 84x84x1 grayscale frame becomes observation
"pixels".

Names map to the project's task names: rlu_control_suite/cartpole_swingup -> "cartpole-swingup",
rlu_atari/Pong_run_1 -> "pong", rlu_atari/BeamRider_run_3 -> "beam_rider".
"""

import re
from pathlib import Path
from typing import Any

from gato.data.formats import rlds, tfrecord
from gato.data.formats.episodes import Episode

DATASETS = ("rlu_atari", "rlu_control_suite")
CONTROL_DOMAINS = ("cartpole", "cheetah", "finger", "fish", "humanoid", "manipulator", "walker")


def task_name(name: str) -> str:
    """The project task name of an RLU dataset name "rlu_<suite>/<config>"."""
    dataset, _, config = name.partition("/")
    if dataset == "rlu_control_suite":
        domain = next((d for d in CONTROL_DOMAINS if config.startswith(f"{d}_")), None)
        if domain is None:
            raise ValueError(f"unknown rlu_control_suite config {config!r}")
        return f"{domain}-{config[len(domain) + 1:]}"
    if dataset == "rlu_atari":
        match = re.fullmatch(r"(\w+?)_run_\d+", config)
        if match is None:
            raise ValueError(f"rlu_atari config {config!r} is not '<Game>_run_<n>'")
        return re.sub(r"(?<!^)(?=[A-Z])", "_", match.group(1)).lower()
    raise ValueError(f"{name!r} is not one of {DATASETS} (as 'dataset/config')")


def prepared(data_dir: str | Path | None) -> dict[str, list[str]]:
    """Project task name -> the prepared RLU datasets ("rlu_atari/Pong_run_1") for it."""
    found: dict[str, list[str]] = {}
    for entry in rlds.list_datasets(data_dir):
        parts = entry.split("/")
        if parts[0] in DATASETS and len(parts) == 3:
            found.setdefault(task_name(f"{parts[0]}/{parts[1]}"), []).append(
                f"{parts[0]}/{parts[1]}")
    return {k: sorted(set(v)) for k, v in found.items()}


class RluEpisodeSource:
    """Random access to one split of a prepared RLU dataset, as Episodes."""

    def __init__(self, name: str, builder_dir: str | Path, split: str = "train"):
        self.name = name
        self.task = task_name(name)
        self.builder_dir = Path(builder_dir)
        self.split = split
        if rlds.file_format(builder_dir) == "tfrecord":
            self._examples: Any = tfrecord.TfdsRecordSource(builder_dir, split)
        else:
            self._examples = _ArrayRecordExamples(builder_dir, split)

    def __len__(self) -> int:
        return len(self._examples)

    def __getitem__(self, i: int) -> Episode:
        steps = self._examples[i]["steps"]
        return rlds.steps_to_episode(steps, self._examples.features["steps"].feature)

    def metadata(self, i: int) -> dict[str, Any]:
        """Episode-level fields (episode_id, checkpoint_id / timestamp, ...) of episode i."""
        return {k: v for k, v in self._examples[i].items() if k != "steps"}

    def __repr__(self) -> str:
        return f"RluEpisodeSource({self.name!r}, split={self.split!r})"


class _ArrayRecordExamples:
    """Raw examples of a dataset the user prepared as array_record (picklable, lazy)."""

    def __init__(self, builder_dir: str | Path, split: str):
        self._source = rlds.EpisodeSource(builder_dir, split)

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, i: int) -> Any:
        return self._source.examples()[i]

    @property
    def features(self) -> Any:
        return self._source.features


def load_rlu_episodes(name: str, data_dir: str | Path | None,
                      split: str = "train") -> RluEpisodeSource:
    """Episodes of the prepared RLU dataset `name`, e.g. "rlu_control_suite/cartpole_swingup"."""
    task_name(name)  # validates the name before touching the disk
    return RluEpisodeSource(name, rlds.find_builder_dir(data_dir, [name]), split)
