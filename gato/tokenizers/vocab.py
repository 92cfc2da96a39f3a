"""The token vocabulary, defined in one place (Gato, Reed et al. 2022, section 2.1).

    [0, 32000)      text (SentencePiece subwords)
    [0, 1024)       discrete values (shares ids, and so embeddings, with text)
    [32000, 33024)  continuous values: 1024 mu-law bins
    33024           the separator between a timestep's observation and its action
"""

TEXT_VOCAB_SIZE = 32_000
DISCRETE_VOCAB_SIZE = 1_024
CONTINUOUS_OFFSET = TEXT_VOCAB_SIZE
CONTINUOUS_BINS = 1_024
SEPARATOR_ID = CONTINUOUS_OFFSET + CONTINUOUS_BINS  # 33024
VOCAB_SIZE = SEPARATOR_ID + 1  # 33025

PATCH_SIZE = 16  # image patches are PATCH_SIZE x PATCH_SIZE pixels
IMAGE_CHANNELS = 3  # patches are RGB in sequences; grayscale images are repeated to 3 channels
PATCH_POSITION_BUCKETS = 128  # patch row/column positions are quantized to this many buckets
