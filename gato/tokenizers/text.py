"""Text tokenizer: the project's 32,000-piece SentencePiece model (Gato, Reed et al. 2022, 2.1).

The model ships inside the package (`gato/tokenizers/assets/gato_sp32k.model`, package data) and is
trained by the recipe `tokenizers/train_sentencepiece.py` of the repository on the default corpus
(`gato.data.formats.text_corpus`). It has byte fallback, identity normalization and keeps
whitespace, so `decode(encode(s)) == s` for any string. Special ids: <unk> 0, <s> (BOS) 1, </s>
(EOS) 2; all ids are in [0, 32000).

Document convention: `tokenize_document(text)` is encode(text) followed by one EOS (no BOS), so
in packed windows the EOS marks where a document ends and the next begins; every token, EOS
included, is a loss target (text targets count in Gato's objective).
"""

import functools
import importlib.resources
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm

from gato.tokenizers import sequence
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.vocab import TEXT_VOCAB_SIZE

MODEL_NAME = "gato_sp32k.model"
TRAIN_COMMAND = ("python tokenizers/train_sentencepiece.py "
                 "--output gato/tokenizers/assets/gato_sp32k.model")


def default_model_path() -> Path:
    """The shipped model, package data of `gato.tokenizers` (assets/gato_sp32k.model)."""
    resource = importlib.resources.files("gato.tokenizers") / "assets" / MODEL_NAME
    return Path(str(resource))


class TextTokenizer:
    """SentencePiece wrapper producing int32 ids in [0, 32000) and TEXT token sequences."""

    def __init__(self, model_path: str | Path | None = None):
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"SentencePiece model {path} not found; train it from the repository root with "
                f"`{TRAIN_COMMAND}` (needs the Debian package python3.11-doc)"
            )
        self.model_path = path
        self._sp = spm.SentencePieceProcessor(model_file=str(path))
        if self._sp.get_piece_size() != TEXT_VOCAB_SIZE:
            raise ValueError(
                f"{path}: vocabulary has {self._sp.get_piece_size()} pieces, "
                f"expected {TEXT_VOCAB_SIZE}"
            )

    def __getstate__(self) -> dict[str, Any]:
        return {"model_path": self.model_path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model_path"])

    @property
    def vocab_size(self) -> int:
        return TEXT_VOCAB_SIZE

    @property
    def eos_id(self) -> int:
        return int(self._sp.eos_id())

    @property
    def bos_id(self) -> int:
        return int(self._sp.bos_id())

    def encode(self, text: str) -> np.ndarray:
        """str -> int32 ids [n] in [0, 32000) (no BOS/EOS)."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects str, got {type(text).__name__}")
        return np.asarray(self._sp.encode(text), dtype=np.int32)

    def decode(self, ids: Any) -> str:
        """Ids (any int sequence/array, 1-D) -> str; BOS/EOS/unk are dropped."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= TEXT_VOCAB_SIZE):
            raise ValueError(f"text ids must be in [0, {TEXT_VOCAB_SIZE}), got {ids}")
        return self._sp.decode(ids.tolist())

    def id_to_piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(int(token_id))

    def tokenize_text(self, text: str, loss: bool) -> TokenSequence:
        """encode(text) as a TEXT sequence with loss_mask set to `loss` on every token."""
        return sequence.from_ids(self.encode(text), Modality.TEXT, loss=loss)

    def tokenize_document(self, text: str) -> TokenSequence:
        """encode(text) + [EOS] as a TEXT sequence, all tokens loss targets."""
        ids = np.append(self.encode(text), np.int32(self.eos_id)).astype(np.int32)
        return sequence.from_ids(ids, Modality.TEXT, loss=True)


@functools.cache
def default_tokenizer() -> TextTokenizer:
    """A process-wide TextTokenizer on the default model (loaded once)."""
    return TextTokenizer()
