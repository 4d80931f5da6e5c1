"""A step that reaches a constraint the active set then leaves out ends where it reached it.

The optimisation step follows the model of every output about the linearisation point x_ref.
When it reaches a passive constraint it continues with that constraint as a candidate for the
active set, and the candidate is taken in only if its gradient *at x_ref* says the step would
leave it.  A constraint whose gradient has turned since x_ref (here: zero at x_ref) is not taken
in, and the step used to run on through it, leaving a violation that cost a correction (chord
passes, and often a new linearisation) at the next iteration."""

import numpy as np
import pygmo
import pytest

import pyoptgra


class InsideSphere:
    """min sum w_i (x_i - 1)^2 subject to |x|^2 <= 10, from x = 0, where the constraint's gradient
    2 x is zero.  The unconstrained minimiser (1, ..., 1) lies outside the sphere (n > 10)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.w = np.linspace(1.0, 2.0, n)

    def fitness(self, x):
        d = x - 1.0
        return [float(self.w @ (d * d)), float(x @ x) - 10.0]

    def gradient(self, x):
        return np.concatenate([2.0 * self.w * (x - 1.0), 2.0 * x])

    def get_bounds(self):
        return ([-5.0] * self.n, [5.0] * self.n)

    def get_nic(self):
        return 1


def optimum(udp: InsideSphere) -> float:
    """On the sphere, x_i = w_i / (w_i + lam) with sum x_i^2 = 10 (bisection on lam > 0)."""
    lo, hi = 0.0, 100.0
    for _ in range(200):
        lam = 0.5 * (lo + hi)
        if np.sum((udp.w / (udp.w + lam)) ** 2) > 10.0:
            lo = lam
        else:
            hi = lam
    x = udp.w / (udp.w + lam)
    return float(udp.w @ (x - 1.0) ** 2)


@pytest.mark.parametrize("n", [12, 20])
def test_the_first_step_ends_on_the_constraint_it_reached(n):
    """Before, the first step crossed the sphere by a violation of 31 (n = 12) or 45 (n = 20)."""
    udp = InsideSphere(n)
    prob = pygmo.problem(udp)
    prob.c_tol = [1e-6]
    result = pyoptgra.optgra().solve(prob, np.zeros(n))
    assert result.status == pyoptgra.Status.OPTIMAL
    # within the merit's tolerance (merit_function_threshold, absolute 1e-6)
    assert result.objective == pytest.approx(optimum(udp), abs=1e-6)
    second = result.history[1].x  # where the first step ended: the second linearisation
    assert prob.fitness(second)[1] <= 1e-6
    assert np.linalg.norm(second) == pytest.approx(np.sqrt(10.0), rel=1e-6)
