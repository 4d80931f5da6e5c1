"""Many equalities: the engine factorises them by panels (blocked Householder QR, from 64 of
them on).  The optimum must be the one the KKT conditions give, with dependent equalities
rejected and single-variable ones (row swaps) before the dense ones."""

import numpy as np
import pygmo
import pytest

import pyoptgra


class ManyEqualities:
    """min sum w_i (x_i - c_i)^2 subject to A x = b (+ curvature * sum sin(x) per equality),
    the rows of A: a few single-variable ones, then dense (or banded) ones, some of them
    combinations of earlier ones (consistent, b = A x_feasible)."""

    def __init__(self, n, m, seed, banded=False, singles=3, dependent=(), curvature=0.0):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((m, n)) / np.sqrt(n)
        if banded:
            rows, cols = np.indices((m, n))
            a[np.abs(cols - (n * rows) // m) > 3] = 0.0
        for i in range(singles):
            a[i] = 0.0
            a[i, (7 * i + 2) % n] = 1.0 + i
        for i, (p, q) in dependent:
            a[i] = 2.0 * a[p] - a[q]
        self.a, self.n, self.m = a, n, m
        self.b = a @ rng.uniform(-0.5, 0.5, n)
        self.w = np.linspace(1.0, 10.0, n)
        self.c = rng.uniform(-1.0, 1.0, n)
        self.curvature = curvature

    def constraints(self, x):
        return self.a @ x - self.b + self.curvature * np.sin(x).sum() * np.ones(self.m)

    def fitness(self, x):
        x = np.asarray(x)
        return np.concatenate([[float(self.w @ (x - self.c) ** 2)], self.constraints(x)])

    def jacobian(self, x):
        return self.a + self.curvature * np.outer(np.ones(self.m), np.cos(x))

    def gradient(self, x):
        x = np.asarray(x)
        return np.concatenate([2.0 * self.w * (x - self.c), self.jacobian(x).ravel()])

    def get_bounds(self):
        return [-10.0] * self.n, [10.0] * self.n

    def get_nec(self):
        return self.m


def kkt_solution(p):
    """x = c + W^-1 A^T mu / 2 with A x = b (least squares in mu: A may be rank deficient)."""
    wa = p.a / p.w
    mu = np.linalg.lstsq(wa @ p.a.T, p.b - p.a @ p.c, rcond=None)[0]
    return p.c + wa.T @ mu


@pytest.mark.parametrize(
    "n, m, banded, dependent",
    [(160, 100, False, ((40, (10, 20)), (99, (5, 70)))), (200, 130, True, ((64, (60, 61)),)), (100, 100, False, ())],
)
def test_many_linear_equalities_reach_the_kkt_point(n, m, banded, dependent):
    p = ManyEqualities(n, m, seed=3, banded=banded, dependent=dependent)
    problem = pygmo.problem(p)
    problem.c_tol = [1e-8] * m
    result = pyoptgra.optgra(max_iterations=100).solve(problem, np.zeros(n))
    assert result.success
    x = kkt_solution(p)
    assert result.objective == pytest.approx(p.fitness(x)[0], rel=1e-8)
    assert np.allclose(result.x, x, atol=1e-3)


def test_many_nonlinear_equalities_end_stationary():
    """The Jacobian changes at every iteration: a fresh blocked factorisation each time.  The
    multipliers of the active set make the Lagrangian's gradient vanish (to the accuracy the
    optimizer stops at)."""
    n, m = 150, 90
    p = ManyEqualities(n, m, seed=5, dependent=((50, (10, 20)),), curvature=0.05)
    problem = pygmo.problem(p)
    problem.c_tol = [1e-8] * m
    result = pyoptgra.optgra(max_iterations=100).solve(problem, np.zeros(n))
    assert result.success
    assert np.max(np.abs(p.constraints(result.x))) < 1e-8
    lagrangian = 2.0 * p.w * (result.x - p.c) + p.jacobian(result.x).T @ result.multipliers
    assert np.max(np.abs(lagrangian)) < 1e-3 * np.max(np.abs(2.0 * p.w * (result.x - p.c)))


def test_scipy_blas_and_the_built_in_products_agree(monkeypatch):
    """The blocked factorisation runs on scipy's dgemm and dtrmm when their addresses can be read,
    and on the engine's own products otherwise: the same run either way, up to rounding."""
    import pyoptgra._blas

    assert all(pyoptgra._blas.KERNELS), "scipy.linalg.cython_blas should provide dgemm and dtrmm"
    n, m = 150, 90
    p = ManyEqualities(n, m, seed=5, dependent=((50, (10, 20)),), curvature=0.05)
    problem = pygmo.problem(p)
    problem.c_tol = [1e-8] * m
    with_blas = pyoptgra.optgra(max_iterations=100).solve(problem, np.zeros(n))
    monkeypatch.setattr(pyoptgra._blas, "KERNELS", (0, 0))
    built_in = pyoptgra.optgra(max_iterations=100).solve(problem, np.zeros(n))
    assert with_blas.success and built_in.success
    assert built_in.iterations == with_blas.iterations
    assert built_in.objective == pytest.approx(with_blas.objective, rel=1e-10)
    assert np.allclose(built_in.x, with_blas.x, atol=1e-8)


def test_one_blas_kernel_without_the_other_is_refused(monkeypatch):
    import pyoptgra._blas

    monkeypatch.setattr(pyoptgra._blas, "KERNELS", (pyoptgra._blas.KERNELS[0], 0))
    p = ManyEqualities(20, 10, seed=1)
    with pytest.raises(ValueError, match="blas"):
        pyoptgra.optgra().solve(pygmo.problem(p), np.zeros(20))
