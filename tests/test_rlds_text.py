"""TFDS text corpora as documents: array_record through TFDS, tfrecord through our reader."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gato.data import formats
from gato.data.formats import rlds
from gato.testing import data as fakes

DOCS = ["The first document.", "Zweites Dokument, ümlauts.", ""]


class _TinyCorpus(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    name = "tiny_corpus"
    VERSION = tfds.core.Version("1.1.0")

    def _info(self) -> tfds.core.DatasetInfo:
        features = tfds.features.FeaturesDict({"text": tfds.features.Text(), "id": np.int64})
        return tfds.core.DatasetInfo(builder=self, features=features, disable_shuffling=True)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, doc in enumerate(DOCS):
            yield i, {"text": doc, "id": i}


@pytest.mark.parametrize("file_format", ["array_record", "tfrecord"])
def test_load_text_documents(tmp_path, file_format):
    builder = _TinyCorpus(data_dir=str(tmp_path), file_format="array_record")
    if file_format == "array_record":
        builder.download_and_prepare()
    else:
        fakes.write_tfrecord_dataset(builder, [{"text": d, "id": i} for i, d in enumerate(DOCS)])
    docs = formats.load_text_documents("tiny_corpus", tmp_path)
    assert rlds.file_format(tmp_path / "tiny_corpus" / "1.1.0") == file_format
    assert [docs[i] for i in range(len(docs))] == DOCS
    with pytest.raises(FileNotFoundError, match="lm1b.*tiny_corpus/1.1.0"):
        formats.load_text_documents("lm1b", tmp_path)
