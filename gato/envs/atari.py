"""Atari 2600 games through ale-py (ROMs bundled with ale-py), wrapped as dm_env environments.

Preprocessing (DQN, Mnih et al. 2015; Machado et al. 2018 for sticky actions):
- frame skip: each agent step repeats the action for `frame_skip` = 4 emulator frames and sums
  the rewards; the observation is the pixel-wise max over the last two frames (removes flicker);
- sticky actions: `repeat_action_probability` (ALE's own), 0.0 by default, 0.25 in Machado et al.;
- no-op starts: up to `noop_max` random NOOP agent steps after reset, seeded by the env seed
  (default 30 as in DQN, so that episodes of a deterministic policy differ; 0 = off);
- colour: grayscale [H, W, 1] by default, or RGB [H, W, 3];
- resize: 210x160 -> `height` x `width` (default 80x80 = 25 patches of 16x16; both multiples of
  16) with PIL's antialiased bilinear filter;
- actions: the game's minimal action set by default (ids [0, num_actions)), or the full 18;
- episode cap: `max_episode_steps` agent steps (default 4500 = 18,000 frames = 5 minutes of
  play, the DQN evaluation cap); an episode ends at game over (termination) or at the cap
  (truncation, discount 1).

Observations are {"pixels": uint8 [H, W, C]}; `env.ram()` returns the 128-byte RAM and `env.ale`
is the `ale_py.ALEInterface` (RAM-reading experts use them).
"""

import dataclasses
import functools

import dm_env
import numpy as np
from dm_env import specs

from gato.envs.registry import Task, register
from gato.tokenizers.spec import TimestepSpec

SUITE = "atari"
MAX_EPISODE_STEPS = 4500


@dataclasses.dataclass(frozen=True)
class AtariConfig:
    """Preprocessing options; see the module docstring."""

    game: str
    frame_skip: int = 4
    repeat_action_probability: float = 0.0
    noop_max: int = 30
    grayscale: bool = True
    height: int = 80
    width: int = 80
    full_action_space: bool = False
    max_episode_steps: int = MAX_EPISODE_STEPS

    def __post_init__(self):
        if self.height % 16 or self.width % 16 or self.height <= 0 or self.width <= 0:
            raise ValueError(f"Atari frame size must be positive multiples of 16, got "
                             f"{self.height}x{self.width}")
        if self.frame_skip < 1 or self.max_episode_steps < 1 or self.noop_max < 0:
            raise ValueError(f"bad Atari config {self}")


class AtariEnv(dm_env.Environment):
    """One ALE game as a dm_env.Environment with the preprocessing of `AtariConfig`."""

    def __init__(self, config: AtariConfig, seed: int = 0):
        from ale_py import ALEInterface, LoggerMode, roms  # deferred: loads the emulator

        ALEInterface.setLoggerMode(LoggerMode.Error)
        if config.game not in roms.get_all_rom_ids():
            raise ValueError(f"unknown Atari game {config.game!r}; ale-py has "
                             f"{', '.join(sorted(roms.get_all_rom_ids()))}")
        self.config = config
        self.ale = ALEInterface()
        self.ale.setInt("random_seed", int(seed) % (2**31))
        self.ale.setFloat("repeat_action_probability", float(config.repeat_action_probability))
        self.ale.loadROM(roms.get_rom_path(config.game))
        ale = self.ale
        full = config.full_action_space
        self.actions = list(ale.getLegalActionSet() if full else ale.getMinimalActionSet())
        self._rng = np.random.default_rng(seed)
        height, width = self.ale.getScreenDims()
        self._frames = np.zeros((2, height, width, 3), np.uint8)
        self._steps = 0
        self._needs_reset = True

    def ram(self) -> np.ndarray:
        """The console's 128 bytes of RAM, uint8 [128]."""
        return self.ale.getRAM()

    def observation_spec(self) -> dict[str, specs.Array]:
        c = self.config
        shape = (c.height, c.width, 1 if c.grayscale else 3)
        return {"pixels": specs.Array(shape, np.uint8, name="pixels")}

    def action_spec(self) -> specs.DiscreteArray:
        return specs.DiscreteArray(len(self.actions), dtype=np.int32, name="action")

    def reset(self) -> dm_env.TimeStep:
        self.ale.reset_game()
        self._steps = 0
        self._needs_reset = False
        for _ in range(self._rng.integers(0, self.config.noop_max + 1)):
            self._act(0)
            if self.ale.game_over():
                self.ale.reset_game()
        self._grab(0)
        self._grab(1)
        return dm_env.restart(self._observation())

    def step(self, action) -> dm_env.TimeStep:
        if self._needs_reset:
            return self.reset()
        index = int(np.asarray(action).reshape(()))
        if not 0 <= index < len(self.actions):
            raise ValueError(f"action {index} outside [0, {len(self.actions)}) for "
                             f"{self.config.game}")
        reward = self._act(index)
        self._steps += 1
        obs = self._observation()
        if self.ale.game_over():
            self._needs_reset = True
            return dm_env.termination(reward, obs)
        if self._steps >= self.config.max_episode_steps:
            self._needs_reset = True
            return dm_env.truncation(reward, obs)
        return dm_env.transition(reward, obs)

    def _act(self, index: int) -> float:
        """Repeats action `index` for frame_skip frames; keeps the last two screens."""
        reward, skip, frame = 0.0, self.config.frame_skip, 0
        for frame in range(skip):
            reward += self.ale.act(self.actions[index])
            if self.ale.game_over():
                break
            if frame == skip - 2:
                self._grab(0)
        self._grab(1)
        if frame != skip - 1 or skip == 1:  # fewer than two frames this step: no pooling
            self._frames[0] = self._frames[1]
        return reward

    def _grab(self, slot: int) -> None:
        self.ale.getScreenRGB(self._frames[slot])

    def _observation(self) -> dict[str, np.ndarray]:
        return {"pixels": preprocess(self._frames.max(axis=0), self.config)}


def preprocess(frame: np.ndarray, config: AtariConfig) -> np.ndarray:
    """uint8 RGB [210, 160, 3] -> uint8 [height, width, 1 or 3] (grayscale per ITU-R 601-2)."""
    from PIL import Image

    image = Image.fromarray(frame)
    if config.grayscale:
        image = image.convert("L")
    image = image.resize((config.width, config.height), Image.Resampling.BILINEAR)
    out = np.asarray(image, np.uint8)
    return out[..., None] if out.ndim == 2 else out


def make_env(game: str, seed: int, **options) -> AtariEnv:
    """The Atari game `game` (an ale-py ROM id) with default preprocessing plus `options`."""
    return AtariEnv(AtariConfig(game=game, **options), seed)


# task name -> (ROM id, number of minimal actions)
GAMES: dict[str, tuple[str, int]] = {
    "boxing": ("boxing", 18),
    "breakout": ("breakout", 4),
    "freeway": ("freeway", 3),
    "pong": ("pong", 6),
}


def _register_all() -> None:
    for name, (game, num_actions) in GAMES.items():
        register(Task(
            name=name,
            suite=SUITE,
            spec=TimestepSpec(observation={"pixels": "image"}, action_kind="discrete",
                              action_shape=(), num_actions=num_actions),
            make_env=functools.partial(make_env, game),
            max_episode_steps=MAX_EPISODE_STEPS,
            description=f"Atari 2600 {game} (ale-py), 80x80 grayscale, frame skip 4",
        ))


_register_all()
