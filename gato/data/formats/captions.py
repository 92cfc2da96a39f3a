"""Image-text datasets as numpy: prepared TFDS datasets in the `coco_captions` feature layout.

The layout (TFDS's coco_captions builder) is one example per image:

    image           Image, uint8 [H, W, 3]
    image/id        int64
    captions        Sequence {text: Text, id: int64}
    objects         Sequence {...}            (read by nothing here)

The project's own scenes (`gato.data.recording.scenes`, `gato_vision_language/minigrid-scenes`)
use the same layout plus `questions`: Sequence {question: Text, answer: Text}, their VQA pairs.
Datasets prepared as array_record are read through TFDS's data source, tfrecord ones through
`gato.data.formats.tfrecord`; neither needs TensorFlow. Images are brought to `image_size` x
`image_size` (centre square crop, then a bilinear resize; untouched when already that size) so
that they cut into whole 16x16 patches.

    source = load_image_text("coco_captions/2014", data_dir, "val", image_size=64)
    example = source[3]   # ImageText(image, captions, questions, image_id)
"""

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from gato.data.formats.load import parse_split, sliced
from gato.data.formats.rlds import EpisodeSource, file_format, find_builder_dir
from gato.tokenizers.vocab import PATCH_SIZE

OWN_DATASETS = {"minigrid-scenes": "gato_vision_language/minigrid-scenes"}
DEFAULT_IMAGE_SIZE = 64  # pixels per side: 4 x 4 = 16 patches


@dataclasses.dataclass(frozen=True)
class ImageText:
    """One image with its texts: captions (targets) and (question, answer) pairs."""

    image: np.ndarray  # uint8 [H, W, 3]
    captions: tuple[str, ...]
    questions: tuple[tuple[str, str], ...] = ()
    image_id: int = -1

    def texts(self) -> list[tuple[str, str]]:
        """(prompt, target) pairs: ("", caption) for each caption, then (question, answer)."""
        return [("", c) for c in self.captions] + list(self.questions)


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def fit_image(image: Any, size: int) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [size, size, 3]: centre square crop, bilinear resize (PIL);
    grayscale is repeated to RGB. An image already size x size x 3 is returned as is."""
    if size < PATCH_SIZE or size % PATCH_SIZE:
        raise ValueError(f"image_size={size} must be a positive multiple of {PATCH_SIZE}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"image: expected uint8 [H, W, 1 or 3], got {image.dtype}{image.shape}")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    from PIL import Image

    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(image[top:top + side, left:left + side])
    return np.asarray(square.resize((size, size), Image.BILINEAR), np.uint8)


def to_image_text(record: dict[str, Any], image_size: int | None) -> ImageText:
    """A decoded example of the layout -> ImageText (image fitted unless image_size is None)."""
    missing = [k for k in ("image", "captions") if k not in record]
    if missing:
        raise KeyError(f"image-text example lacks features {missing} (has {sorted(record)}); "
                       "expected the coco_captions layout: image, captions {text, id}")
    image = np.asarray(record["image"])
    if image_size is not None:
        image = fit_image(image, image_size)
    captions = tuple(_str(t) for t in record["captions"]["text"])
    qa = record.get("questions") or {"question": [], "answer": []}
    questions = tuple((_str(q), _str(a)) for q, a in zip(qa["question"], qa["answer"],
                                                         strict=True))
    return ImageText(image, captions, questions, int(record.get("image/id", -1)))


class ImageTextSource:
    """Random access to one split of a prepared image-text dataset: len, [i] -> ImageText.

    Picklable (grain workers): files are opened lazily in each process.
    """

    def __init__(self, builder_dir: str | Path, split: str = "train",
                 image_size: int | None = DEFAULT_IMAGE_SIZE):
        self.builder_dir = Path(builder_dir)
        self.split = split
        self.image_size = image_size
        self.format = file_format(self.builder_dir)
        if self.format not in ("array_record", "tfrecord"):
            raise ValueError(f"{self.builder_dir} is stored as {self.format!r}; only array_record "
                             "and tfrecord are readable without TensorFlow")
        self._source: Any = None

    def _records(self) -> Any:
        if self._source is None:
            if self.format == "array_record":
                self._source = EpisodeSource(self.builder_dir, self.split).examples()
            else:
                from gato.data.formats import tfrecord

                self._source = tfrecord.TfdsRecordSource(self.builder_dir, self.split)
        return self._source

    def __len__(self) -> int:
        return len(self._records())

    def __getitem__(self, i: int) -> ImageText:
        if not 0 <= i < len(self):
            raise IndexError(f"example {i} out of range [0, {len(self)}) in {self!r}")
        return to_image_text(dict(self._records()[int(i)]), self.image_size)

    def locate(self, i: int) -> str:
        return f"example {i} of split {self.split!r} in {self.builder_dir}"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_source": None}

    def __repr__(self) -> str:
        return f"ImageTextSource({str(self.builder_dir)!r}, split={self.split!r})"


def dataset_name(name: str) -> str:
    """The TFDS name of `name`: the project's own datasets by short name, others unchanged."""
    return OWN_DATASETS.get(name, name)


def load_image_text(name: str, data_dir: str | Path | None, split: str = "train",
                    image_size: int | None = DEFAULT_IMAGE_SIZE) -> Any:
    """The examples of image-text dataset `name` ("minigrid-scenes", "coco_captions/2014", any
    TFDS dataset of the layout) in data_dir; `split` may be sliced ("train[:100]") like episode
    splits. Returns a random-access source (len, [i] -> ImageText)."""
    base, part = parse_split(split)
    source = ImageTextSource(find_builder_dir(data_dir, [dataset_name(name)]), base, image_size)
    return sliced(source, part, split, name, "examples")
