"""The default direction (optimization_method=2) is a limited-memory quasi-Newton one: the
L-BFGS inverse Hessian of the last moves between linearisation points, applied to the projected
merit gradient and projected again onto the null space of the active set."""

import logging

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra


def solve(name: str, method: int):
    udp = H.get_problem(name)
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-6] * problem.get_nc()
    x0 = np.clip(type(udp).x0, *problem.get_bounds())
    result = pyoptgra.optgra(optimization_method=method, max_iterations=500).solve(problem, x0)
    solved = abs(result.fitness[0] - udp.f_star) <= 1e-6 * max(1.0, abs(udp.f_star))
    return solved, result.evaluations["gradient"]


@pytest.mark.parametrize("name", ["hs001", "hs038"])
def test_the_quasi_newton_direction_follows_curved_valleys(name):
    """Rosenbrock's (HS 1) and Wood's (HS 38) functions from their published starts: curved
    valleys where one conjugate step's memory is too short.  The quasi-Newton direction reaches
    f* with fewer gradients than steepest ascent and either conjugate method (the spectral CG
    direction that method 2 was before needed 143 on Wood's function, steepest ascent 115)."""
    solved, gradients = solve(name, 2)
    assert solved
    for other in (0, 1, 3):
        _, other_gradients = solve(name, other)
        assert gradients < other_gradients, f"method {other}: {other_gradients} gradients, method 2: {gradients}"


class RosenbrockOnAPlane:
    """Extended Rosenbrock in 6 variables on the plane sum x = 6; records every point."""

    n = 6

    def __init__(self) -> None:
        self.points: list[np.ndarray] = []

    def fitness(self, x):
        self.points.append(np.array(x))
        f = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        return [f, np.sum(x) - self.n]

    def gradient(self, x):
        g = np.zeros(self.n)
        g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
        g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
        return np.concatenate([g, np.ones(self.n)])

    def get_bounds(self):
        return ([-5.0] * self.n, [5.0] * self.n)

    def get_nec(self):
        return 1


def test_a_quasi_newton_run_on_a_plane_stays_on_it():
    """With one linear equality always active, the curvature pairs are built from moves on the
    plane and from projected gradients, so H g lies on the plane as well: no point the run
    evaluates leaves it by more than rounding.  (Pairs taken across a change of the active set
    are what the projection P H g is for; the probe and honesty tests notice its absence.)"""
    udp = RosenbrockOnAPlane()
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-9]
    start = np.array([-1.2, 1.0, -1.2, 1.0, 2.2, 4.2])  # on the plane
    result = pyoptgra.optgra(max_iterations=500).solve(problem, start)
    recorded = problem.extract(RosenbrockOnAPlane).points
    assert len(recorded) == result.evaluations["fitness"] > 10
    assert max(abs(np.sum(x) - udp.n) for x in recorded) <= 1e-12


@pytest.mark.parametrize("method", [1, 2])
def test_the_step_log_names_the_direction(method, caplog):
    """At log level 3 each step says which direction it took: quasi-Newton with the number of
    curvature pairs behind it (method 2, from its second step), else the conjugate-gradient
    coefficients."""
    problem = pygmo.problem(H.get_problem("hs001"))
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        pyoptgra.optgra(optimization_method=method, log_level=3).solve(problem, [-2.0, 1.0])
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step outcome")]
    assert len(steps) > 5
    quasi_newton = [m for m in steps if "quasi-Newton (" in m]
    if method == 2:
        assert len(quasi_newton) >= len(steps) // 2
        assert all(int(m.split("(")[1].split()[0]) >= 1 for m in quasi_newton)
    else:
        assert not quasi_newton and all("theta beta" in m for m in steps)
