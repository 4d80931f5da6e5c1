"""The Result of a run, checked field by field against independent computations; limits,
exceptions and ForcedStop; the log and the history."""

import time

import numpy as np
import pygmo
import pytest

import pyoptgra
from pyoptgra import ForcedStop, Status, StopReason
from problems import Hs71, hs71_fitness, hs71_gradient

HS71_X = np.array([1.0, 4.74299963, 3.82114998, 1.37940829])
HS71_F = 17.0140173
HS71_START = [1.0, 5.0, 5.0, 1.0]


class CustomError(Exception):
    pass


def independent_max_violation(problem, x, f):
    lower, upper = (np.asarray(b) for b in problem.get_bounds())
    nec = problem.get_nec()
    parts = [np.abs(f[1 : 1 + nec]), np.maximum(f[1 + nec :], 0.0), np.maximum(lower - x, 0.0), np.maximum(x - upper, 0.0)]
    return float(max(p.max(initial=0.0) for p in parts))


def test_every_field_of_an_optimal_result():
    problem = pygmo.problem(Hs71())
    wall = time.perf_counter()
    result = pyoptgra.optgra().solve(problem, HS71_START)
    wall = time.perf_counter() - wall

    assert result.status is Status.OPTIMAL and int(result.status) == 1 and result.success
    assert result.reason is StopReason.CONVERGED and result.note == ""
    assert "Optimal Solution Found" in result.message
    assert result.x == pytest.approx(HS71_X, abs=1e-3)  # the objective is flat to 1e-7 there
    # the fitness is the problem's own at x, in pygmo order
    assert np.array_equal(result.fitness, hs71_fitness(result.x))
    assert result.objective == result.fitness[0] == pytest.approx(HS71_F, rel=1e-7)
    assert result.max_violation == independent_max_violation(problem, result.x, result.fitness)
    assert result.feasible and result.max_violation <= 1e-6
    # evaluations are exactly the calls the problem saw
    assert result.evaluations == {"fitness": problem.get_fevals(), "gradient": problem.get_gevals()}
    assert 0.0 < result.elapsed <= wall
    # one history record per iteration, each consistent with the problem at its point
    assert len(result.history) == result.iterations >= 1
    assert [r.iteration for r in result.history] == list(range(1, result.iterations + 1))
    for record in result.history:
        f = hs71_fitness(record.x)
        assert record.objective == f[0]
        assert record.max_violation == independent_max_violation(problem, record.x, f)
        assert 1 <= record.evaluations <= result.evaluations["fitness"]
    assert result.history[0].x == pytest.approx(HS71_START)
    # multipliers: both constraints active; the Lagrangian is stationary in the variables that are
    # not on a bound (x1 sits on its lower bound 1 at the optimum)
    assert result.active.tolist() == [True, True]
    assert result.multipliers[1] >= 0.0
    # they are the least-squares solution of grad f + J^T lambda = 0 over the free variables
    jacobian = hs71_gradient(result.x)
    expected = np.linalg.lstsq(jacobian[1:, 1:].T, -jacobian[0, 1:], rcond=None)[0]
    assert result.multipliers == pytest.approx(expected, rel=1e-9)
    stationarity = jacobian[0] + result.multipliers @ jacobian[1:]
    assert np.abs(stationarity[1:]).max() < 1e-4 * np.abs(jacobian[0]).max() and stationarity[0] > 0.0
    text = str(result)
    assert "OPTIMAL" in text and "17.014017" in text and "OPTIMAL" in repr(result)


def test_last_result_after_evolve_is_reachable_through_pygmo():
    population = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()))
    population.push_back(HS71_START)
    algo = pygmo.algorithm(pyoptgra.optgra())
    population = algo.evolve(population)
    result = algo.extract(pyoptgra.optgra).last_result
    assert isinstance(result, pyoptgra.Result)
    assert np.array_equal(result.x, population.get_x()[0]) and np.array_equal(result.fitness, population.get_f()[0])


def test_solve_takes_a_user_defined_problem_and_checks_x0():
    algo = pyoptgra.optgra()
    assert algo.solve(Hs71(), HS71_START).status == Status.OPTIMAL
    with pytest.raises(ValueError, match=r"x0 must have shape \(4,\)"):
        algo.solve(Hs71(), [1.0, 2.0])


@pytest.mark.parametrize("k", [1, 5, "last"])
def test_exception_at_the_kth_evaluation_keeps_the_best_point(k):
    if k == "last":
        k = pyoptgra.optgra().solve(Hs71(), HS71_START).evaluations["fitness"]
    algo = pyoptgra.optgra()
    with pytest.raises(CustomError, match="at call") as caught:
        algo.solve(Hs71(fail_at=k, exception=CustomError(f"at call {k}")), HS71_START)
    assert type(caught.value) is CustomError
    result = algo.last_result
    assert result.status is Status.EXCEPTION and result.evaluations["fitness"] == k
    assert result.reason is StopReason.NONE
    if k == 1:  # nothing was evaluated: the start point, with unknown outputs
        assert result.x.tolist() == HS71_START and np.isnan(result.objective)
    else:
        assert np.array_equal(result.fitness, hs71_fitness(result.x))
        # the best of the k - 1 evaluated points: at least as close to feasibility as the start
        # (the engine ranks infeasible points by their total violation)
        start = hs71_fitness(HS71_START)
        total = lambda f: abs(f[1]) + max(f[2], 0.0)  # noqa: E731
        assert total(result.fitness) <= total(start)
    # the next run works
    assert algo.solve(Hs71(), HS71_START).status == Status.OPTIMAL


def test_forced_stop_ends_the_run_with_its_own_status():
    algo = pyoptgra.optgra()
    result = algo.solve(Hs71(fail_at=8, exception=ForcedStop("enough")), HS71_START)
    assert result.status is Status.FORCED_STOP and result.evaluations["fitness"] == 8
    assert result.reason is StopReason.NONE
    assert np.isfinite(result.objective) and algo.last_result is result
    population = pygmo.population(pygmo.problem(Hs71(fail_at=9, exception=ForcedStop())))
    population.push_back(HS71_START)
    before = population.get_f()[0].copy()
    population = pyoptgra.optgra().evolve(population)
    assert not pygmo.compare_fc(before, population.get_f()[0], 1, [1e-6, 1e-6])


@pytest.mark.parametrize("limit", [1, 4, 10, 15])
def test_evaluation_limit_is_honoured(limit):
    unlimited = pyoptgra.optgra().solve(pygmo.problem(Hs71()), HS71_START)
    assert unlimited.evaluations["fitness"] > limit, "the limit must bind for this test to mean anything"
    problem = pygmo.problem(Hs71())
    result = pyoptgra.optgra(max_evaluations=limit).solve(problem, HS71_START)
    assert result.evaluations["fitness"] == problem.get_fevals() <= limit
    assert result.status in (Status.MATCHED, Status.NOT_MATCHED)
    assert result.feasible == (result.status == Status.MATCHED)
    assert result.reason is StopReason.EVALUATIONS and "max_evaluations" in result.message
    with pytest.raises(ValueError, match="max_evaluations"):
        pyoptgra.optgra(max_evaluations=0)


def test_time_limit_is_honoured_inside_the_engine():
    sleep = 0.05
    algo = pyoptgra.optgra(timeout_seconds=0.5)
    start = time.perf_counter()
    result = algo.solve(pygmo.problem(Hs71(sleep=sleep)), HS71_START)
    elapsed = time.perf_counter() - start
    assert result.status is Status.TIMEOUT and "Timeout reached" in result.message
    assert result.reason is StopReason.TIMEOUT
    assert elapsed <= 0.5 + sleep + 0.15
    assert 0.5 <= result.elapsed and result.evaluations["fitness"] <= 0.5 / sleep + 1
    assert "Timeout reached" in algo.get_extra_info()
    # the result is a point the problem evaluated, with its own fitness
    assert np.array_equal(result.fitness, hs71_fitness(result.x))
    # a generous limit does not change the solution
    quick = pyoptgra.optgra(timeout_seconds=60).solve(Hs71(), HS71_START)
    assert quick.status is Status.OPTIMAL and quick.objective == pytest.approx(HS71_F, rel=1e-7)


def test_log_rows_agree_with_the_history(capsys):
    population = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()))
    population.push_back(HS71_START)
    algo = pygmo.algorithm(pyoptgra.optgra())
    algo.set_verbosity(1)
    start_objective = population.get_f()[0][0]
    algo.evolve(population)
    uda = algo.extract(pyoptgra.optgra)
    log, result = uda.get_log(), uda.last_result
    assert len(log) == result.evaluations["fitness"]
    assert [row[0] for row in log] == list(range(1, len(log) + 1))
    # the start's fitness is the population's: the first linearisation comes before any evaluation
    assert result.history[0].evaluations == 0 and result.history[0].objective == start_objective
    for record in result.history[1:]:
        # The point was evaluated at or before the record's count (a point returned to, after a
        # step is taken back, is not evaluated again).
        assert log[record.evaluations - 1][0] == record.evaluations
        rows = [row for row in log[: record.evaluations] if row[1] == record.objective]
        assert rows, f"iteration {record.iteration}: its objective was never evaluated"
        evaluations, objective, violated, norm, feasible = rows[-1]
        assert feasible == (record.max_violation <= 1e-6)
    out = capsys.readouterr().out
    assert "fevals:" in out and f"{log[-1][1]:.8g}" in out
