"""Text tokenizer (shipped SentencePiece model) and the default text corpus."""

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gato.data.formats import text_corpus
from gato.tokenizers import sequence
from gato.tokenizers.sequence import Modality
from gato.tokenizers.text import TextTokenizer, default_model_path, default_tokenizer

REPO = Path(__file__).resolve().parents[1]
RST = """\
:mod:`spam` --- Spam things
===========================

.. module:: spam
   :synopsis: Spam.

.. index:: single: spam

The :mod:`spam` module offers :func:`~spam.eggs` and the
:ref:`spam guide <spam-guide>`; see `Python <https://python.org>`_ and ``literal``.

.. function:: eggs(n)

   Return **n** eggs.

   .. versionadded:: 3.9

Example::

   eggs(3)
     nested

.. code-block:: python

   print("hi")

.. _target:

Last paragraph.
"""


def test_default_model_is_shipped_with_32000_pieces():
    assert default_model_path() == REPO / "gato" / "tokenizers" / "assets" / "gato_sp32k.model"
    assert default_model_path().is_file()
    assert default_tokenizer().vocab_size == 32_000


@pytest.mark.parametrize(
    "text",
    [
        "The functools module is for higher-order functions.",
        "def f(x):\n    return x  +  1\n\n",
        "  leading and trailing spaces  ",
        "Ünïcödé, 中文, emoji 😀🚀, ﬁ ligature, Zero\u200bwidth, tab\tand \x00 nul",
    ],
)
def test_round_trip_and_id_range(text):
    tok = default_tokenizer()
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < 32_000
    assert tok.decode(ids) == text


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40))
def test_any_text_round_trips(text):
    tok = default_tokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_english_is_compressed():
    tok = default_tokenizer()
    text = "In general, any callable object can be treated as a function for this module."
    assert len(tok.encode(text)) < len(text) / 3


def test_tokenize_document_layout():
    tok = default_tokenizer()
    seq = tok.tokenize_document("Hello world.")
    sequence.validate(seq)
    assert seq["tokens"][-1] == tok.eos_id
    assert seq["loss_mask"].all() and (seq["modality"] == Modality.TEXT).all()
    assert not seq["is_action"].any() and not seq["local_pos"].any()
    np.testing.assert_array_equal(seq["tokens"][:-1], tok.encode("Hello world."))


def test_pickles_and_rejects_bad_input(tmp_path):
    tok = pickle.loads(pickle.dumps(default_tokenizer()))
    assert tok.decode(tok.encode("abc")) == "abc"
    with pytest.raises(ValueError, match="must be in"):
        tok.decode([32_000])
    with pytest.raises(TypeError, match="str"):
        tok.encode(b"bytes")
    with pytest.raises(FileNotFoundError, match="train_sentencepiece.py"):
        TextTokenizer(tmp_path / "missing.model")


def test_rst_to_text_strips_markup():
    text = text_corpus.rst_to_text(RST)
    assert "spam --- Spam things" in text and "====" not in text
    assert "The spam module offers spam.eggs and the spam guide; see Python and literal." in text
    assert "Return n eggs." in text and "New in version 3.9." in text
    assert "Example:\n\neggs(3)\n  nested" in text and 'print("hi")' in text
    assert "synopsis" not in text and "index" not in text and "_target" not in text
    assert text.rstrip().endswith("Last paragraph.")
    no_code = text_corpus.rst_to_text(RST, keep_code=False)
    assert "eggs(3)" not in no_code and "print" not in no_code and "Example:" in no_code


def test_load_documents_and_split(tmp_path):
    for i in range(10):
        (tmp_path / f"sub{i % 2}").mkdir(exist_ok=True)
        (tmp_path / f"sub{i % 2}" / f"doc{i}.rst.txt").write_text(RST + f"\nDocument {i}.\n")
    docs = text_corpus.load_documents(tmp_path, min_chars=10)
    assert len(docs) == 10 and docs == text_corpus.load_documents(tmp_path, min_chars=10)
    assert docs[0].rstrip().endswith("Document 0.")
    train, val = text_corpus.split(docs, validation_fraction=0.2, seed=1)
    assert len(val) == 2 and sorted(train + val) == sorted(docs)
    assert (train, val) == text_corpus.split(docs, validation_fraction=0.2, seed=1)
    assert not text_corpus.load_documents(tmp_path, min_chars=10**6)
    with pytest.raises(FileNotFoundError, match="python3.11-doc"):
        text_corpus.load_documents(tmp_path / "nowhere")


def test_training_recipe_on_a_tiny_corpus(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "train_sentencepiece", REPO / "tokenizers" / "train_sentencepiece.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    for i in range(20):
        (tmp_path / f"doc{i}.rst.txt").write_text(RST * 3 + f"\nThe number {i} is here.\n")
    model = recipe.train(tmp_path / "out" / "tiny.model", tmp_path, vocab_size=400)
    first = model.read_bytes()
    assert recipe.train(tmp_path / "again.model", tmp_path, vocab_size=400).read_bytes() == first
    with pytest.raises(ValueError, match="400 pieces, expected 32000"):
        TextTokenizer(model)


@pytest.mark.skipif(not text_corpus.DEFAULT_ROOT.is_dir(), reason="python3.11-doc not installed")
def test_default_corpus_is_english_prose():
    docs = text_corpus.load_documents()
    assert len(docs) > 400 and sum(map(len, docs)) > 5_000_000
    assert any("functools" in d for d in docs)
    assert not any(":func:`" in d for d in docs)
