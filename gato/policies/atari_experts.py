"""RAM-reading scripted players for Atari games: no learning, no download.

Each reads object positions from the console RAM (`env.ram()`, 128 bytes; addresses as in
Anand et al. 2019, "Unsupervised State Representation Learning in Atari" (AtariARI)) and picks a
joystick action by name from the env's action set. Offsets and gains were tuned here by
measuring returns (see gato/envs/reference_scores.json for the result).

- pong: predict where the ball (RAM 49, 54) meets the paddle and move the paddle (RAM 51) there.
- breakout: keep the paddle (RAM 72) under the ball (RAM 99), FIRE to launch a new ball.
- boxing: stand diagonally beside the opponent (RAM 32-35), where punches land, and punch.
- freeway: walk the chicken up.
"""

import dm_env
import numpy as np


def _index(env, name: str) -> int:
    """Index of the action named `name` (e.g. "UPFIRE") in env.actions."""
    names = [a.name for a in env.actions]
    if name not in names:
        raise ValueError(f"action {name!r} not in {env.config.game} action set {names}")
    return names.index(name)


def _joystick(vertical: int, horizontal: int, fire: bool) -> str:
    """ALE action name for a joystick direction (-1/0/1 per axis; y grows downwards) and fire."""
    name = {-1: "UP", 0: "", 1: "DOWN"}[vertical] + {-1: "LEFT", 0: "", 1: "RIGHT"}[horizontal]
    name += "FIRE" if fire else ""
    return name or "NOOP"


class RamExpert:
    """Base: holds the env; subclasses map RAM -> action name in `choose`.

    With probability `epsilon` a uniformly random action replaces the scripted one (seeded by
    `reset`), so that episodes differ in games whose emulation is deterministic.
    """

    epsilon = 0.02

    def __init__(self, env: dm_env.Environment):
        self.env = env
        self.reset(0)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        del timestep  # the state is read from the emulator RAM
        index = _index(self.env, self.choose(self.env.ram().astype(np.int32)))
        if self._rng.random() < self.epsilon:
            index = int(self._rng.integers(len(self.env.actions)))
        return np.asarray(index, np.int32)

    def choose(self, ram: np.ndarray) -> str:
        """The scripted action's name (e.g. "UPFIRE") for RAM int32 [128]."""
        raise NotImplementedError


class PongExpert(RamExpert):
    """Predicts where the ball (RAM 49 x, 54 y) crosses the paddle's x, bouncing off the walls,
    and drives the paddle (RAM 51) there, braking with its velocity; RIGHT moves up.

    The paddle point aimed at (`offset` px below RAM 51) is redrawn from `offsets` for every
    incoming ball: returns leave at varied angles, which breaks endless rallies with the CPU.
    """

    paddle_x, top, bottom = 187, 44, 207
    offsets, damping, dead_zone, max_speed = (4, 16), 1.0, 2, 8
    epsilon = 0.0  # random presses lose points; the redrawn offsets already vary episodes

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._prev = None
        self._offset = float(np.mean(self.offsets))
        self._prev_vx = 0

    def choose(self, ram):
        bx, by, py = ram[49], ram[54], ram[51]
        prev, self._prev = self._prev, (bx, by, py)
        if prev is None or by == 0:
            return "FIRE"
        vx, vy = bx - prev[0], by - prev[1]
        vp = np.clip(py - prev[2], -self.max_speed, self.max_speed)  # RAM 51 jumps at the walls
        target = (self.top + self.bottom) / 2
        if vx > 0:
            if self._prev_vx <= 0:  # a new incoming ball
                self._offset = self._rng.uniform(*self.offsets)
            target = _reflect(by + vy * (self.paddle_x - bx) / vx, self.top, self.bottom)
        self._prev_vx = vx
        error = target - (py + self._offset) - self.damping * vp
        if abs(error) <= self.dead_zone:
            return "NOOP"
        return "LEFT" if error > 0 else "RIGHT"


def _reflect(y: float, lo: float, hi: float) -> float:
    """y folded into [lo, hi] as a ball bouncing between two walls would be."""
    span = hi - lo
    y = (y - lo) % (2 * span)
    return lo + (2 * span - y if y > span else y)


class BreakoutExpert(RamExpert):
    """Paddle x (RAM 72 + offset) follows ball x (RAM 99); FIRE when no ball is in play."""

    offset, dead_zone = 11, 5

    def choose(self, ram):
        if ram[101] == 0:  # no ball on screen: launch one
            return "FIRE"
        error = ram[99] - (ram[72] + self.offset)
        if abs(error) <= self.dead_zone:
            return "NOOP"
        return "RIGHT" if error > 0 else "LEFT"


class BoxingExpert(RamExpert):
    """Stand `reach` px beside the opponent (x: RAM 32 vs 33) and `offset` px above or below it
    (y: RAM 34 vs 35), where punches land (measured: hits land at |dx| 12-24, |dy| 8-20), and
    punch on every other step (a held button throws a single punch)."""

    reach, offset, tolerance = 20, 14, 3
    epsilon = 0.0  # random actions cost far more here; no-op starts already vary episodes

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._tick = 0

    def choose(self, ram):
        px, ex, py, ey = ram[32], ram[33], ram[34], ram[35]
        side_x = -1 if px <= ex else 1
        side_y = -1 if py <= ey else 1
        dx = ex + side_x * self.reach - px
        dy = ey + side_y * self.offset - py
        horizontal = 0 if abs(dx) <= self.tolerance else int(np.sign(dx))
        vertical = 0 if abs(dy) <= self.tolerance else int(np.sign(dy))
        self._tick += 1
        in_range = abs(dx) <= 2 * self.tolerance and abs(dy) <= 2 * self.tolerance
        return _joystick(vertical, horizontal, in_range and self._tick % 2 == 0)


class FreewayExpert(RamExpert):
    """Always UP: the chicken crosses ~every 2.6 s (the cars only push it back)."""

    def choose(self, ram):
        return "UP"


EXPERTS = {
    "boxing": BoxingExpert,
    "breakout": BreakoutExpert,
    "freeway": FreewayExpert,
    "pong": PongExpert,
}
