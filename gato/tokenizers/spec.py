"""How a task's observations and actions are tokenized: the contract between envs and tokenizers.

Observation keys are paths into a possibly nested dict, joined with "/" ("pixels",
"walker/orientations"); tokens follow the lexicographic order of these paths (Gato's ordering).
"""

import dataclasses
from collections.abc import Mapping

import numpy as np

from gato.tokenizers.returns import ReturnSpec
from gato.tokenizers.vocab import DISCRETE_VOCAB_SIZE, IMAGE_CHANNELS

KINDS = ("image", "discrete", "continuous", "text")
ACTION_KINDS = ("discrete", "continuous")


def check_frames(frame_stack: int, motion: bool) -> None:
    """Raises ValueError unless `frame_stack` frames fit an image patch's channels and `motion`
    (the frame and its change) comes with frame_stack 2."""
    if not 1 <= frame_stack <= IMAGE_CHANNELS:
        raise ValueError(f"frame_stack must be in [1, {IMAGE_CHANNELS}] (frames shown in an "
                         f"image patch's channels), got {frame_stack}")
    if motion and frame_stack != 2:
        raise ValueError(f"frame_motion needs frame_stack=2 (the frame and its change), "
                         f"got frame_stack={frame_stack}")


@dataclasses.dataclass(frozen=True)
class TimestepSpec:
    """Tokenization of one task's timesteps.

    Attributes:
      observation: key path -> kind, one of KINDS.
      action_kind: "discrete" (ids in [0, num_actions)) or "continuous" (mu-law bins).
      action_shape: shape of one action; it becomes prod(action_shape) tokens, row-major.
      num_actions: for discrete actions, the number of values each element takes (<= 1024).
      action_minimum, action_maximum: for continuous actions, the environment's bounds; decoded
        actions are clipped to them.
      returns: None (Gato's timestep: no return token) or the task's return-to-go tokens (range
        and placement, `gato.tokenizers.returns`); the registry's specs have None, and training
        and evaluation with return tokens set it per task (`gato.envs.returns`).
      frame_stack: 1 (Gato: each image is one frame) or 2-3: a single-channel (grayscale) image
        observation is shown with its predecessors in the patches' three channels, channel c
        holding frame t - min(c, frame_stack - 1), clamped at the episode's first frame
        (`gato.tokenizers.image.stack_frames`; the token count is unchanged). Callers stack
        before tokenizing (`gato.tokenizers.timestep.observation_steps`); the registry's specs
        have 1, and `data.frame_stack` sets it per run (`gato.envs.specs.task_spec`).
      frame_motion: with frame_stack 2, show the frame in two channels and its change since
        the previous frame in the third (128 + (f_t - f_t-1) / 2), instead of the previous frame:
        the current frame keeps two thirds of the patch encoder's input, as in Gato's repeated
        grayscale, and what moved is nonzero where the rest is flat (`data.frame_motion`).
      cell_radix: ((key, radix), ...): discrete keys whose last axis holds the components of
        one cell (BabyAI's view: object, colour, state, radix (11, 6, 3)); declared by the env.
      cells: show each such cell as one token (`gato.tokenizers.discrete.cells`: 49 tokens for
        BabyAI's 7 x 7 view instead of 147) rather than one token per component (Gato's and
        JAT's layout, the default); `data.grid_cells` sets it per run.
    """

    observation: Mapping[str, str]
    action_kind: str
    action_shape: tuple[int, ...]
    num_actions: int | None = None
    action_minimum: float | tuple[float, ...] | None = None
    action_maximum: float | tuple[float, ...] | None = None
    returns: ReturnSpec | None = None
    frame_stack: int = 1
    frame_motion: bool = False
    cell_radix: tuple[tuple[str, tuple[int, ...]], ...] = ()
    cells: bool = False

    def __post_init__(self):
        bad = {k: v for k, v in self.observation.items() if v not in KINDS}
        if bad:
            raise ValueError(f"unknown observation kinds {bad}; expected one of {KINDS}")
        if self.action_kind not in ACTION_KINDS:
            raise ValueError(f"action_kind {self.action_kind!r} not in {ACTION_KINDS}")
        if self.action_kind == "discrete" and not self.num_actions:
            raise ValueError("a discrete action spec needs num_actions")
        if self.returns is not None and not isinstance(self.returns, ReturnSpec):
            raise ValueError(f"returns must be a ReturnSpec or None, got {self.returns!r}")
        check_frames(self.frame_stack, self.frame_motion)
        for key, radix in self.cell_radix:
            if self.observation.get(key) != "discrete":
                raise ValueError(f"cell_radix names {key!r}, which is not a discrete observation")
            if int(np.prod(radix, dtype=np.int64)) > DISCRETE_VOCAB_SIZE:
                raise ValueError(f"cell_radix of {key!r}: {radix} makes more than "
                                 f"{DISCRETE_VOCAB_SIZE} ids")

    def with_returns(self, returns: ReturnSpec | None) -> "TimestepSpec":
        """This spec with return-to-go tokens `returns` (None: without)."""
        return dataclasses.replace(self, returns=returns)

    def with_frame_stack(self, frame_stack: int, motion: bool = False) -> "TimestepSpec":
        """This spec with grayscale images shown as their last `frame_stack` frames (with
        `motion`: the frame and its change since the previous one)."""
        return dataclasses.replace(self, frame_stack=int(frame_stack), frame_motion=bool(motion))

    def with_cells(self, cells: bool) -> "TimestepSpec":
        """This spec with its cell_radix keys shown one token per cell (or per component)."""
        return dataclasses.replace(self, cells=bool(cells))

    def radix(self, key: str) -> tuple[int, ...] | None:
        """The radix `key`'s cells are combined with under this spec, else None."""
        return dict(self.cell_radix).get(key) if self.cells else None

    @property
    def observation_keys(self) -> list[str]:
        """Key paths in token order (lexicographic)."""
        return sorted(self.observation)

    @property
    def action_size(self) -> int:
        """Number of action tokens per timestep."""
        return int(np.prod(self.action_shape, dtype=np.int64))
