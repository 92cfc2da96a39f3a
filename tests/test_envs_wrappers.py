"""PixelObservation renders uint8 frames of the requested size (software GL in a subprocess)."""

import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np
from gato.envs import registry
from gato.envs.wrappers import PixelObservation
env = PixelObservation(registry.get("cartpole-swingup").make_env(0), height=48, width=32)
ts = env.reset()
pixels = ts.observation["pixels"]
assert pixels.shape == (48, 32, 3) and pixels.dtype == np.uint8, pixels.shape
assert pixels.std() > 0, "blank frame"
assert env.observation_spec()["pixels"].shape == (48, 32, 3)
ts = env.step(np.zeros(1))
assert ts.observation["pixels"].shape == (48, 32, 3) and "position" in ts.observation
print("ok")
"""


def test_pixel_observation_renders(subprocess_env):
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=subprocess_env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]


def test_pixel_size_must_be_patch_multiple():
    from gato.envs.wrappers import PixelObservation

    class _Fake:
        physics = None

    with pytest.raises(ValueError, match="multiples of 16"):
        PixelObservation(_Fake(), height=50, width=64)
