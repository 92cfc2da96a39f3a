"""Batched rollouts: several environments of one task stepped in lockstep by one `Agent`.

The loop is the same for the model-backed agent and for scripted stand-ins, so tests of the loop
with an expert stand-in also cover the model path. An environment that raises while being built,
reset or stepped has its episode recorded with the error and is masked out; the others go on.
"""

import logging
from collections.abc import Sequence

import dm_env
import numpy as np

from gato.envs.registry import Task
from gato.eval.agent import Agent
from gato.tokenizers.sequence import TokenSequence

log = logging.getLogger(__name__)


def find_physics(env: object):
    """The MuJoCo `physics` of a (possibly wrapped) control environment, or None."""
    for _ in range(8):
        if env is None:
            return None
        physics = getattr(env, "physics", None)
        if physics is not None:
            return physics
        env = getattr(env, "_env", None) or getattr(env, "env", None) or getattr(
            env, "environment", None)
    return None


def render_frame(env: dm_env.Environment, timestep: dm_env.TimeStep, size: int
                 ) -> np.ndarray | None:
    """An RGB frame uint8 [H, W, 3]: the physics camera for control, the pixels for Atari."""
    physics = find_physics(env)
    if physics is not None:
        return np.asarray(physics.render(height=size, width=size, camera_id=0), np.uint8)
    obs = timestep.observation
    if isinstance(obs, dict) and "pixels" in obs:
        pixels = np.asarray(obs["pixels"], np.uint8)
        return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
    return None


def _start(task: Task, seed: int):
    """(env, first timestep, error) for one episode; errors are returned, not raised."""
    env = None
    try:
        env = task.make_env(seed)
        return env, env.reset(), None
    except Exception as e:  # noqa: BLE001 - a broken environment must not stop the evaluation
        log.warning("%s seed %d: environment failed to start: %r", task.name, seed, e)
        return env, None, f"{type(e).__name__} at reset: {e}"


class _Frames:
    """Collects frames of row 0 until `limit`; stops quietly if rendering fails."""

    def __init__(self, limit: int, size: int):
        self.limit, self.size, self.frames = limit, size, []

    def add(self, env, timestep) -> None:
        if len(self.frames) >= self.limit or env is None or timestep is None:
            return
        try:
            frame = render_frame(env, timestep, self.size)
        except Exception as e:  # noqa: BLE001 - rendering is optional (e.g. no GL backend)
            log.warning("rendering failed, no GIF frames: %r", e)
            self.limit = 0
            return
        if frame is not None:
            self.frames.append(frame)


def run_batch(task: Task, agent: Agent, seeds: Sequence[int], max_steps: int,
              prompt: TokenSequence | None = None, gif_frames: int = 0, gif_size: int = 128
              ) -> tuple[list[dict], list[np.ndarray]]:
    """Rolls out one episode per seed, all environments stepped together.

    Args:
      prompt: batched prompt tokens (every field [B, L, ...]) fed to the agent first, or None.
      gif_frames: number of frames of the first environment to keep (0: none).
    Returns:
      (episodes, frames): one record {"seed", "return", "length", "error", "success"} per
      seed, in order (success: the environment's `success` property at the episode's end, for
      suites that define one, e.g. BabyAI and Meta-World; else None), and the rendered frames
      of the first environment.
    """
    started = [_start(task, s) for s in seeds]
    envs = [e for e, _, _ in started]
    timesteps = [t for _, t, _ in started]
    errors = [err for _, _, err in started]
    active = np.array([err is None for err in errors])
    returns = np.zeros(len(seeds), np.float64)
    lengths = np.zeros(len(seeds), np.int64)
    frames = _Frames(gif_frames, gif_size)
    frames.add(envs[0], timesteps[0])
    agent.reset(len(seeds), prompt, envs=envs, seeds=list(seeds))
    for _ in range(max_steps):
        if not active.any():
            break
        actions = agent.act(timesteps, active)
        for i in np.flatnonzero(active):
            try:
                timesteps[i] = envs[i].step(actions[i])
            except Exception as e:  # noqa: BLE001 - record it, keep scoring the others
                log.warning("%s seed %d: environment failed at step %d: %r",
                            task.name, seeds[i], lengths[i], e)
                errors[i] = f"{type(e).__name__} at step {lengths[i]}: {e}"
                active[i] = False
                continue
            returns[i] += float(np.sum(timesteps[i].reward or 0.0))
            lengths[i] += 1
            active[i] = not timesteps[i].last()
        if active[0]:
            frames.add(envs[0], timesteps[0])
    success = [_success(env) if err is None else None for env, err in zip(envs, errors,
                                                                               strict=True)]
    for env in envs:
        _close(env)
    episodes = [{"seed": int(s), "return": float(r), "length": int(n), "error": err,
                 "success": ok}
                for s, r, n, err, ok in zip(seeds, returns, lengths, errors, success,
                                            strict=True)]
    return episodes, frames.frames


def _success(env) -> bool | None:
    """The episode's success flag where the environment defines one (a `success` property)."""
    value = getattr(env, "success", None)
    return None if value is None else bool(value)


def _close(env) -> None:
    try:
        if env is not None:
            env.close()
    except Exception as e:  # noqa: BLE001 - closing is best effort
        log.debug("closing environment failed: %r", e)
