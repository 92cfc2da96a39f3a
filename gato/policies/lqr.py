"""LQR gains for MuJoCo models, linearized by finite differences around an equilibrium.

Used by the control experts to balance poles upright: the model is linearized with
`mujoco.mjd_transitionFD` over one physics step, composed over the `n_sub_steps` physics steps of
one control step (with the Euler integrator when the model uses RK4), and the discrete Riccati
equation is solved with scipy.
"""

import copy

import mujoco
import numpy as np
import scipy.linalg


def linearize(model: mujoco.MjModel, qpos: np.ndarray, n_sub_steps: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """Discrete (A [2nv, 2nv], B [2nv, nu]) of one control step around qpos at rest, ctrl=0."""
    model = copy.copy(model)
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER  # RK4 has no FD derivatives
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    n = 2 * model.nv + model.na
    a1, b1 = np.zeros((n, n)), np.zeros((n, model.nu))
    mujoco.mjd_transitionFD(model, data, 1e-6, True, a1, b1, None, None)
    a, b = np.eye(n), np.zeros((n, model.nu))
    for _ in range(n_sub_steps):
        a, b = a1 @ a, a1 @ b + b1
    return a, b


def lqr_gain(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """K [nu, n] such that u = -K x minimizes sum x'Qx + u'Ru for x' = Ax + Bu."""
    p = scipy.linalg.solve_discrete_are(a, b, q, r)
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
