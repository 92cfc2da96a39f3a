"""Text from a checkpoint's params: sampling keeps the prompt/continuation seam; held-out bits per
byte score exactly the packed chunks' targets."""

import dataclasses
import math

import numpy as np
import pytest

from gato.eval.text import bits_per_byte, chunk_nll, continuation, generate_text
from gato.model import get_model_config
from gato.testing import train as testing
from gato.testing.model import init_params
from gato.tokenizers.text import default_tokenizer
from gato.train import evaluators

DOCS = ["The Python interpreter reads a program and runs it.",
        "A list is a mutable sequence; a tuple is not. Both can be indexed.",
        "Exceptions are raised with raise and caught with try and except."]


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


def test_chunk_nll_sums_the_masked_targets_predicted_one_position_earlier():
    log_probs = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]]))
    tokens = np.array([[2, 1, 0]])
    loss_mask = np.array([[True, True, False]])  # position 0 is never a target; 2 is masked
    nll, count = chunk_nll(log_probs, tokens, loss_mask)
    assert count == 1 and nll == pytest.approx(-math.log(0.25))  # token 1 under position 0
    nll, count = chunk_nll(log_probs, tokens, np.ones_like(loss_mask))
    assert count == 2 and nll == pytest.approx(-math.log(0.25) - math.log(0.1))
    with pytest.raises(ValueError, match="outside the text range"):
        chunk_nll(log_probs, np.array([[0, 3, 0]]), loss_mask)


def test_bits_per_byte_scores_every_chunk_target_once_whatever_the_batch():
    config = dataclasses.replace(get_model_config("tiny"), max_len=16)
    params = init_params(config)
    tok = default_tokenizer()
    num_tokens = sum(len(tok.encode(d)) + 1 for d in DOCS)  # each document ends with EOS
    results = [bits_per_byte(config, params, DOCS, batch_size=b) for b in (1, 3, 16)]
    r = results[0]
    assert r["tokens"] == num_tokens and r["bytes"] == sum(len(d.encode()) for d in DOCS)
    for other in results[1:]:
        assert other["nll"] == pytest.approx(r["nll"], rel=1e-5)
    # near-uniform logits at init: nll close to log of the text range (32000 ids)
    assert abs(r["nll"] - math.log(32000)) < 0.5
    assert r["bits_per_byte"] == pytest.approx(r["nll"] / math.log(2) * r["tokens"] / r["bytes"])
    with pytest.raises(ValueError, match="at least one document"):
        bits_per_byte(config, params, [])


def test_text_evaluator_reports_held_out_bits_per_byte_and_refuses_unknown_options(tmp_path):
    config = testing.tiny_config()
    config.evaluators = {"text": {"type": "text", "every": 1,
                                  "options": {"max_documents": 1, "batch_size": 2}}}
    [scheduled] = evaluators.build(config, tmp_path)
    metrics = scheduled.evaluator.run(init_params(get_model_config("tiny")), 1)
    assert set(metrics) == {"text/pydocs/nll", "text/pydocs/bits_per_byte"}
    assert all(np.isfinite(v) and v > 0 for v in metrics.values())
    config.evaluators = {"text": {"type": "text", "every": 1, "options": {"documents": 3}}}
    with pytest.raises(ValueError, match="unknown options"):
        evaluators.build(config, tmp_path)


def test_the_main_jobs_text_step_prints_held_out_bits_per_byte_and_samples(tmp_path, capsys):
    from gato.testing.eval import save_random_checkpoint
    from gato.workflows.mission import sample_text

    save_random_checkpoint(tmp_path, data={"text": "pydocs", "text_max_documents": 1})
    sample_text(tmp_path, "The Python interpreter", num_tokens=4)
    out = capsys.readouterr().out
    assert "held-out pydocs:" in out and "bits per byte" in out and "1 documents" in out
    assert out.count("[temperature") == 2
