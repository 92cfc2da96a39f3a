"""Text sampling from a checkpoint's params: decoding keeps the prompt/continuation seam."""

import numpy as np

from gato.eval.text import continuation, generate_text
from gato.model import get_model_config
from gato.testing.model import init_params
from gato.tokenizers.text import default_tokenizer


def test_continuation_keeps_the_space_after_the_prompt():
    tok = default_tokenizer()
    ids = tok.encode("The Python interpreter is a program")
    k = next(k for k in range(len(ids)) if tok.decode(ids[:k]) == "The Python interpreter")
    assert continuation(tok, ids[:k], ids[k:]) == " is a program"
    assert tok.decode(ids[k:]) == "is a program"  # decoding the pieces alone loses the space


def test_generate_text_samples_from_params():
    config = get_model_config("tiny")
    params = init_params(config)
    greedy = generate_text(config, params, "The Python interpreter", 8)
    assert greedy == generate_text(config, params, "The Python interpreter", 8)
    sampled = [generate_text(config, params, "The Python interpreter", 8, temperature=1.0, seed=s)
               for s in range(3)]
    assert all(isinstance(t, str) for t in sampled) and len(set(sampled)) > 1
    assert np.all([len(t) > 0 for t in sampled])
