"""Errors in the user's problem reach the caller unchanged, and the next solve works."""

import numpy as np
import pygmo
import pytest

import pyoptgra
from problems import Failing


class CustomError(Exception):
    pass


def run(udp):
    population = pygmo.population(pygmo.problem(udp))
    population.push_back([3.0, -4.0])
    return pyoptgra.optgra().evolve(population)


def assert_next_solve_works():
    population = run(Failing())
    assert population.get_x()[0] == pytest.approx([0.5, 0.5], abs=1e-6)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_exception_in_fitness_propagates_with_its_type(k):
    # call 1 is pygmo's own evaluation of the start individual
    with pytest.raises(CustomError, match="fitness failed"):
        run(Failing(fail_fitness_at=k, exception=CustomError("fitness failed")))
    assert_next_solve_works()


def calls_of_a_clean_run():
    population = pygmo.population(pygmo.problem(Failing()))
    population.push_back([3.0, -4.0])
    algo = pygmo.algorithm(pyoptgra.optgra())
    algo.evolve(population)
    result = algo.extract(pyoptgra.optgra).last_result
    return result.evaluations["fitness"] + 1, result.evaluations["gradient"]  # + pygmo's own start


@pytest.mark.parametrize("k", [1, 2, "last"])
def test_exception_in_gradient_propagates_with_its_type(k):
    if k == "last":
        k = calls_of_a_clean_run()[1]
        assert k > 2
    with pytest.raises(KeyError, match="gradient failed"):
        run(Failing(fail_gradient_at=k, exception=KeyError("gradient failed")))
    assert_next_solve_works()


def test_exception_in_the_last_fitness_call_propagates():
    last = calls_of_a_clean_run()[0]
    with pytest.raises(CustomError, match="fitness failed"):
        run(Failing(fail_fitness_at=last, exception=CustomError("fitness failed")))
    assert_next_solve_works()


@pytest.mark.parametrize(
    "output, name",
    [(0, r"objective \(fitness\[0\]\)"), (1, r"equality constraint 0"), (2, r"inequality constraint 0")],
)
def test_nan_output_names_the_problems_own_output(output, name):
    with pytest.raises(ValueError, match=name):
        run(Failing(fail_fitness_at=3, nan_output=output))
    assert_next_solve_works()


def test_engine_rejects_malformed_callback_output():
    from pyoptgra import _core

    settings = dict(
        lower=np.full(1, -np.inf), upper=np.full(1, np.inf), tolerances=np.full(1, 1e-6), priorities=np.ones(1, np.intc),
        variable_scales=np.ones(1), variable_types=np.zeros(1, np.intc), derivative_mode=2,
        difference_steps=np.full(1, 0.01), max_iterations=5, max_correction_iterations=5, max_distance=1.0,
        probe_distance=1.0, method=2, log_level=0, log=None, max_evaluations=0, time_limit=0.0, history=None,
    )
    with pytest.raises(ValueError, match="1-D array of 1 values"):
        _core.optimize(np.zeros(1), np.array([-1], np.intc), lambda x: np.zeros(3), None, settings, {})
    report = _core.optimize(
        np.zeros(1), np.array([-1], np.intc), lambda x: np.array([(x[0] - 0.25) ** 2]), None, settings, {}
    )
    x, y = report["x"], report["y"]
    assert x[0] == pytest.approx(0.25, abs=1e-3) and report["result"] == 1 and y[0] == pytest.approx((x[0] - 0.25) ** 2)
    assert report["best_x"][0] == pytest.approx(0.25, abs=1e-3) and report["best_y"][0] <= y[0]
