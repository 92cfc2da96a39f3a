"""Return-to-go tokens (Decision Transformer, Chen et al. 2021; Multi-Game DT, Lee et al. 2022).

Return-to-go. With the RLDS alignment (reward r_t follows the action a_t taken at step t),
R_t = r_t + r_{t+1} + ... + r_{T-1}, undiscounted: R_0 is the episode's return and
R_t - R_{t+1} = r_t. A rollout starts from a target return and subtracts each reward it gets.

Normalisation per task. Returns differ in scale between tasks (control 0..1000, Pong -21..21),
so every task has a return range [low, high] (`ReturnSpec`), and a return R is placed at
u = (R - low) / (high - low), clipped to [0, 1]. Where a task's range comes from is the
caller's choice; `gato.envs.returns` gives the default (the reference table of measured expert
and random returns: known without any dataset, the same in training and evaluation, so a
checkpoint's return tokens keep their meaning whatever data it was trained on).

Binning. u is cut into RETURN_BINS = 120 uniform bins (bin b holds u in [b, b + 1) / 120; u = 1
falls in the last); bin b is token id RETURN_OFFSET + b, and its value, the inverse, is the bin
centre low + (b + 0.5) * (high - low) / 120. Why 120 linear bins: MGDT used 120 bins of one point
each over [-20, 100] (sign-clipped Atari returns). Here a bin is 1/120 of the task's range, under
1% of the expert's return with the default range: fine enough to ask for returns 5% apart (6
bins), coarse enough that a few hundred episodes visit every bin of their range many times (each
bin is an embedding row, learnt from the timesteps whose return-to-go falls in it). Linear, not
mu-law: what one asks for is a return or a fraction of the expert's, and a log scale would spend
most bins on the small returns-to-go of an episode's last steps, where the action matters least.

Placement in the timestep (`PLACEMENTS`, a field of `ReturnSpec`):
  "after_observation" (default): [observation][RETURN][SEPARATOR][actions]. The released MGDT
      code (google-research/multi_game_dt) orders a timestep observation, return, action, reward
      and predicts the return from the last observation token, P(R_t | history, o_t):
      expert-action inference re-weights a return distribution that has seen o_t.
  "before_observation": [RETURN][observation][SEPARATOR][actions], the order of Decision
      Transformer and of the usual summary of MGDT ([return, observation, action, reward]): the
      return is predicted from the previous timestep's last token, before o_t is seen.
Either way the return token is a loss target (the model predicts it; modality RETURN) and is not
an action or an observation token (no action or local position encoding).
"""

import dataclasses

import numpy as np

from gato.tokenizers.vocab import RETURN_BINS, RETURN_OFFSET

PLACEMENTS = ("after_observation", "before_observation")


@dataclasses.dataclass(frozen=True)
class ReturnSpec:
    """Return-to-go tokens of one task: its return range and where the token sits.

    Attributes:
      low, high: the returns at the bottom of the first bin and the top of the last one (reward
        units); returns outside are clipped into the end bins.
      placement: one of PLACEMENTS (module docstring).
    """

    low: float
    high: float
    placement: str = "after_observation"

    def __post_init__(self):
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high > self.low):
            raise ValueError(f"return range [{self.low}, {self.high}] must be finite with "
                             "high > low")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"return token placement {self.placement!r} not in {PLACEMENTS}")

    @property
    def bin_width(self) -> float:
        """Return units per bin: (high - low) / RETURN_BINS."""
        return (self.high - self.low) / RETURN_BINS


def return_to_go(rewards: np.ndarray) -> np.ndarray:
    """float64 [T]: R_t = sum of rewards [T] from t to the end (undiscounted)."""
    rewards = np.asarray(rewards, np.float64)
    if rewards.ndim != 1:
        raise ValueError(f"rewards must be [T], got shape {rewards.shape}")
    return np.cumsum(rewards[::-1])[::-1].copy()


def normalize(returns: np.ndarray, spec: ReturnSpec) -> np.ndarray:
    """float64 [...]: (R - low) / (high - low), clipped to [0, 1]."""
    return np.clip((np.asarray(returns, np.float64) - spec.low) / (spec.high - spec.low), 0, 1)


def to_bins(returns: np.ndarray, spec: ReturnSpec) -> np.ndarray:
    """int32 [...] bins in [0, RETURN_BINS) of returns [...] (reward units)."""
    returns = np.asarray(returns, np.float64)
    if not np.all(np.isfinite(returns)):
        raise ValueError("returns must be finite")
    bins = np.floor(normalize(returns, spec) * RETURN_BINS)
    return np.minimum(bins, RETURN_BINS - 1).astype(np.int32)


def from_bins(bins: np.ndarray, spec: ReturnSpec) -> np.ndarray:
    """float64 [...]: the centre return of each bin (the inverse of `to_bins` up to half a bin)."""
    bins = np.asarray(bins)
    if bins.size and (bins.min() < 0 or bins.max() >= RETURN_BINS):
        raise ValueError(f"return bins must be in [0, {RETURN_BINS}), got {bins}")
    return spec.low + (bins.astype(np.float64) + 0.5) * spec.bin_width


def tokenize(returns: np.ndarray, spec: ReturnSpec) -> np.ndarray:
    """int32 [...] token ids in [RETURN_OFFSET, RETURN_OFFSET + RETURN_BINS)."""
    return (RETURN_OFFSET + to_bins(returns, spec)).astype(np.int32)


def detokenize(ids: np.ndarray, spec: ReturnSpec) -> np.ndarray:
    """float64 [...]: the return (bin centre) of each return token id."""
    ids = np.asarray(ids)
    lo, hi = token_range()
    if ids.size and (ids.min() < lo or ids.max() >= hi):
        raise ValueError(f"return token ids must be in [{lo}, {hi}), got {ids}")
    return from_bins(ids - RETURN_OFFSET, spec)


def token_range() -> tuple[int, int]:
    """Half-open range [lo, hi) of return token ids."""
    return RETURN_OFFSET, RETURN_OFFSET + RETURN_BINS


def bin_positions() -> np.ndarray:
    """float64 [RETURN_BINS]: each bin's place in the range, (R_b - R_0) / (R_last - R_0) =
    b / (RETURN_BINS - 1), from 0 (lowest bin) to 1 (highest); the normalised return of
    expert-action inference (`gato.eval.returns`)."""
    return np.linspace(0.0, 1.0, RETURN_BINS)
