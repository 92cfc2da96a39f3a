"""Held-out image-text metrics, teacher-forced: does the model read the image?

Each held-out (image, text) pair is one example alone in its window (no other example in
context), scored on its targets only (the caption or answer tokens and EOS) under the
distribution over text ids [0, 32000):

    token_accuracy   argmax == target, over target tokens
    nll              nats per target token
    exact_match      every target token of the example right (the whole caption / answer)

overall and per kind ("caption", "vqa"), each with a 95% percentile-bootstrap interval over
examples. The same pairs can be shown with the image changed (`VARIANTS`): "image" as trained,
"zeroed" (all pixels 0, patches and positions kept), "dropped" (no patches: text only) or
"shuffled" (another held-out example's image, a fixed derangement), so the gap between "image"
and the others measures what the image adds.

The model stays outside this layer: `score` takes `log_probs_fn(batch) -> [B, L, V]` (logits
or log-probabilities over ids from 0, V >= 32000, e.g. `gato.eval.decoding.range_log_probs`
bound to params) and calls it on batches of the TokenSequence fields, each [B, L, ...].
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gato.tokenizers import sequence as seqlib
from gato.tokenizers.vision_language import tokenize_image_text
from gato.tokenizers.vocab import TEXT_VOCAB_SIZE

VARIANTS = ("image", "zeroed", "dropped", "shuffled")
LogProbsFn = Callable[[dict[str, np.ndarray]], Any]


def _derangement(n: int, seed: int) -> np.ndarray:
    """A permutation with no fixed point (identity for n == 1)."""
    if n < 2:
        return np.arange(n)
    return (np.arange(n) + np.random.default_rng(seed).integers(1, n)) % n


def heldout_examples(source: Any, variant: str = "image", *, max_examples: int | None = None,
                     seed: int = 0) -> list[tuple[seqlib.TokenSequence, str]]:
    """(example, kind) for every text of the first max_examples records of `source`
    ([i] -> ImageText), in order, with the image as `variant` says (see the module docstring)."""
    if variant not in VARIANTS:
        raise ValueError(f"image variant {variant!r}; expected one of {VARIANTS}")
    n = len(source) if max_examples is None else min(len(source), int(max_examples))
    if n < 1:
        raise ValueError(f"no held-out image-text examples in {source!r}")
    records = [source[i] for i in range(n)]
    other = _derangement(n, seed)
    out = []
    for i, record in enumerate(records):
        image = {"image": record.image, "zeroed": np.zeros_like(record.image), "dropped": None,
                 "shuffled": records[other[i]].image}[variant]
        for prompt, target in record.texts():
            out.append((tokenize_image_text(image, prompt, target),
                        "vqa" if prompt else "caption"))
    return out


def _text_log_probs(values: np.ndarray) -> np.ndarray:
    """Log-softmax over the text ids of [n, V] rows (float64)."""
    x = np.asarray(values, np.float64)[:, :TEXT_VOCAB_SIZE]
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


Row = tuple[float, int, int]  # one example: (summed nll in nats, targets right, targets)


def _score_batch(log_probs: np.ndarray, batch: dict[str, np.ndarray]) -> list[Row]:
    """One Row per batch row."""
    rows = []
    for b in range(batch["tokens"].shape[0]):
        cols = np.flatnonzero(batch["loss_mask"][b, 1:]) + 1
        target = batch["tokens"][b, cols].astype(np.int64)
        lp = _text_log_probs(np.asarray(log_probs[b, cols - 1]))
        nll = -lp[np.arange(cols.size), target].sum()
        rows.append((float(nll), int((lp.argmax(-1) == target).sum()), int(cols.size)))
    return rows


def _interval(num: np.ndarray, den: np.ndarray, seed: int, resamples: int = 1000
              ) -> list[float]:
    """95% percentile-bootstrap interval of sum(num) / sum(den) over examples resampled."""
    idx = np.random.default_rng(seed).integers(0, num.size, (resamples, num.size))
    ratios = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    return [float(q) for q in np.quantile(ratios, [0.025, 0.975])]


def summarize(rows: Sequence[Row], seed: int = 0) -> dict[str, Any]:
    """Metrics of per-example (nll, right, targets) rows: token accuracy and nll per target
    token, exact match per example, each with the bootstrap interval of that same ratio."""
    nll, right, count = (np.asarray(c, np.float64) for c in zip(*rows, strict=True))
    exact = (right == count).astype(np.float64)
    ones = np.ones_like(exact)
    return {"examples": int(count.size), "targets": int(count.sum()),
            "token_accuracy": float(right.sum() / count.sum()),
            "token_accuracy_interval": _interval(right, count, seed),
            "nll": float(nll.sum() / count.sum()),
            "nll_interval": _interval(nll, count, seed),
            "exact_match": float(exact.mean()),
            "exact_match_interval": _interval(exact, ones, seed)}


def score(log_probs_fn: LogProbsFn, examples: Sequence[tuple[seqlib.TokenSequence, str]], *,
          batch_size: int = 8, seq_len: int | None = None, seed: int = 0) -> dict[str, Any]:
    """{"all": metrics, "caption": ..., "vqa": ...} (kinds present only) of `examples`, each
    padded to seq_len (default: the longest) and scored in batches of batch_size (the last one
    filled with repeats, so every call has one shape)."""
    if not examples:
        raise ValueError("no examples to score")
    longest = max(seqlib.length(s) for s, _ in examples)
    seq_len = longest if seq_len is None else int(seq_len)
    if seq_len < longest:
        raise ValueError(f"seq_len={seq_len} is shorter than the longest example ({longest})")
    padded = [seqlib.pad_to(s, seq_len) for s, _ in examples]
    rows: list[Row] = []
    for lo in range(0, len(padded), batch_size):
        chunk = padded[lo:lo + batch_size]
        keep = len(chunk)
        chunk = chunk + [chunk[-1]] * (batch_size - keep)
        batch = {k: np.stack([s[k] for s in chunk]) for k in seqlib.FIELDS}
        rows += _score_batch(np.asarray(log_probs_fn(batch)), batch)[:keep]
    kinds = [k for _, k in examples]
    out = {"all": summarize(rows, seed)}
    for kind in ("caption", "vqa"):
        mine = [r for r, k in zip(rows, kinds, strict=True) if k == kind]
        if mine:
            out[kind] = summarize(mine, seed)
    return out


def compare_images(log_probs_fn: LogProbsFn, source: Any, variants: Sequence[str] = VARIANTS,
                   *, max_examples: int | None = None, batch_size: int = 8,
                   seq_len: int | None = None, seed: int = 0) -> dict[str, dict[str, Any]]:
    """{variant: `score` of the held-out examples with that image variant}: the same texts, the
    image as trained, withheld or shuffled."""
    return {v: score(log_probs_fn, heldout_examples(source, v, max_examples=max_examples,
                                                    seed=seed),
                     batch_size=batch_size, seq_len=seq_len, seed=seed) for v in variants}
