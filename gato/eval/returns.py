"""What return an agent with return-to-go tokens asks for, and MGDT's expert-action inference.

`gato eval --return-target T` (eval.return_target), parsed by `parse_return_target`:
  none        a model without return tokens: nothing. A model with them samples each timestep's
              return token from its own P(R | history), unweighted: it acts like its data.
  850         a fixed return (reward units) for the episode;
  0.9xexpert  a fraction of the task's reference expert return (`gato.envs.scores`);
  q0.9        a quantile (0..1) of the returns of the task's dataset episodes (eval.data_dir);
  expert      expert-action inference (Lee et al. 2022, Multi-Game DT, section 3.4): each
              timestep the return token is drawn from
                  P(R | history, expert) proportional to exp(kappa * u(R)) * P(R | history),
              u(R) = (R - R_low) / (R_high - R_low), the return's place between the lowest and
              the highest bin (`gato.tokenizers.returns.bin_positions`), at an inverse
              temperature beta (the logits are multiplied by beta), `samples` times; the highest
              draw is kept. The action is then decoded after it.
With a fixed, fraction or quantile target the episode starts from that return-to-go and
subtracts each reward it gets (R <- R - r), as in Decision Transformer; "none" and "expert"
draw afresh each timestep, as the released MGDT code does.

Defaults of the expert inference (`ExpertInference`) are those of the released MGDT code
(google-research/multi_game_dt): kappa 0, 128 samples, inverse temperature 0.75. With kappa 0 the
optimism comes from keeping the best of 128 draws alone; the paper's claim rests on kappa > 0.
"""

import dataclasses
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gato.tokenizers.returns import bin_positions
from gato.tokenizers.vocab import RETURN_BINS

RETURN_MODES = ("none", "return", "expert_fraction", "quantile", "expert")
SAMPLING_MODES = ("none", "expert")  # the return token is drawn from the model each timestep
_FRACTION = re.compile(r"^\s*([-+0-9.eE]+)\s*x\s*expert\s*$")
_QUANTILE = re.compile(r"^\s*q\s*([-+0-9.eE]+)\s*$")


@dataclasses.dataclass(frozen=True)
class ReturnTarget:
    """A parsed --return-target: mode (RETURN_MODES) and its number (return, fraction or
    quantile; 0 for "none" and "expert")."""

    mode: str
    value: float = 0.0

    def __post_init__(self):
        if self.mode not in RETURN_MODES:
            raise ValueError(f"return target mode {self.mode!r} not in {RETURN_MODES}")
        if self.mode == "quantile" and not 0.0 <= self.value <= 1.0:
            raise ValueError(f"return target quantile q{self.value} must be in [0, 1]")
        if not np.isfinite(self.value):
            raise ValueError(f"return target {self.value} must be finite")

    @property
    def samples_returns(self) -> bool:
        """Whether the return token is drawn from the model each timestep."""
        return self.mode in SAMPLING_MODES

    def __str__(self) -> str:
        return {"none": "none", "expert": "expert", "return": f"{self.value:g}",
                "expert_fraction": f"{self.value:g}xexpert",
                "quantile": f"q{self.value:g}"}[self.mode]


def parse_return_target(text: str | float | None) -> ReturnTarget:
    """ReturnTarget from "none", "expert", "0.9xexpert", "q0.9" or a return such as "850";
    raises ValueError naming the accepted forms."""
    if text is None:
        return ReturnTarget("none")
    if isinstance(text, int | float):
        return ReturnTarget("return", float(text))
    word = str(text).strip().lower()
    if word in ("none", "expert"):
        return ReturnTarget(word)
    try:
        if (match := _FRACTION.match(word)):
            return ReturnTarget("expert_fraction", float(match.group(1)))
        if (match := _QUANTILE.match(word)):
            return ReturnTarget("quantile", float(match.group(1)))
        return ReturnTarget("return", float(word))
    except ValueError as e:
        if "quantile" in str(e) or "finite" in str(e):
            raise
        raise ValueError(f"unknown return target {text!r}: expected none, a return (850), a "
                         f"fraction of the expert's return (0.9xexpert), a quantile of the "
                         f"dataset's returns (q0.9) or expert") from None


@dataclasses.dataclass(frozen=True)
class ExpertInference:
    """Options of expert-action inference (module docstring); defaults of the released code."""

    kappa: float = 0.0  # weight of exp(kappa * u(R)); 0 leaves P(R | history) as it is
    samples: int = 128  # returns drawn per timestep; the highest is kept
    inverse_temperature: float = 0.75  # multiplies the return logits (< 1 flattens them)

    def __post_init__(self):
        if not self.kappa >= 0:
            raise ValueError(f"expert inference: kappa must be >= 0, got {self.kappa}")
        if int(self.samples) < 1:
            raise ValueError(f"expert inference: samples must be >= 1, got {self.samples}")
        if not self.inverse_temperature > 0:
            raise ValueError(f"expert inference: the inverse temperature must be > 0, got "
                             f"{self.inverse_temperature}")


PLAIN = ExpertInference(kappa=0.0, samples=1, inverse_temperature=1.0)  # one draw of P(R | h)


def expert_logits(logits: jax.Array, kappa: float, inverse_temperature: float) -> jax.Array:
    """beta * (logits + kappa * u): logits [..., RETURN_BINS] of one draw of the re-weighted
    return distribution (before the best of `samples` is kept)."""
    u = jnp.asarray(bin_positions(), jnp.float32)
    return inverse_temperature * (logits.astype(jnp.float32) + kappa * u)


def expert_return_probs(logits: np.ndarray, options: ExpertInference) -> np.ndarray:
    """float64 [..., RETURN_BINS]: the exact distribution of the bin `sample_expert_returns`
    returns: the maximum of `samples` independent draws from softmax(expert_logits), whose
    cumulative distribution is F(b) ** samples."""
    z = np.asarray(expert_logits(jnp.asarray(logits), options.kappa,
                                 options.inverse_temperature), np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1) ** int(options.samples)
    return np.diff(cdf, axis=-1, prepend=0.0)


def sample_expert_returns(keys: jax.Array, logits: jax.Array, kappa: float, samples: int,
                          inverse_temperature: float) -> jax.Array:
    """int32 [B] bins in [0, RETURN_BINS): per row of logits [B, RETURN_BINS] (the model's
    return logits), the highest of `samples` draws from softmax(expert_logits); row b draws
    with keys[b] (uint32 [B, 2]), so rows do not depend on each other."""
    if logits.shape[-1] != RETURN_BINS:
        raise ValueError(f"return logits have {logits.shape[-1]} bins, expected {RETURN_BINS}")
    z = expert_logits(logits, kappa, inverse_temperature)

    def row(key: jax.Array, row_logits: jax.Array) -> jax.Array:
        draws = jax.random.categorical(key, row_logits, shape=(samples,))
        return jnp.max(draws)

    return jax.vmap(row)(keys, z).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class ReturnConditioning:
    """How a `ModelAgent` fills its return tokens: the target, the episode's starting
    return-to-go (fixed, fraction and quantile targets, reward units; None otherwise) and the
    options of the draws ("expert"; "none" draws once from P(R | history), `PLAIN`)."""

    target: ReturnTarget = ReturnTarget("none")
    initial: float | None = None
    inference: ExpertInference = ExpertInference()

    def __post_init__(self):
        if not self.target.samples_returns and self.initial is None:
            raise ValueError(f"return target {self.target} needs the episode's initial return")
        if self.initial is not None and not np.isfinite(self.initial):
            raise ValueError(f"initial return {self.initial} must be finite")

    @property
    def draws(self) -> ExpertInference:
        """The options of each timestep's return draw (sampling modes only)."""
        return self.inference if self.target.mode == "expert" else PLAIN


def initial_return(target: ReturnTarget, task_name: str,
                   dataset_returns: np.ndarray | None = None, protocol: Any = None
                   ) -> float | None:
    """The starting return-to-go of `target` for `task_name` (None when it is drawn each step);
    fractions of the expert's return read the reference table under `protocol` (default: the
    default protocol), quantiles need the returns of the task's dataset episodes."""
    if target.samples_returns:
        return None
    if target.mode == "return":
        return target.value
    if target.mode == "expert_fraction":
        from gato.envs import scores

        try:
            return target.value * float(scores.reference(task_name, protocol)["expert_mean"])
        except scores.ProtocolMismatchError as e:
            raise ValueError(f"return target {target}: no reference expert return of "
                             f"{task_name!r} under this evaluation's protocol ({e}); ask for a "
                             f"return or a quantile (q0.9) instead") from None
    if dataset_returns is None or len(dataset_returns) == 0:
        raise ValueError(f"return target {target} of task {task_name!r} needs the returns of "
                         f"its dataset episodes (eval.data_dir)")
    return float(np.quantile(np.asarray(dataset_returns, np.float64), target.value))


def dataset_returns(task_name: str, data_dir: str | None, split: str = "train") -> np.ndarray:
    """float64 [episodes]: the return of every episode of the task's RLDS dataset (from its
    manifest when it has one)."""
    from gato.data import formats
    from gato.data.formats.manifest import manifest_of
    from gato.data.pipeline.filtering import episode_returns

    episodes = formats.load_episodes(task_name, data_dir or None, split)
    return episode_returns(episodes, manifest_of(episodes))
