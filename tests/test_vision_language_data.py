"""Image-text datasets on disk: a tiny dataset in TFDS's coco_captions layout (array_record and
tfrecord, read without TensorFlow) and the project's MiniGrid scenes dataset."""

import io
import json

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from gato.data.formats import captions
from gato.data.recording import scene_builder, scenes
from gato.testing import data as fakes

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
TEXTS = [["a red square", "red"], ["a green square"], ["a blue square", "blue", "blue again"]]


def _coco_features() -> tfds.features.FeaturesDict:
    """TFDS coco_captions' features (its ClassLabel has the 80 COCO classes)."""
    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(encoding_format="jpeg"),
        "image/filename": tfds.features.Text(),
        "image/id": np.int64,
        "objects": tfds.features.Sequence({
            "id": np.int64, "area": np.int64, "bbox": tfds.features.BBoxFeature(),
            "is_crowd": np.bool_, "label": tfds.features.ClassLabel(num_classes=80)}),
        "captions": tfds.features.Sequence({"text": tfds.features.Text(), "id": np.int64}),
    })


def _examples(pil: bool) -> list[dict]:
    out = []
    for i, (colour, texts) in enumerate(zip(COLOURS, TEXTS, strict=True)):
        image = np.zeros((32, 48, 3), np.uint8)
        image[:, 8:40] = colour  # the centre square a crop keeps; black bars either side
        if pil:
            encoded = Image.fromarray(image)
        else:
            encoded = io.BytesIO()
            Image.fromarray(image).save(encoded, format="JPEG", quality=95)
            encoded.seek(0)
        out.append({"image": encoded, "image/filename": f"{i}.jpg", "image/id": 100 + i,
                    "objects": {"id": [i], "area": [16], "is_crowd": [False], "label": [i],
                                "bbox": [tfds.features.BBox(0.0, 0.0, 1.0, 1.0)]},
                    "captions": {"text": texts, "id": [10 * i + k for k in range(len(texts))]}})
    return out


class _TinyCoco(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    name = "coco_captions"
    VERSION = tfds.core.Version("1.1.0")
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="2014")]

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=_coco_features(),
                                     disable_shuffling=True)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        yield from enumerate(_examples(pil=False))


@pytest.mark.parametrize("file_format", ["array_record", "tfrecord"])
def test_coco_layout_reader(tmp_path, file_format):
    builder = _TinyCoco(config="2014", data_dir=str(tmp_path), file_format="array_record")
    if file_format == "array_record":
        builder.download_and_prepare()
    else:
        fakes.write_tfrecord_dataset(builder, _examples(pil=True))
    source = captions.load_image_text("coco_captions/2014", tmp_path, "train", image_size=32)
    assert source.format == file_format and len(source) == 3
    for i in range(3):
        item = source[i]
        assert item.captions == tuple(TEXTS[i]) and item.questions == ()
        assert item.image_id == 100 + i and item.image.shape == (32, 32, 3)
        inner = item.image[4:-4, 4:-4].astype(int)  # JPEG blurs the edges of the crop
        assert np.abs(inner - COLOURS[i]).max() <= 12
        assert item.texts() == [("", t) for t in TEXTS[i]]
    resized = captions.load_image_text("coco_captions/2014", tmp_path, "train[1:]", 16)
    assert len(resized) == 2 and resized[0].image.shape == (16, 16, 3)
    assert resized[1].captions == tuple(TEXTS[2])


def test_reader_errors(tmp_path):
    builder = _TinyCoco(config="2014", data_dir=str(tmp_path), file_format="array_record")
    builder.download_and_prepare()
    with pytest.raises(FileNotFoundError, match="no prepared dataset coco_captions/2017.*holds"):
        captions.load_image_text("coco_captions/2017", tmp_path)
    with pytest.raises(KeyError, match="validation"):
        len(captions.load_image_text("coco_captions/2014", tmp_path, "validation"))
    with pytest.raises(ValueError, match="holds no examples"):
        captions.load_image_text("coco_captions/2014", tmp_path, "train[5:]")
    with pytest.raises(ValueError, match="multiple of 16"):
        captions.fit_image(np.zeros((32, 32, 3), np.uint8), 40)
    with pytest.raises(KeyError, match="lacks features.*captions"):
        captions.to_image_text({"image": np.zeros((16, 16, 3), np.uint8)}, None)


def test_scenes_dataset_round_trip(tmp_path):
    version_dir = scene_builder.build_scenes(tmp_path, train=6, validation=3, seed=2)
    assert version_dir == tmp_path / "gato_vision_language" / "minigrid-scenes" / "1.0.0"
    train = captions.load_image_text("minigrid-scenes", tmp_path, "train")
    held = captions.load_image_text("minigrid-scenes", tmp_path, "validation")
    assert len(train) == 6 and len(held) == 3
    train_seeds, held_seeds = scenes.split_seeds(6, 3, seed=2)
    for source, seeds in ((train, train_seeds), (held, held_seeds)):
        for i, seed in enumerate(seeds):
            item, scene = source[i], scenes.make_scene(seed)
            assert item.image_id == seed
            np.testing.assert_array_equal(item.image, scene.image)  # PNG: lossless
            assert item.captions == scene.captions and item.questions == scene.questions
    stamp = (version_dir / "dataset_info.json").stat().st_mtime_ns
    scene_builder.build_scenes(tmp_path, train=6, validation=3, seed=2)  # already prepared
    assert (version_dir / "dataset_info.json").stat().st_mtime_ns == stamp
    scene_builder.build_scenes(tmp_path, train=4, validation=3, seed=2)  # other settings
    assert len(captions.load_image_text("minigrid-scenes", tmp_path, "train")) == 4


def test_data_describe_counts_each_split_as_trained(tmp_path, capsys):
    from gato import cli
    from gato.tokenizers.vision_language import tokenize_image_text

    scene_builder.build_scenes(tmp_path, train=3, validation=2, seed=1)
    capsys.readouterr()
    assert cli.main(["data", "describe", str(tmp_path), "--json"]) == 0
    manifests = {m["split"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(manifests) == {"train", "validation"}
    for split, m in manifests.items():
        source = captions.load_image_text("minigrid-scenes", tmp_path, split)
        pairs = [(x.image, p, t) for x in (source[i] for i in range(len(source)))
                 for p, t in x.texts()]
        layouts = [tokenize_image_text(*pair) for pair in pairs]
        assert m["examples"] == len(source) and m["captions"] + m["questions"] == len(pairs)
        assert m["tokens"] == sum(len(s["modality"]) for s in layouts)
        assert m["target_tokens"] == sum(int(s["loss_mask"].sum()) for s in layouts)
    assert cli.main(["data", "describe", str(tmp_path)]) == 0
    assert "minigrid-scenes [validation] (vision_language): 2 images" in capsys.readouterr().out
