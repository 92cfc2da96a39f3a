"""Environment wrappers: rendered pixels for Control Suite tasks.

Rendering needs an OpenGL backend chosen before mujoco is imported: on a headless machine run
with MUJOCO_GL=osmesa (software, slow) or MUJOCO_GL=egl (GPU).
"""

import dm_env
import numpy as np
from dm_env import specs


class PixelObservation(dm_env.Environment):
    """Adds observation "pixels": uint8 [height, width, 3] from `physics.render` to a
    dm_control environment's observation dict (height and width multiples of 16 so the frame
    cuts into whole 16x16 patches)."""

    def __init__(self, env: dm_env.Environment, height: int = 64, width: int = 64,
                 camera_id: int = 0):
        if height % 16 or width % 16 or height <= 0 or width <= 0:
            raise ValueError(f"pixel size must be positive multiples of 16, got {height}x{width}")
        self._env = env
        self.physics = env.physics
        self.height, self.width, self.camera_id = height, width, camera_id

    def _add_pixels(self, timestep: dm_env.TimeStep) -> dm_env.TimeStep:
        obs = dict(timestep.observation)
        obs["pixels"] = np.asarray(
            self.physics.render(self.height, self.width, camera_id=self.camera_id), np.uint8)
        return timestep._replace(observation=obs)

    def reset(self) -> dm_env.TimeStep:
        return self._add_pixels(self._env.reset())

    def step(self, action) -> dm_env.TimeStep:
        return self._add_pixels(self._env.step(action))

    def observation_spec(self) -> dict[str, specs.Array]:
        spec = dict(self._env.observation_spec())
        spec["pixels"] = specs.Array((self.height, self.width, 3), np.uint8, name="pixels")
        return spec

    def action_spec(self) -> specs.BoundedArray:
        return self._env.action_spec()

    def close(self) -> None:
        self._env.close()
