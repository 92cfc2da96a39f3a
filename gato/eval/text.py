"""Text generation from a prompt with the KV cache: the language side of a generalist checkpoint.

Sampling is restricted to text ids [0, TEXT_VOCAB_SIZE); generation stops at the tokenizer's
end-of-text id or after `num_tokens`.
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gato.eval.decoding import mask_to_range
from gato.model import Gato, ModelConfig, init_cache
from gato.tokenizers.sequence import Modality, from_ids
from gato.tokenizers.text import default_tokenizer
from gato.tokenizers.vocab import TEXT_VOCAB_SIZE


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
