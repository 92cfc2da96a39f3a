"""Tokenizers: one pure-numpy module per modality plus the timestep layout (Gato, section 2.1).

Modules: `vocab` (id ranges), `sequence` (TokenSequence), `spec` (TimestepSpec), `text`
(SentencePiece), `image` (16x16 patches), `discrete`, `continuous` (mu-law bins), `returns`
(return-to-go bins) and `timestep` (observation, separator, action; optionally a return token).
Re-exported here are the names other packages use.
"""

from gato.tokenizers import continuous, discrete, image, returns
from gato.tokenizers.returns import ReturnSpec
from gato.tokenizers.sequence import Modality, TokenSequence
from gato.tokenizers.spec import TimestepSpec
from gato.tokenizers.text import TextTokenizer, default_model_path, default_tokenizer
from gato.tokenizers.timestep import (
    action_token_range,
    detokenize_action,
    observation_steps,
    return_sequence,
    tokenize_action,
    tokenize_episode,
    tokenize_observation,
    tokenize_timestep,
    tokens_per_timestep,
)
from gato.tokenizers.vocab import (
    CONTINUOUS_BINS,
    CONTINUOUS_OFFSET,
    DISCRETE_VOCAB_SIZE,
    PATCH_SIZE,
    RETURN_BINS,
    RETURN_OFFSET,
    RETURN_VOCAB_SIZE,
    SEPARATOR_ID,
    TEXT_VOCAB_SIZE,
    VOCAB_SIZE,
)

__all__ = [
    "CONTINUOUS_BINS",
    "CONTINUOUS_OFFSET",
    "DISCRETE_VOCAB_SIZE",
    "PATCH_SIZE",
    "RETURN_BINS",
    "RETURN_OFFSET",
    "RETURN_VOCAB_SIZE",
    "SEPARATOR_ID",
    "TEXT_VOCAB_SIZE",
    "VOCAB_SIZE",
    "Modality",
    "ReturnSpec",
    "TextTokenizer",
    "TimestepSpec",
    "TokenSequence",
    "action_token_range",
    "continuous",
    "default_model_path",
    "default_tokenizer",
    "detokenize_action",
    "discrete",
    "image",
    "return_sequence",
    "returns",
    "tokenize_action",
    "tokenize_episode",
    "observation_steps",
    "tokenize_observation",
    "tokenize_timestep",
    "tokens_per_timestep",
]
