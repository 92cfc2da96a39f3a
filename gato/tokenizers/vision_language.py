"""Image + text examples (captioning, visual question answering) as one TokenSequence.

Gato trains on vision-language pairs with the image first and the loss on the text only (Reed et
al. 2022, 2.1 and 3). One example is laid out as

    [image patches][prompt tokens][target tokens][EOS]
    modality   IMAGE ...     TEXT ...        TEXT ...       TEXT
    loss_mask  0 ...         0 ...           1 ...          1
    local_pos  0 .. n-1      0 ...           0 ...          0

Patches are the image tokenizer's (raster order, raw uint8 pixels, normalized patch intervals),
numbered 0..n-1 in local_pos like an observation's tokens. A caption is a target with no
prompt; a VQA example has the question as prompt (context, no loss) and the answer as target.
Prompt and target are encoded separately and joined, so the answer's ids do not depend on the
question (the SentencePiece model adds its word-boundary marker to each, and decoding the joined
ids gives "question answer"). The EOS ends the example, so several packed into one window stay
apart, and is a target: the model learns where the text stops.
"""

from typing import Any

import numpy as np

from gato.tokenizers import image as image_lib
from gato.tokenizers import sequence
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.text import TextTokenizer, default_tokenizer
from gato.tokenizers.vocab import PATCH_SIZE


def image_tokens(image: Any, key: str = "image") -> TokenSequence:
    """uint8 [H, W, 1 or 3] (sides multiples of 16) -> IMAGE tokens in raster order, no loss,
    local_pos 0..n-1, raw pixels in `patches` and intervals in `patch_pos`."""
    patches, patch_pos = image_lib.patchify(image, key)
    seq = sequence.empty(len(patches))
    seq["modality"][:] = Modality.IMAGE
    seq["patches"][:] = patches
    seq["patch_pos"][:] = patch_pos
    seq["local_pos"][:] = np.arange(len(patches), dtype=np.int32)
    return seq


def text_ids(prompt: str, target: str, tokenizer: TextTokenizer | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(prompt ids [p], target ids + EOS [t + 1]), int32; an empty prompt gives no ids."""
    tokenizer = tokenizer or default_tokenizer()
    for name, value in (("prompt", prompt), ("target", target)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be str, got {type(value).__name__}")
    if not target:
        raise ValueError("target text is empty: a caption or answer needs at least one token")
    head = tokenizer.encode(prompt) if prompt else np.zeros(0, np.int32)
    tail = np.append(tokenizer.encode(target), np.int32(tokenizer.eos_id)).astype(np.int32)
    return head.astype(np.int32), tail


def tokenize_image_text(image: Any, prompt: str, target: str,
                        tokenizer: TextTokenizer | None = None) -> TokenSequence:
    """Patches of `image`, then `prompt` (no loss), then `target` + EOS (loss).

    `image` None leaves the patches out (a text-only example: the "image withheld" control).
    """
    head, tail = text_ids(prompt, target, tokenizer)
    parts = [] if image is None else [image_tokens(image)]
    parts += [sequence.from_ids(head, Modality.TEXT, loss=False),
              sequence.from_ids(tail, Modality.TEXT, loss=True)]
    return sequence.concat(parts)


def tokenize_caption(image: Any, caption: str,
                     tokenizer: TextTokenizer | None = None) -> TokenSequence:
    """A captioning example: patches, then caption + EOS, all caption tokens targets."""
    return tokenize_image_text(image, "", caption, tokenizer)


def tokenize_vqa(image: Any, question: str, answer: str,
                 tokenizer: TextTokenizer | None = None) -> TokenSequence:
    """A VQA example: patches, the question (context), then answer + EOS (targets)."""
    if not question:
        raise ValueError("VQA question is empty")
    return tokenize_image_text(image, question, answer, tokenizer)


def patch_count(image_shape: tuple[int, ...] | None) -> int:
    """Patch tokens of an image of `image_shape` [H, W, C] (None: no image)."""
    if image_shape is None:
        return 0
    return (image_shape[0] // PATCH_SIZE) * (image_shape[1] // PATCH_SIZE)


def example_length(image_shape: tuple[int, ...] | None, prompt: str, target: str,
                   tokenizer: TextTokenizer | None = None) -> int:
    """Tokens `tokenize_image_text` makes for an image of `image_shape` [H, W, C] (None: none)."""
    head, tail = text_ids(prompt, target, tokenizer)
    return patch_count(image_shape) + len(head) + len(tail)
