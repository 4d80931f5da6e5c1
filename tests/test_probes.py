"""Curvature probes: the first probe of an iteration is placed where the last step's curvature
predicts the step (twice that distance), so that a refinement at the model's maximum is rarely
needed, and a step to a probe point is not evaluated again."""

import numpy as np
import pygmo
import pytest

import pyoptgra


class ConstrainedQuadratic:
    """min sum w_i (x_i - 1)^2 subject to sum x <= 1: a convex quadratic whose solution lies on
    the constraint (x_i - 1 = -lambda / (2 w_i))."""

    def __init__(self, n: int = 6) -> None:
        self.n = n
        self.w = np.linspace(1.0, 10.0, n)

    def fitness(self, x):
        return [float(np.sum(self.w * (x - 1.0) ** 2)), float(np.sum(x) - 1.0)]

    def gradient(self, x):
        return np.concatenate([2.0 * self.w * (x - 1.0), np.ones(self.n)])

    def get_bounds(self):
        return ([-10.0] * self.n, [10.0] * self.n)

    def get_nic(self):
        return 1


def optimum(udp: ConstrainedQuadratic) -> float:
    """f* = sum w (lambda / (2 w))^2 = lambda^2 / 4 sum 1/w, with sum x = 1."""
    lam = 2.0 * (udp.n - 1.0) / np.sum(1.0 / udp.w)
    return lam**2 / 4.0 * np.sum(1.0 / udp.w)


def test_an_iteration_on_a_quadratic_costs_at_most_two_fitness_calls():
    """One probe (at the predicted step) and the step: with the probe at the fixed probe distance
    and a refinement at the model's maximum, this run took 34 fitness calls in 11 iterations."""
    udp = ConstrainedQuadratic()
    result = pyoptgra.optgra(bounds_to_constraints=False).solve(pygmo.problem(udp), np.zeros(udp.n))
    assert result.status == pyoptgra.Status.OPTIMAL
    assert result.objective == pytest.approx(optimum(udp), rel=1e-6)
    # the start, then per iteration one probe and the step (the first iteration's probe at the
    # probe distance may need a refinement)
    assert result.evaluations["fitness"] <= 2 * result.iterations + 2
