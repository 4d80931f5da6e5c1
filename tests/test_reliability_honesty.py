"""Reliability (issue 5, item 9): the solver never lies.

A run reports status 1 (optimal) or 2 (constraints matched, budget exhausted) only at a point that
satisfies every constraint and every bound row within its tolerance, checked here by evaluating
the problem afresh at the returned x; and the population's best individual is never worse after
the evolve, under pygmo's feasibility-first comparison with zero c_tol entries taken as 1e-6.
"""

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra

DEFAULT_TOLERANCE = 1e-6
#: relative slack on a tolerance for the rounding of the check itself
ROUNDING = 1e-9


def tolerances(problem):
    c_tol = np.asarray(problem.c_tol, dtype=float)
    return np.where(c_tol > 0, c_tol, DEFAULT_TOLERANCE)


def violations(problem, x, f):
    """Per-constraint violation divided by its tolerance, and per-bound violation in raw units."""
    nec = problem.get_nec()
    c = np.asarray(f[1:], dtype=float)
    excess = np.concatenate([np.abs(c[:nec]), np.maximum(c[nec:], 0.0)]) / tolerances(problem)
    lower, upper = (np.asarray(b, dtype=float) for b in problem.get_bounds())
    finite_lower = np.isfinite(lower) & (np.abs(lower) < 1e295)
    finite_upper = np.isfinite(upper) & (np.abs(upper) < 1e295)
    bounds = np.concatenate([(lower - x)[finite_lower], (x - upper)[finite_upper]])
    return excess, np.maximum(bounds, 0.0)


def check_honest_run(problem, x0, **settings):
    """Run evolve from x0 and check what it claims.  Returns the status."""
    population = pygmo.population(problem)
    population.push_back(x0)
    nec = problem.get_nec()
    tol = tolerances(problem)
    before_x, before_f = population.get_x()[0].copy(), population.get_f()[0].copy()
    algo = pygmo.algorithm(pyoptgra.optgra(**settings))
    population = algo.evolve(population)
    result = algo.extract(pyoptgra.optgra).last_result
    status = result.status
    assert status in (1, 2, 3, 4)
    x = np.asarray(result.x, dtype=float)
    assert np.all(np.isfinite(x))
    f = np.asarray(problem.fitness(x), dtype=float)  # afresh, not the engine's own numbers
    assert np.array_equal(f, result.fitness) or np.allclose(f, result.fitness, rtol=1e-12, atol=0)
    constraint_excess, bound_excess = violations(problem, x, f)
    bound_tolerance = settings.get("bound_constraints_tolerance", DEFAULT_TOLERANCE)
    if status in (1, 2):
        worst = int(np.argmax(constraint_excess)) if constraint_excess.size else None
        assert np.all(constraint_excess <= 1 + ROUNDING), (
            f"status {status} at a point violating constraint {worst} by {constraint_excess[worst]:.3g} tolerances"
        )
        if settings.get("bounds_to_constraints", True):
            assert np.all(bound_excess <= bound_tolerance * (1 + ROUNDING) + 1e-15 * np.abs(x).max()), (
                f"status {status} outside the box by {bound_excess.max():.3g}"
            )
    # the feasibility reported agrees with the fresh evaluation
    if settings.get("bounds_to_constraints", True) or not np.any(bound_excess > bound_tolerance):
        assert result.feasible == bool(np.all(constraint_excess <= 1 + ROUNDING) and np.all(bound_excess <= bound_tolerance * (1 + ROUNDING) + 1e-15 * np.abs(x).max()))
    # the population's individual is never worse than before
    after_x, after_f = population.get_x()[0], population.get_f()[0]
    lower, upper = (np.asarray(b, dtype=float) for b in problem.get_bounds())

    def extended(x, f):
        finite_lower = np.isfinite(lower) & (np.abs(lower) < 1e295)
        finite_upper = np.isfinite(upper) & (np.abs(upper) < 1e295)
        return np.concatenate([f, (lower - x)[finite_lower], (x - upper)[finite_upper]])

    n_bounds = extended(x, f).size - f.size
    all_tol = np.concatenate([tol, np.full(n_bounds, bound_tolerance)])
    assert not pygmo.compare_fc(extended(before_x, before_f), extended(after_x, after_f), nec, all_tol), (
        f"the evolved individual {after_f} is worse than the start {before_f}"
    )
    return status


@pytest.mark.timeout(120)
@pytest.mark.parametrize("with_gradient", [True, False], ids=["gradient", "differences"])
def test_hs_suite_reports_truthfully(with_gradient):
    statuses = {}
    for cls in H.ALL_PROBLEMS:
        problem = pygmo.problem(H.get_problem(cls.name, with_gradient=with_gradient))
        x0 = np.clip(cls.x0, *problem.get_bounds())
        try:
            statuses[cls.name] = check_honest_run(problem, x0)
        except ValueError as e:  # a non-finite output is reported, not hidden (hs104, hs112, ...)
            assert "not finite" in str(e)
            statuses[cls.name] = "ValueError"
    print(f"\nstatuses ({'gradient' if with_gradient else 'differences'}):",
          {s: sum(v == s for v in statuses.values()) for s in (1, 2, 3, 4, "ValueError")})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("settings", [
    dict(max_iterations=3),
    dict(max_iterations=10, max_correction_iterations=2),
    dict(max_distance_per_iteration=0.1),
    dict(bounds_to_constraints=False),
    dict(optimization_method=0, perturbation_for_snd_order_derivatives=0),
    dict(merit_function_threshold=1e-2, bound_constraints_tolerance=1e-3),
], ids=["short", "short-correction", "small-radius", "no-bound-rows", "steepest-linear", "loose"])
def test_hs_suite_reports_truthfully_under_tight_budgets(settings):
    """Budgets that stop runs early are where a status is most easily misreported."""
    for cls in H.ALL_PROBLEMS:
        problem = pygmo.problem(H.get_problem(cls.name))
        try:
            check_honest_run(problem, np.clip(cls.x0, *problem.get_bounds()), **settings)
        except ValueError as e:
            assert "not finite" in str(e)


class RandomProblem:
    """A random smooth problem: quadratic objective with a sine term, ``nec`` equalities and
    ``nic`` inequalities, each linear plus a small quadratic term, random bounds (some infinite),
    c_tol entries zero or not."""

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.n = n = int(rng.integers(1, 7))
        self.nec = int(rng.integers(0, min(n, 3) + 1))
        self.nic = int(rng.integers(0, 4))
        m = self.nec + self.nic
        q = rng.standard_normal((n, n))
        self.Q = q @ q.T + 0.1 * np.eye(n)
        self.centre = rng.uniform(-3, 3, n)
        self.A = rng.standard_normal((m, n))
        self.b = rng.uniform(-1, 1, m)
        self.curv = 0.1 * rng.standard_normal((m, n))
        self.sine = float(rng.uniform(0, 1))
        lower = np.where(rng.random(n) < 0.7, rng.uniform(-6, -1, n), -np.inf)
        upper = np.where(rng.random(n) < 0.7, rng.uniform(1, 6, n), np.inf)
        self.bounds = (lower.tolist(), upper.tolist())
        self.c_tol = np.where(rng.random(m) < 0.5, 0.0, 10.0 ** rng.uniform(-8, -3, m)).tolist()
        self.x0 = rng.uniform(np.maximum(lower, -4), np.minimum(upper, 4))

    def fitness(self, x):
        d = x - self.centre
        objective = 0.5 * d @ self.Q @ d + self.sine * np.sum(np.sin(x))
        return np.concatenate([[objective], self.A @ x + self.curv @ (x * x) - self.b])

    def gradient(self, x):
        d = x - self.centre
        g = self.Q @ d + self.sine * np.cos(x)
        return np.concatenate([g, (self.A + 2.0 * self.curv * x).ravel()])

    def get_bounds(self):
        return self.bounds

    def get_nec(self):
        return self.nec

    def get_nic(self):
        return self.nic


@pytest.mark.timeout(120)
def test_random_problems_report_truthfully():
    statuses = []
    for seed in range(300):
        udp = RandomProblem(seed)
        problem = pygmo.problem(udp)
        problem.c_tol = udp.c_tol
        settings = [{}, dict(max_iterations=5), dict(bounds_to_constraints=False)][seed % 3]
        statuses.append(check_honest_run(problem, udp.x0, **settings))
    print("\nrandom problems:", {s: statuses.count(s) for s in (1, 2, 3, 4)})
    assert statuses.count(1) + statuses.count(2) >= 150


class Infeasible:
    """Constraints that no point satisfies: the status must say so."""

    def __init__(self, kind):
        self.kind = kind

    def fitness(self, x):
        if self.kind == "square":
            return [x[0] + x[1], x[0] ** 2 + 1.0]  # x0^2 + 1 <= 0
        if self.kind == "conflict":
            return [x[0] ** 2, 2.0 - x[0], x[0] - 1.0]  # x0 >= 2 and x0 <= 1
        return [x[0] ** 2 + x[1] ** 2, x[0] ** 2 + x[1] ** 2 + 1.0]  # equality with no root

    def get_bounds(self):
        return ([-10.0, -10.0], [10.0, 10.0])

    def get_nec(self):
        return 1 if self.kind == "equality" else 0

    def get_nic(self):
        return {"square": 1, "conflict": 2, "equality": 0}[self.kind]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["square", "conflict", "equality"])
@pytest.mark.parametrize("settings", [{}, dict(max_correction_iterations=1), dict(max_iterations=3)])
def test_infeasible_problems_are_never_reported_solved(kind, settings):
    status = check_honest_run(pygmo.problem(Infeasible(kind)), [0.5, 0.5], **settings)
    assert status in (3, 4)
