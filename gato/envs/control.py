"""DeepMind Control Suite tasks (proprioceptive observations, continuous actions).

Every task is `suite.load(domain, task, task_kwargs={"random": seed})`: a `dm_env.Environment`
whose observations are the suite's dict of float64 arrays and whose actions are float arrays
bounded in [-1, 1]. Specs are declared by hand here so that registration stays cheap (no
environment is built at import); `tests/test_envs_spec.py` checks each against the real env.

Rendering needs an OpenGL backend: set MUJOCO_GL=osmesa (or egl) before importing mujoco, e.g.
`MUJOCO_GL=osmesa python -m ...`, to use `gato.envs.wrappers.PixelObservation`.
"""

import functools

import dm_env

from gato.envs.registry import Task, register
from gato.tokenizers.spec import TimestepSpec

SUITE = "control"
MAX_EPISODE_STEPS = 1000  # the suite's own time limit at its control timestep

# task name -> (domain, task, observation keys, action dimension)
TASKS: dict[str, tuple[str, str, tuple[str, ...], int]] = {
    "acrobot-swingup": ("acrobot", "swingup", ("orientations", "velocity"), 1),
    "ball_in_cup-catch": ("ball_in_cup", "catch", ("position", "velocity"), 2),
    "cartpole-balance": ("cartpole", "balance", ("position", "velocity"), 1),
    "cartpole-swingup": ("cartpole", "swingup", ("position", "velocity"), 1),
    "cheetah-run": ("cheetah", "run", ("position", "velocity"), 6),
    "finger-spin": ("finger", "spin", ("position", "touch", "velocity"), 2),
    "pendulum-swingup": ("pendulum", "swingup", ("orientation", "velocity"), 1),
    "point_mass-easy": ("point_mass", "easy", ("position", "velocity"), 2),
    "reacher-easy": ("reacher", "easy", ("position", "to_target", "velocity"), 2),
    "reacher-hard": ("reacher", "hard", ("position", "to_target", "velocity"), 2),
    "walker-walk": ("walker", "walk", ("height", "orientations", "velocity"), 6),
}


def make_spec(keys: tuple[str, ...], action_dim: int) -> TimestepSpec:
    """All observations continuous; actions continuous in [-1, 1]^action_dim."""
    return TimestepSpec(
        observation={k: "continuous" for k in keys},
        action_kind="continuous",
        action_shape=(action_dim,),
        action_minimum=(-1.0,) * action_dim,
        action_maximum=(1.0,) * action_dim,
    )


def load(domain: str, task: str, seed: int) -> dm_env.Environment:
    """The suite environment for (domain, task) with its task randomness seeded by `seed`."""
    from dm_control import suite  # deferred: importing mujoco costs ~1 s

    return suite.load(domain, task, task_kwargs={"random": int(seed)})


def _register_all() -> None:
    for name, (domain, task, keys, action_dim) in TASKS.items():
        register(Task(
            name=name,
            suite=SUITE,
            spec=make_spec(keys, action_dim),
            make_env=functools.partial(load, domain, task),
            max_episode_steps=MAX_EPISODE_STEPS,
            description=f"dm_control suite {domain}/{task}, proprioceptive observations",
        ))


_register_all()
