"""Scripted experts for Control Suite tasks: classical controllers, no learning, no download.

- Swing-up (cartpole, pendulum): energy shaping pumps the pole's energy up to that of the upright
  rest state; near upright an LQR (linearized from the env's own MuJoCo model) balances it.
- point_mass: a PD controller toward the target.
- reacher: damped least-squares inverse kinematics plus joint PD toward the target.

Each expert reads only its observation at `step`; the env is used once, at construction, for
model constants (inertia, gravity torque, LQR gains, target position).
"""

from collections.abc import Callable, Sequence

import dm_env
import mujoco
import numpy as np

from gato.policies import lqr

StateFn = Callable[[dict], tuple[np.ndarray, np.ndarray]]


def _pole_constants(physics, dof: int) -> tuple[float, float]:
    """(inertia about the hinge [kg m^2], max gravity torque m*g*l [N m]) of the pole joint."""
    model = physics.model.ptr
    data = mujoco.MjData(model)
    data.qpos[dof] = np.pi / 2
    mujoco.mj_forward(model, data)
    full = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, full, data.qM)  # mujoco 3.3 signature (dst, M)
    return float(full[dof, dof]), abs(float(data.qfrc_bias[dof]))


class SwingUpExpert:
    """Energy-shaping swing-up plus LQR balance for a pole on the last hinge (angle 0 = upright).

    Args:
      env: the dm_control env (its physics gives the pole's inertia, gravity torque, and the LQR
        linearization around upright).
      state_fn: observation -> (qpos [nv], qvel [nv]).
      q_diag: LQR state cost diagonal over (qpos, qvel); the control cost is the identity.
      gain: energy-pumping gain [1/J]; its sign depends on how the actuator drives the pole.
      centering: (position, velocity) gains pulling a cart back to the rail's centre.
      switch_cos: cos(angle) above which the LQR takes over from energy pumping.
    """

    def __init__(self, env: dm_env.Environment, state_fn: StateFn, q_diag: Sequence[float],
                 gain: float, centering: tuple[float, float] = (0.0, 0.0),
                 switch_cos: float = 0.85):
        physics = env.physics
        model = physics.model.ptr
        self.dof = model.nv - 1
        self.state_fn = state_fn
        self.inertia, self.mgl = _pole_constants(physics, self.dof)
        sub_steps = round(env.control_timestep() / model.opt.timestep)
        a, b = lqr.linearize(model, np.zeros(model.nq), sub_steps)
        self.k = lqr.lqr_gain(a, b, np.diag(q_diag), np.eye(model.nu))
        self.gain, self.centering, self.switch_cos = gain, centering, switch_cos

    def reset(self, seed: int) -> None:
        del seed

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        qpos, qvel = self.state_fn(timestep.observation)
        theta, omega = qpos[self.dof], qvel[self.dof]
        if np.cos(theta) > self.switch_cos:
            angle = np.arctan2(np.sin(theta), np.cos(theta))
            x = np.concatenate([qpos[:self.dof], [angle], qvel])
            u = -self.k @ x
        else:
            energy = 0.5 * self.inertia * omega**2 + self.mgl * np.cos(theta)
            # Power into the pole: torque * omega directly, or via the cart's push ~ cos(theta).
            direction = omega * np.cos(theta) if self.dof else omega
            pump = self.gain * (self.mgl - energy) * (np.sign(direction) or 1.0)
            u = np.array([pump])
            if self.dof:  # cart: keep it near the centre of the rail
                u = u - self.centering[0] * qpos[0] - self.centering[1] * qvel[0]
        return np.clip(u, -1.0, 1.0)


def _cartpole_state(obs):
    pos, vel = obs["position"], obs["velocity"]
    return np.array([pos[0], np.arctan2(pos[2], pos[1])]), np.asarray(vel)


def _pendulum_state(obs):
    cos, sin = obs["orientation"]
    return np.array([np.arctan2(sin, cos)]), np.asarray(obs["velocity"])


def cartpole(env: dm_env.Environment) -> SwingUpExpert:
    return SwingUpExpert(env, _cartpole_state, q_diag=(1.0, 10.0, 1.0, 1.0), gain=-5.0,
                         centering=(0.5, 0.5), switch_cos=0.7)


def pendulum(env: dm_env.Environment) -> SwingUpExpert:
    return SwingUpExpert(env, _pendulum_state, q_diag=(10.0, 1.0), gain=100.0, switch_cos=0.9)


class PointMassExpert:
    """PD control of the mass toward the target: u = clip(kp (target - pos) - kd vel)."""

    def __init__(self, env: dm_env.Environment, kp: float = 10.0, kd: float = 3.0):
        self.target = np.array(env.physics.named.model.geom_pos["target", :2])
        self.kp, self.kd = kp, kd

    def reset(self, seed: int) -> None:
        del seed

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        obs = timestep.observation
        u = self.kp * (self.target - obs["position"]) - self.kd * obs["velocity"]
        return np.clip(u, -1.0, 1.0)


class ReacherExpert:
    """Damped least-squares IK + joint PD for the two-link arm (0.12 m links).

    dq = J^T (J J^T + lam^2 I)^-1 to_target, u = clip(kp dq - kd qvel); the damping keeps the
    step finite near the stretched-arm singularity where Jacobian-transpose control stalls.
    """

    def __init__(self, env: dm_env.Environment | None = None, kp: float = 10.0,
                 kd: float = 0.3, lam: float = 0.1, link: float = 0.12):
        del env
        self.kp, self.kd, self.lam, self.link = kp, kd, lam, link

    def reset(self, seed: int) -> None:
        del seed

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        obs = timestep.observation
        q1, q2 = obs["position"]
        s1, c1 = np.sin(q1), np.cos(q1)
        s12, c12 = np.sin(q1 + q2), np.cos(q1 + q2)
        jac = self.link * np.array([[-s1 - s12, -s12], [c1 + c12, c12]])
        gram = jac @ jac.T + self.lam**2 * np.eye(2)
        dq = jac.T @ np.linalg.solve(gram, obs["to_target"])
        return np.clip(self.kp * dq - self.kd * obs["velocity"], -1.0, 1.0)


# task name -> env -> expert
EXPERTS = {
    "cartpole-balance": cartpole,
    "cartpole-swingup": cartpole,
    "pendulum-swingup": pendulum,
    "point_mass-easy": PointMassExpert,
    "reacher-easy": ReacherExpert,
    "reacher-hard": ReacherExpert,
}
