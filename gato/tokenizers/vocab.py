"""The token vocabulary, defined in one place (Gato, Reed et al. 2022, section 2.1).

    [0, 32000)      text (SentencePiece subwords)
    [0, 1024)       discrete values (shares ids, and so embeddings, with text)
    [32000, 33024)  continuous values: 1024 mu-law bins
    33024           the separator between a timestep's observation and its action
    [33025, 33145)  return-to-go: 120 bins (only in models with return tokens,
                    `ModelConfig.return_tokens`; see `gato.tokenizers.returns`)

VOCAB_SIZE is the paper's vocabulary, the size of every model without return tokens; the return
bins follow it, so those models and their checkpoints are unchanged, and a model with return
tokens has RETURN_VOCAB_SIZE rows.
"""

TEXT_VOCAB_SIZE = 32_000
DISCRETE_VOCAB_SIZE = 1_024
CONTINUOUS_OFFSET = TEXT_VOCAB_SIZE
CONTINUOUS_BINS = 1_024
SEPARATOR_ID = CONTINUOUS_OFFSET + CONTINUOUS_BINS  # 33024
VOCAB_SIZE = SEPARATOR_ID + 1  # 33025
RETURN_OFFSET = VOCAB_SIZE  # 33025: first return-to-go bin
RETURN_BINS = 120  # return-to-go bins (Multi-Game DT's count; see gato.tokenizers.returns)
RETURN_VOCAB_SIZE = RETURN_OFFSET + RETURN_BINS  # 33145: vocabulary of models with return tokens

PATCH_SIZE = 16  # image patches are PATCH_SIZE x PATCH_SIZE pixels
IMAGE_CHANNELS = 3  # patches are RGB in sequences; grayscale images are repeated to 3 channels
PATCH_POSITION_BUCKETS = 128  # patch row/column positions are quantized to this many buckets
