"""Config -> task data: TFDS text corpora, pydocs, zero-weight tasks left unread, clear errors."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gato.config import complete
from gato.data.pipeline import resolve

DOCS = ["A first document about agents.", "A second one, about tokens.", "Third."]


class _TinyCorpus(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    name = "pipeline_tiny_corpus"
    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        features = tfds.features.FeaturesDict({"text": tfds.features.Text()})
        return tfds.core.DatasetInfo(builder=self, features=features, disable_shuffling=True)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, doc in enumerate(DOCS):
            yield i, {"text": doc}


def test_tfds_text_corpus_is_read_and_packed(tmp_path):
    _TinyCorpus(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
    docs = resolve.load_text_documents("pipeline_tiny_corpus", "train", str(tmp_path))
    assert docs == DOCS
    two = resolve.load_text_documents("pipeline_tiny_corpus", "train", str(tmp_path), 2)
    assert two == DOCS[:2]
    chunks = resolve.text_chunks(docs, 8)
    tokens = np.concatenate([chunks.chunk(i)["tokens"] for i in range(len(chunks))])
    from gato.tokenizers.text import default_tokenizer

    assert (tokens == default_tokenizer().eos_id).sum() == len(DOCS)


def _config(**values):
    return complete({"data": {"suites": "", "tasks": "", "data_dir": None, "mixture": {},
                              **values}}).data


def test_zero_weight_tasks_are_not_read(tmp_path):
    config = _config(tasks="pong", data_dir=str(tmp_path), mixture={"atari": 0.0})
    with pytest.raises(ValueError, match="weight 0"):
        resolve.resolve_tasks(config, 64)
    with pytest.raises(FileNotFoundError, match="pong"):  # with weight, its data is looked for
        resolve.resolve_tasks(_config(tasks="pong", data_dir=str(tmp_path)), 64)
