"""Image-text windows: vision-language examples packed into training windows.

A window is whole examples (`gato.tokenizers.vision_language`: patches, prompt, target + EOS,
loss on the target only), never one cut in two, padded to seq_len. Window i packs the records at
positions i, i + 1, ... of a fixed permutation of the dataset (wrapping around) while they fit;
of each record it takes one of its texts (a caption or a question/answer pair), drawn from
`default_rng([seed, i, record])`. So a window is a pure function of its index, neighbouring
windows share records but not, in general, texts, and the mixture samples window indices
exactly as it samples text chunks (`ImageTextWindows` has `TextChunks`' len and `chunk`).

The vision_language suite's task reads data.vision_language (default "minigrid-scenes", the
project's dataset; or any prepared TFDS dataset of the coco_captions layout, e.g.
"coco_captions/2014") from data.data_dir at data.split, its images brought to
data.vision_language_image_size pixels a side (default 64, 16 patches).
"""

from typing import Any

import numpy as np

from gato.data.pipeline.examples import TaskData
from gato.data.pipeline.windows import BadEpisodeError
from gato.tokenizers import sequence as seqlib
from gato.tokenizers.vision_language import tokenize_image_text

SUITE = "vision_language"
_ORDER_SALT = 0x1A7E


class ImageTextWindows:
    """Random access to packed image-text windows of `seq_len` tokens: len(), chunk(i).

    Args:
      source: random access, [i] -> `gato.data.formats.captions.ImageText`.
      seq_len: tokens per window.
      seed: fixes the record order and the texts drawn (the data, not the run's seed).
    """

    def __init__(self, source: Any, seq_len: int, seed: int = 0):
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        if len(source) == 0:
            raise ValueError(f"image-text source {source!r} holds no examples")
        self.source = source
        self.seq_len = seq_len
        self.seed = seed
        self.order = np.random.default_rng([_ORDER_SALT, seed]).permutation(len(source))

    def __len__(self) -> int:
        return len(self.order)

    def example(self, window: int, record: int) -> seqlib.TokenSequence | None:
        """Record `record` with the text window `window` draws for it (None: it has no text)."""
        try:
            item = self.source[int(record)]
        except Exception as e:
            where = getattr(self.source, "locate", lambda i: f"example {i}")(int(record))
            raise BadEpisodeError(f"image-text {where}: {type(e).__name__}: {e}") from e
        texts = item.texts()
        if not texts:
            return None
        prompt, target = texts[np.random.default_rng([self.seed, window, int(record)])
                               .integers(len(texts))]
        return tokenize_image_text(item.image, prompt, target)

    def chunk(self, index: int) -> seqlib.TokenSequence:
        """Window `index`: whole examples from position `index` on, padded to seq_len."""
        if not 0 <= index < len(self):
            raise IndexError(f"image-text window {index} out of range [0, {len(self)})")
        parts, used = [], 0
        for k in range(len(self)):
            seq = self.example(index, self.order[(index + k) % len(self)])
            if seq is None:
                continue
            n = seqlib.length(seq)
            if used + n > self.seq_len:
                if not parts:
                    raise ValueError(f"an image-text example of {n} tokens does not fit in "
                                     f"seq_len={self.seq_len}; use smaller images "
                                     "(data.vision_language_image_size) or longer windows")
                break
            parts.append(seq)
            used += n
        if not parts:
            raise ValueError(f"image-text source {self.source!r} has no captions or questions")
        return seqlib.pad_to(seqlib.concat(parts), self.seq_len)


def load_source(data_config: Any, split: str | None = None) -> Any:
    """The image-text examples data_config names (see the module docstring) for `split`
    (default data.split)."""
    from gato.data.formats.captions import load_image_text

    return load_image_text(data_config.vision_language, data_config.data_dir,
                           split or data_config.split,
                           int(data_config.vision_language_image_size))


def image_text_task(name: str, data_config: Any, seq_len: int) -> TaskData:
    """TaskData of a vision_language task: its windows as `chunks`, as text tasks have."""
    dataset = data_config.vision_language
    windows = ImageTextWindows(load_source(data_config), seq_len)
    return TaskData(name, SUITE, chunks=windows,
                    where=f"image-text dataset {dataset!r}, data_dir {data_config.data_dir}")
