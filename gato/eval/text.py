"""The language side of a generalist checkpoint: text from a prompt, and held-out bits per byte.

Sampling is restricted to text ids [0, TEXT_VOCAB_SIZE); generation stops at the tokenizer's
end-of-text id or after `num_tokens`. `HeldOutText` scores held-out documents teacher-forced
under the same text-range distribution; bits per byte, unlike nats per token, compares models
with different tokenizers (The Pile's definition: nats per token / ln 2 x tokens / UTF-8 bytes).
"""

import math
import pathlib
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gato.eval.decoding import log_probs_in_batches, mask_to_range, range_log_probs
from gato.model import Gato, ModelConfig, init_cache
from gato.tokenizers.sequence import Modality, from_ids
from gato.tokenizers.text import default_tokenizer
from gato.tokenizers.vocab import TEXT_VOCAB_SIZE
from gato.train import evaluators


def _batched(seq: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v)[None] for k, v in seq.items()}


def continuation(tokenizer: Any, prompt_ids: np.ndarray, new_ids: np.ndarray) -> str:
    """The text `new_ids` add after `prompt_ids`, decoded together with the prompt so that a word
    boundary at the seam is kept (SentencePiece drops the leading space of a lone piece)."""
    head = tokenizer.decode(np.asarray(prompt_ids, np.int32))
    full = tokenizer.decode(np.concatenate([prompt_ids, new_ids]).astype(np.int32))
    return full[len(head):] if full.startswith(head) else tokenizer.decode(new_ids)


def generate_text(model_config: ModelConfig, params: Any, prompt: str, num_tokens: int, *,
                  temperature: float = 0.0, seed: int = 0) -> str:
    """Continues `prompt` by up to `num_tokens` text tokens; temperature 0 means greedy."""
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be >= 1, got {num_tokens}")
    tokenizer = default_tokenizer()
    model = Gato(model_config)
    prompt_seq = tokenizer.tokenize_text(prompt, loss=False)
    if len(prompt_seq["tokens"]) + num_tokens > model_config.max_len:
        raise ValueError(f"prompt + {num_tokens} tokens exceed max_len {model_config.max_len}")
    extend = jax.jit(lambda p, chunk, cache: model.apply({"params": p}, chunk, cache,
                                                         method=Gato.extend))
    cache = init_cache(model_config, 1, model_config.max_len)
    logits, cache = extend(params, _batched(prompt_seq), cache)
    rng = jax.random.PRNGKey(seed)
    out: list[int] = []
    for i in range(num_tokens):
        last = mask_to_range(logits[0, -1], 0, TEXT_VOCAB_SIZE)
        if temperature > 0:
            token = int(jax.random.categorical(jax.random.fold_in(rng, i), last / temperature))
        else:
            token = int(jnp.argmax(last))
        if token == tokenizer.eos_id:
            break
        out.append(token)
        step = from_ids(np.array([token], np.int32), Modality.TEXT)
        logits, cache = extend(params, _batched(step), cache)
    return continuation(tokenizer, prompt_seq["tokens"], np.array(out, np.int32))


def chunk_nll(log_probs: np.ndarray, tokens: np.ndarray, loss_mask: np.ndarray
              ) -> tuple[float, int]:
    """(summed nll in nats, count) of the targets of a batch: every token at i >= 1 with
    loss_mask, predicted at position i - 1. log_probs [B, L, V], tokens/loss_mask [B, L]."""
    rows, cols = np.nonzero(loss_mask[:, 1:])
    cols = cols + 1
    target = tokens[rows, cols].astype(np.int64)
    if target.size and (target.min() < 0 or target.max() >= log_probs.shape[-1]):
        raise ValueError(f"target ids outside the text range [0, {log_probs.shape[-1]})")
    nll = -log_probs[rows, cols - 1, target].astype(np.float64)
    return float(nll.sum()), int(target.size)


class HeldOutText:
    """Documents packed into max_len chunks as in training (each document ends with EOS), once,
    with their UTF-8 byte count: what `score` evaluates at any params."""

    def __init__(self, model_config: ModelConfig, documents: Sequence[str]):
        from gato.data.pipeline.resolve import text_chunks

        if not documents:
            raise ValueError("held-out text needs at least one document")
        self.documents = len(documents)
        self.chunks = text_chunks(list(documents), model_config.max_len)
        self.bytes = sum(len(d.encode("utf-8")) for d in documents)
        self.fn = range_log_probs(Gato(model_config), 0, TEXT_VOCAB_SIZE)

    def score(self, params: Any, batch_size: int = 8) -> dict[str, float]:
        """{"documents", "tokens", "bytes", "nll" (nats per scored token), "bits_per_byte"},
        teacher-forced under the text-id distribution (a chunk's first token has no prediction,
        so is not scored). tokens counts every token with its EOS and bytes the documents' UTF-8
        bytes, so bits_per_byte = nll / ln 2 x tokens / bytes."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunks = (self.chunks.chunk(i) for i in range(len(self.chunks)))
        total, count = 0.0, 0
        for log_probs, batch in log_probs_in_batches(self.fn, params, chunks, batch_size):
            nll, n = chunk_nll(log_probs, batch["tokens"], batch["loss_mask"])
            total, count = total + nll, count + n
        nll = total / max(count, 1)
        tokens = self.chunks.num_tokens
        return {"documents": self.documents, "tokens": tokens, "bytes": self.bytes, "nll": nll,
                "bits_per_byte": nll / math.log(2) * tokens / self.bytes}


def bits_per_byte(model_config: ModelConfig, params: Any, documents: Sequence[str], *,
                  batch_size: int = 8) -> dict[str, float]:
    """`HeldOutText(model_config, documents).score(params, batch_size)`: held-out text metrics
    of `documents` at `params`."""
    return HeldOutText(model_config, documents).score(params, batch_size)


TEXT_OPTIONS = {"text": "", "split": "validation", "max_documents": 8, "batch_size": 8,
                "prefix": "text"}


class TextEvaluator:
    """In-training held-out text metrics on a fixed set of documents, tokenized once:
    {prefix}/{text}/{nll,bits_per_byte}."""

    def __init__(self, text: HeldOutText, name: str, batch_size: int, prefix: str):
        self.text, self.batch_size, self.key = text, batch_size, f"{prefix}/{name}"

    def run(self, params: Any, step: int) -> dict[str, float]:
        del step
        r = self.text.score(params, self.batch_size)
        return {f"{self.key}/nll": r["nll"], f"{self.key}/bits_per_byte": r["bits_per_byte"]}


@evaluators.register("text")
def text_evaluator(config: Any, options: dict[str, Any], workdir: pathlib.Path) -> TextEvaluator:
    """The "text" in-training evaluator. options (defaults in TEXT_OPTIONS): text (corpus; "":
    the run's data.text, else pydocs), split, max_documents (the first N of the split), batch_size,
    prefix (of the metric names)."""
    from gato.data.pipeline.resolve import load_text_documents
    from gato.model.build import build_model

    del workdir  # metrics only
    o = evaluators.with_defaults("text", options, TEXT_OPTIONS)
    if int(o["max_documents"]) < 1 or int(o["batch_size"]) < 1:
        raise ValueError("text evaluator: max_documents and batch_size must be >= 1")
    data = config.data
    name = o["text"] or data.text
    documents = load_text_documents(name, o["split"], data.data_dir,
                                    int(o["max_documents"]))
    _, model_config = build_model(config.model)
    return TextEvaluator(HeldOutText(model_config, documents), name, int(o["batch_size"]),
                         o["prefix"])
