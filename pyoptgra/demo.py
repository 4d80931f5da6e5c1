"""The demonstration run by ``python -m pyoptgra``: a small planar transfer around a keep-out zone.

A point mass (a planar double integrator, p'' = a) moves from rest at the origin to rest at
(1, 0) in unit time, with the acceleration constant over each of N segments, and must stay
outside a disc of radius 0.2 centred at (0.5, 0).  Minimise the control energy
``sum(|a_k|^2) dt``.  The transcription is direct: the variables are the positions and velocities at
the N + 1 nodes and the N accelerations; the dynamics are linear equality constraints (exact for
piecewise-constant acceleration), the keep-out zone one nonlinear inequality per interior node.
"""

from __future__ import annotations

import sys
from typing import List, Optional

import numpy as np
import pygmo

from .optgra import optgra
from .plotting import plot_history
from .result import Result

__all__ = ["PlanarTransfer", "main"]


class PlanarTransfer:
    """pygmo UDP of the transfer with ``segments`` segments (see the module docstring)."""

    def __init__(self, segments: int = 10, centre=(0.5, 0.0), radius: float = 0.2) -> None:
        self.segments = segments
        self.centre = np.asarray(centre, dtype=float)
        self.radius = radius
        self.dt = 1.0 / segments

    # layout: node k has ``(x, y, vx, vy)`` at 4k..4k+3; segment k has (ax, ay) after the nodes
    def _split(self, z: np.ndarray):
        n_nodes = self.segments + 1
        states = z[: 4 * n_nodes].reshape(n_nodes, 4)
        controls = z[4 * n_nodes :].reshape(self.segments, 2)
        return states, controls

    def get_nx(self) -> int:
        return 4 * (self.segments + 1) + 2 * self.segments

    def get_nec(self) -> int:
        return 8 + 4 * self.segments

    def get_nic(self) -> int:
        return self.segments - 1

    def get_bounds(self):
        n_nodes = self.segments + 1
        lower = np.concatenate([np.tile([-2.0, -2.0, -5.0, -5.0], n_nodes), np.full(2 * self.segments, -50.0)])
        return (lower, -lower)

    def fitness(self, z) -> List[float]:
        z = np.asarray(z, dtype=float)
        states, controls = self._split(z)
        p, v = states[:, :2], states[:, 2:]
        dt = self.dt
        energy = float(np.sum(controls**2) * dt)
        boundary = np.concatenate([states[0], states[-1] - [1.0, 0.0, 0.0, 0.0]])
        position_defects = p[1:] - p[:-1] - 0.5 * dt * (v[:-1] + v[1:])
        velocity_defects = v[1:] - v[:-1] - dt * controls
        keep_out = self.radius**2 - np.sum((p[1:-1] - self.centre) ** 2, axis=1)
        return [energy, *boundary, *np.hstack([position_defects, velocity_defects]).ravel(), *keep_out]

    def gradient(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        states, controls = self._split(z)
        n, dt, segments = self.get_nx(), self.dt, self.segments
        state = lambda k, i: 4 * k + i  # noqa: E731 - index of component i of node k
        control = lambda k, i: 4 * (segments + 1) + 2 * k + i  # noqa: E731
        jacobian = np.zeros((1 + self.get_nec() + self.get_nic(), n))
        jacobian[0, 4 * (segments + 1) :] = 2.0 * controls.ravel() * dt
        for i in range(4):
            jacobian[1 + i, state(0, i)] = 1.0
            jacobian[5 + i, state(segments, i)] = 1.0
        row = 9
        for k in range(segments):
            for i in range(2):  # position defects of segment k, then velocity defects
                jacobian[row + i, state(k + 1, i)] = 1.0
                jacobian[row + i, state(k, i)] = -1.0
                jacobian[row + i, state(k, 2 + i)] = -0.5 * dt
                jacobian[row + i, state(k + 1, 2 + i)] = -0.5 * dt
                jacobian[row + 2 + i, state(k + 1, 2 + i)] = 1.0
                jacobian[row + 2 + i, state(k, 2 + i)] = -1.0
                jacobian[row + 2 + i, control(k, i)] = -dt
            row += 4
        for k in range(1, segments):
            offset = states[k, :2] - self.centre
            jacobian[row, state(k, 0)] = -2.0 * offset[0]
            jacobian[row, state(k, 1)] = -2.0 * offset[1]
            row += 1
        return jacobian.ravel()

    def straight_line_start(self) -> np.ndarray:
        """Constant speed along the straight line through the keep-out zone (infeasible)."""
        t = np.linspace(0.0, 1.0, self.segments + 1)
        states = np.column_stack([t, 0.02 * np.ones_like(t), np.ones_like(t), np.zeros_like(t)])
        return np.concatenate([states.ravel(), np.zeros(2 * self.segments)])


def main(argv: Optional[List[str]] = None, plot_path: str = "pyoptgra_convergence.png") -> Result:
    """Solve the transfer, print the log table and the result, save the convergence plot."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        plot_path = argv[0]
    udp = PlanarTransfer()
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-8] * problem.get_nc()
    print("pyoptgra demo: minimum-energy planar transfer around a keep-out zone")
    print(f"  {problem.get_nx()} variables, {problem.get_nec()} equality and {problem.get_nic()} inequality constraints\n")
    algo = optgra(max_iterations=100)
    algo.set_verbosity(10)
    result = algo.solve(problem, udp.straight_line_start())
    print()
    print(result)
    states, _ = udp._split(result.x)
    closest = np.min(np.linalg.norm(states[1:-1, :2] - udp.centre, axis=1))
    print(f"closest approach to the keep-out centre: {closest:.6f} (radius {udp.radius})")
    try:
        figure = plot_history(result)
    except ImportError as exc:
        print(f"no convergence plot: {exc}")
    else:
        figure.savefig(plot_path, dpi=100)
        print(f"convergence plot saved to {plot_path}")
    return result
