"""The user's gradient reaches the engine the same way whatever its sparsity pattern: none
(pygmo's dense row-major one, passed on by a reshape), an explicit dense pattern (pygmo keeps
patterns sorted, so it is row-major too: the same fast path), or only the structural non-zeros
(scattered into the Jacobian)."""

import numpy as np
import pygmo
import pytest

import pyoptgra
from problems import Forwarding


class Chain:
    """min sum (x_i - i/2)^2 + x_0 x_{n-1}, s.t. x_i + x_{i+1}^2 = 1 (i < n-2), x_0 - x_1 <= 0.2:
    every constraint touches two variables, so the Jacobian is mostly structural zeros."""

    n = 6

    def __init__(self, pattern: str = "none") -> None:
        self.pattern = pattern

    def fitness(self, x):
        x = np.asarray(x, dtype=float)
        target = np.arange(self.n) / 2.0
        objective = np.sum((x - target) ** 2) + x[0] * x[-1]
        equalities = x[:-2] + x[1:-1] ** 2 - 1.0
        return np.concatenate([[objective], equalities, [x[0] - x[1] - 0.2]])

    def dense_gradient(self, x):
        x = np.asarray(x, dtype=float)
        n = self.n
        jac = np.zeros((1 + (n - 2) + 1, n))
        jac[0] = 2.0 * (x - np.arange(n) / 2.0)
        jac[0, 0] += x[-1]
        jac[0, -1] += x[0]
        for i in range(n - 2):
            jac[1 + i, i] = 1.0
            jac[1 + i, i + 1] = 2.0 * x[i + 1]
        jac[-1, 0], jac[-1, 1] = 1.0, -1.0
        return jac

    def _pattern(self):
        rows, cols = np.nonzero(np.ones((1 + (self.n - 2) + 1, self.n)))
        if self.pattern == "sparse":
            structure = self.dense_gradient(np.full(self.n, 0.7)) != 0.0
            rows, cols = np.nonzero(structure)
        return np.column_stack([rows, cols])

    def gradient(self, x):
        jac = self.dense_gradient(x)
        if self.pattern == "none":
            return jac.ravel()
        pairs = self._pattern()
        return jac[pairs[:, 0], pairs[:, 1]]

    def get_bounds(self):
        return ([-3.0] * self.n, [3.0] * self.n)

    def get_nec(self):
        return self.n - 2

    def get_nic(self):
        return 1

    def has_gradient_sparsity(self):
        return self.pattern != "none"

    def gradient_sparsity(self):
        return self._pattern()


@pytest.mark.parametrize("pattern", ["dense", "sparse"])
def test_every_sparsity_pattern_gives_the_dense_run(pattern):
    x0 = np.full(Chain.n, 0.5)
    reference = pyoptgra.optgra(max_iterations=100).solve(pygmo.problem(Chain("none")), x0)
    prob = pygmo.problem(Chain(pattern))
    assert prob.has_gradient_sparsity()
    result = pyoptgra.optgra(max_iterations=100).solve(prob, x0)
    assert reference.status.name == "OPTIMAL"
    assert result.status == reference.status
    np.testing.assert_array_equal(result.x, reference.x)
    assert result.evaluations == reference.evaluations
    # the solution is a constrained stationary point: the run did use the gradient
    f = np.asarray(prob.fitness(result.x))
    assert np.max(np.abs(f[1 : Chain.n - 1])) <= 1e-6
    assert reference.evaluations["gradient"] > 0


def test_the_dense_run_matches_finite_differences():
    """The reshaped dense gradient is laid out right: the same optimum as finite differences."""
    x0 = np.full(Chain.n, 0.5)
    with_gradient = pyoptgra.optgra(max_iterations=100).solve(pygmo.problem(Chain("none")), x0)

    # (central differences: the adaptive ones stop within the tolerance too, 2.6e-5 away in x)
    by_differences = pyoptgra.optgra(max_iterations=100, finite_differences="central").solve(
        pygmo.problem(Forwarding(Chain("none"))), x0)
    assert with_gradient.status.name == "OPTIMAL" and by_differences.status.name == "OPTIMAL"
    np.testing.assert_allclose(with_gradient.x, by_differences.x, atol=1e-5)
