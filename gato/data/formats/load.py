"""Which dataset a name reads: the project's RLDS datasets, RL Unplugged's, TFDS text corpora.

    source = load_episodes("cartpole-swingup", "~/tensorflow_datasets")
    len(source); episode = source[3]   # an Episode (see gato.data.formats.episodes)

A name "rlu_control_suite/cartpole_swingup" or "rlu_atari/Pong_run_1" reads RL Unplugged
(`gato.data.formats.rlu`); "jat/<config>" a local copy of the JAT dataset under data_dir
(`gato.data.formats.jat`, extra `jat`); "minari/<dataset id>" a local Minari dataset
(`gato.data.formats.minari`, extra `minari`; $MINARI_DATASETS_PATH, not data_dir); any other
name is a task of the registry and reads `<data_dir>/gato_<suite>/<task>/<version>/`
(`gato.data.formats.rlds`).
"""

import re
from pathlib import Path
from typing import Any

from gato.data.formats import episodes as episodes_lib
from gato.data.formats import rlu
from gato.data.formats.rlds import EpisodeSource, data_root, file_format, find_builder_dir

_SPLIT_SLICE = re.compile(r"^([^\[\]]+)\[(-?\d*):(-?\d*)\]$")  # "train[17:]", "train[:-3]"


def parse_split(split: str) -> tuple[str, slice | None]:
    """"train" -> ("train", None); "train[a:b]" -> ("train", slice(a, b)), a and b episode
    indices as Python slices take them (TFDS's slicing syntax, counts only: no percentages)."""
    if "[" not in split:
        return split, None
    match = _SPLIT_SLICE.match(split)
    if not match:
        raise ValueError(f"split {split!r}: expected NAME or NAME[start:stop] in episodes, "
                         "e.g. train[:17] or train[17:]")
    base, start, stop = match.groups()
    return base, slice(int(start) if start else None, int(stop) if stop else None)


def sliced(source: Any, part: slice | None, split: str, name: str, unit: str) -> Any:
    """`source` restricted to the slice `part` of `split` (None: all of it); ValueError naming
    `name` when the slice holds no `unit` (episodes, examples)."""
    if part is None:
        return source
    indices = range(len(source))[part]
    if not indices:
        raise ValueError(f"split {split!r} of {name} holds no {unit} (the split has "
                         f"{len(source)})")
    return episodes_lib.SubsetSource(source, indices)


def load_episodes(task_name: str, data_dir: str | Path | None,
                  split: str = "train") -> episodes_lib.EpisodeSourceLike:
    """The episodes of `task_name` (or an RL Unplugged "rlu_*/config" name) in data_dir; split
    is a split name or a slice of one in episodes ("train[:17]" trains on the first 17 episodes,
    "train[17:]" holds out the rest: two disjoint sets from one generation).

    data_dir None means TFDS's default. The project's dataset (`gato_<suite>/<task>`) is used if
    prepared; otherwise a prepared rlu_control_suite dataset of the same task (same observation
    keys). rlu_atari frames (84x84 grayscale) differ from the project's Atari frames, so those are
    read only when named explicitly. Returns a random-access source (len, [i] -> Episode).
    """
    base, part = parse_split(split)
    return sliced(_load_split(task_name, data_dir, base), part, split, task_name, "episodes")


def _load_split(task_name: str, data_dir: str | Path | None,
                split: str) -> episodes_lib.EpisodeSourceLike:
    if task_name.startswith("rlu_"):
        return rlu.load_rlu_episodes(task_name, data_dir, split)
    if task_name.startswith("jat/"):
        from gato.data.formats import jat

        return jat.load_jat_episodes(task_name, data_root(data_dir), split)
    if task_name.startswith("minari/"):
        from gato.data.formats import minari

        return minari.load_minari_episodes(task_name, split)
    root = data_root(data_dir)
    found = sorted(p.relative_to(root).as_posix() for p in root.glob(f"gato_*/{task_name}"))
    if not found and root.exists():
        control = [n for n in rlu.prepared(root).get(task_name, [])
                   if n.startswith("rlu_control_suite/")]
        if control:
            return rlu.load_rlu_episodes(control[0], root, split)
    candidates = found or [f"gato_control/{task_name}", f"gato_atari/{task_name}"]
    return EpisodeSource(find_builder_dir(root, candidates), split)


class TextSource:
    """Random access to the documents (str) of a TFDS text corpus split."""

    def __init__(self, source: Any, field: str):
        self.source = source
        self.field = field

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> str:
        value = self.source[i][self.field]
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def load_text_documents(name: str, data_dir: str | Path | None, split: str = "train",
                        field: str = "text") -> TextSource:
    """Documents of a prepared TFDS text corpus ("lm1b", "c4/en", "wikipedia/20230601.en").

    array_record datasets are read through TFDS's data source, tfrecord ones through
    `gato.data.formats.tfrecord` (no TensorFlow either way).
    """
    builder_dir = find_builder_dir(data_dir, [name])
    fmt = file_format(builder_dir)
    if fmt == "array_record":
        source = EpisodeSource(builder_dir, split).examples()
    elif fmt == "tfrecord":
        from gato.data.formats import tfrecord

        source = tfrecord.TfdsRecordSource(builder_dir, split)
    else:
        raise ValueError(f"{builder_dir} is stored as {fmt!r}; only array_record and tfrecord "
                         "are readable without TensorFlow")
    return TextSource(source, field)
