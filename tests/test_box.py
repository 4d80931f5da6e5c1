"""The box is never left: every point pyoptgra hands to the problem lies within its bounds.

Many models are undefined outside their box (logarithms, fractional powers, a trajectory
propagator that rejects a negative time of flight), so a start inside the box must never lead to
an evaluation outside it: not by a finite-difference stencil next to a bound (it turns one-sided,
inwards), not by the curvature probe (kept inside the box), not by a correction move (bound rows
are kept at every priority level of the walk).
"""

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra
from problems import Forwarding


class Recording(Forwarding):
    """Forwards to a UDP and records every point at which fitness or gradient is asked for."""

    def __init__(self, udp, with_gradient):
        super().__init__(udp)
        self.with_gradient = with_gradient
        self.points = []

    def fitness(self, x):
        self.points.append(np.array(x, dtype=float))
        return self.udp.fitness(x)

    def gradient(self, x):
        self.points.append(np.array(x, dtype=float))
        return self.udp.gradient(x)

    def has_gradient(self):
        return self.with_gradient


def points_outside(problem, points):
    """The largest excess of the points over the box, relative to the bound's magnitude."""
    lower, upper = (np.asarray(b, dtype=float) for b in problem.get_bounds())
    scale = 1.0 + np.maximum(np.abs(np.where(np.isfinite(lower), lower, 0)), np.abs(np.where(np.isfinite(upper), upper, 0)))
    excess = [np.max(np.maximum(lower - x, x - upper) / scale) for x in points]
    return max(excess)


@pytest.mark.parametrize("with_gradient", [True, False], ids=["gradient", "differences"])
def test_no_evaluation_outside_the_box(with_gradient):
    checked = 0
    for cls in H.ALL_PROBLEMS:
        udp = Recording(H.get_problem(cls.name), with_gradient)
        problem = pygmo.problem(udp)
        x0 = np.clip(cls.x0, *problem.get_bounds())
        try:
            pyoptgra.optgra(max_iterations=60).solve(problem, x0)
        except ValueError as e:  # a non-finite output inside the box is the problem's own
            assert "not finite" in str(e), e
        worst = points_outside(problem, problem.extract(Recording).points)
        assert worst <= 1e-14, f"{cls.name}: a point {worst:.3g} outside the box"
        checked += 1
    assert checked == len(H.ALL_PROBLEMS) > 70


@pytest.mark.parametrize("name, with_gradient", [
    ("hs104", True), ("hs104", False), ("hs110", True), ("hs110", False), ("hs112", True),
], ids=["hs104-gradient", "hs104-differences", "hs110-gradient", "hs110-differences", "hs112-gradient"])
def test_problems_undefined_outside_the_box_are_solved(name, with_gradient):
    """log(x - 2) + log(10 - x) (hs110), x log x (hs112), negative powers (hs104): each used to
    stop with a non-finite output at a probe, a stencil point or a correction move outside."""
    cls = type(H.get_problem(name))
    problem = pygmo.problem(H.get_problem(name, with_gradient=with_gradient))
    result = pyoptgra.optgra(max_iterations=200).solve(problem, np.clip(cls.x0, *problem.get_bounds()))
    assert result.feasible
    assert result.objective == pytest.approx(cls.f_star, rel=1e-6, abs=1e-6)


class SqrtOnTheBox:
    """min -sum sqrt(x_i) - sqrt(1 - x_i) weighted, on [0, 1]^n: the optimum is interior, the
    functions are undefined outside the box; the start is a corner."""

    def __init__(self, n=5):
        self.w = np.linspace(0.5, 2.0, n)

    def fitness(self, x):
        x = np.asarray(x)
        if np.any(x < 0) or np.any(x > 1):
            raise AssertionError(f"evaluated outside the box at {x}")
        return [float(-np.sum(self.w * np.sqrt(x) + np.sqrt(1.0 - x)))]

    def get_bounds(self):
        return ([0.0] * len(self.w), [1.0] * len(self.w))

    def optimum(self):
        # d/dx (w sqrt x + sqrt(1 - x)) = 0  <=>  x = w^2 / (1 + w^2)
        return self.w**2 / (1.0 + self.w**2)


@pytest.mark.parametrize("scheme", ["central", "forward", "adaptive"])
def test_difference_stencil_at_a_corner_points_inwards(scheme):
    # adaptive differences end on central ones: as accurate as those
    central = scheme != "forward"
    udp = SqrtOnTheBox()
    start = np.array([0.0, 1.0, 0.0, 1.0, 1e-9])
    result = pyoptgra.optgra(max_iterations=100, finite_differences=scheme).solve(pygmo.problem(udp), start)
    assert result.feasible
    # (forward differences of sqrt have errors of order h / sqrt(x) near the bounds)
    assert result.objective == pytest.approx(udp.fitness(udp.optimum())[0], abs=1e-6 if central else 1e-4)
    if central:
        assert result.status == pyoptgra.Status.OPTIMAL
        np.testing.assert_allclose(result.x, udp.optimum(), atol=1e-3)
