"""The TFDS dataset `gato_vision_language/minigrid-scenes`: MiniGrid scenes with exact texts.

    build_scenes(data_dir, train=2000, validation=200, seed=0)
    -> <data_dir>/gato_vision_language/minigrid-scenes/1.0.0/   (array_record, no TensorFlow)

Features follow TFDS's coco_captions layout (image, image/id, captions {text, id}, objects)
plus questions {question, answer}, so `gato.data.formats.captions` reads it like a prepared
COCO. Images are lossless PNG; objects hold the true state the texts were made from (label,
colour, floor row and column). The "train" split is scenes of seeds [seed, seed + train), the
"validation" split held-out scenes (`scenes.split_seeds`: other seeds, no layout seen in
training). A rebuild happens only when the counts or seed differ from the prepared dataset's.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from gato.data.recording import scenes

NAME = "gato_vision_language"
CONFIG = "minigrid-scenes"
VERSION = "1.0.0"
DEFAULTS = {"train": 2000, "validation": 200, "seed": 0}


def scene_features() -> tfds.features.FeaturesDict:
    """coco_captions' features (objects without bounding boxes) plus the VQA pairs."""
    size = scenes.IMAGE_SIZE
    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(size, size, 3), encoding_format="png"),
        "image/id": np.int64,
        "captions": tfds.features.Sequence({"text": tfds.features.Text(), "id": np.int64}),
        "questions": tfds.features.Sequence({"question": tfds.features.Text(),
                                             "answer": tfds.features.Text()}),
        "objects": tfds.features.Sequence({"label": tfds.features.Text(),
                                           "colour": tfds.features.Text(),
                                           "row": np.int64, "col": np.int64}),
    })


def to_example(scene: scenes.Scene) -> dict[str, Any]:
    """A Scene -> the dict the features encode (the image as a PIL image: PNG without TF)."""
    from PIL import Image

    n = len(scene.captions)
    return {
        "image": Image.fromarray(scene.image),
        "image/id": scene.seed,
        "captions": {"text": list(scene.captions), "id": [scene.seed * 8 + i for i in range(n)]},
        "questions": {"question": [q for q, _ in scene.questions],
                      "answer": [a for _, a in scene.questions]},
        "objects": {"label": [o.kind for o in scene.objects],
                    "colour": [o.colour for o in scene.objects],
                    "row": [o.row for o in scene.objects], "col": [o.col for o in scene.objects]},
    }


class GatoVisionLanguage(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """MiniGrid scenes (BabyAI GoToLocal rooms, 64x64) with captions and question/answer pairs
    generated from the true grid state. Keyword arguments beyond TFDS's: train, validation
    (scene counts) and seed."""

    name = NAME
    VERSION = tfds.core.Version(VERSION)
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=CONFIG, description=__doc__)]

    def __init__(self, **kwargs: Any):
        self.settings = {k: int(kwargs.pop(k, v)) for k, v in DEFAULTS.items()}
        kwargs.setdefault("file_format", "array_record")
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self, description=self.__doc__, features=scene_features(),
            disable_shuffling=True, metadata=tfds.core.MetadataDict(settings=self.settings))

    def _split_generators(self, dl_manager: Any) -> dict[str, Any]:
        del dl_manager
        s = self.settings
        train, held = scenes.split_seeds(s["train"], s["validation"], s["seed"])
        return {"train": self._generate_examples(train),
                "validation": self._generate_examples(held)}

    def _generate_examples(self, seeds: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        for seed in seeds:
            yield seed, to_example(scenes.make_scene(seed))


def _prepared_settings(version_dir: Path) -> dict[str, int] | None:
    path = version_dir / "metadata.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("settings")


def build_scenes(data_dir: str | Path, train: int = DEFAULTS["train"],
                 validation: int = DEFAULTS["validation"], seed: int = DEFAULTS["seed"]) -> Path:
    """Writes (or keeps, when already prepared with these settings) the scenes dataset;
    returns its version directory."""
    if train < 1 or validation < 1:
        raise ValueError(f"scene counts must be >= 1, got train={train}, "
                         f"validation={validation}")
    builder = GatoVisionLanguage(config=CONFIG, data_dir=str(data_dir), train=train,
                                 validation=validation, seed=seed)
    version_dir = Path(builder.data_dir)
    if _prepared_settings(version_dir) == builder.settings:
        return version_dir
    mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS  # regenerate the dataset itself
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(download_mode=mode))
    return version_dir
