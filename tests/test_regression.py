"""Reference numbers users rely on (SPEC 6.5, 8.8) and pygmo's HS71."""

import numpy as np
import pygmo
import pytest

import pyoptgra
from problems import LuksanVlcek

LV_START = [0.5, 0.5, -0.5, 0.4, 0.3, 0.7]
LV_X = [0.698437, 0.368783, -0.477282, 0.313672, 0.409082, 0.752973]
LV_F = 0.82929210248477


@pytest.mark.parametrize("method", [0, 1, 2, 3])
def test_luksan_vlcek_regression(method):
    problem = pygmo.problem(LuksanVlcek())
    problem.c_tol = [1e-7] * 6
    population = pygmo.population(problem)
    population.push_back(LV_START)
    algo = pygmo.algorithm(
        pyoptgra.optgra(max_iterations=100, max_correction_iterations=100, optimization_method=method)
    )
    algo.set_verbosity(1)
    population = algo.evolve(population)
    x, f = population.get_x()[0], population.get_f()[0]
    assert f[0] == pytest.approx(LV_F, abs=1e-7)
    assert x == pytest.approx(LV_X, abs=1e-5)
    assert np.all(np.abs(f[1:5]) < 1e-6) and np.all(f[5:] < 1e-6)
    assert "Optimal Solution Found" in algo.get_extra_info()


@pytest.mark.parametrize("method", [0, 1, 2, 3])
def test_hock_schittkowski_71_from_the_standard_start(method):
    population = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()))
    population.push_back([1.0, 5.0, 5.0, 1.0])
    algo = pygmo.algorithm(pyoptgra.optgra(optimization_method=method))
    population = algo.evolve(population)
    f = population.get_f()[0]
    assert f[0] == pytest.approx(17.0140173, rel=1e-6)
    assert abs(f[1]) <= 1e-6 and f[2] <= 1e-6
    result = algo.extract(pyoptgra.optgra).last_result
    assert result.status == pyoptgra.Status.OPTIMAL
    # the fitness evaluations counted by pygmo are exactly those of the engine's callbacks
    assert population.problem.get_fevals() == result.evaluations["fitness"] + 1


@pytest.mark.parametrize("method", [0, 1, 2, 3])
def test_luksan_vlcek_with_khan_bounds_reaches_the_local_minimum_slsqp_finds(method):
    """With Khan (sin) bounds and the correct chain rule (taken at the engine's variable), the path
    from LV_START leads to the neighbouring local minimum f = 0.8411827, the one SLSQP reaches from
    the same start.  The reference reaches 0.8292921 here only because its chain rule is evaluated
    at the transformed point (SPEC 1.4.7), which bends its second step differently."""
    from scipy.optimize import minimize

    udp = LuksanVlcek()
    constraints = [{"type": "eq", "fun": lambda x, i=i: udp.fitness(x)[1 + i]} for i in range(4)] + [
        {"type": "ineq", "fun": lambda x, i=i: -udp.fitness(x)[5 + i]} for i in range(2)
    ]
    reference = minimize(lambda x: udp.fitness(x)[0], LV_START, method="SLSQP", constraints=constraints,
                         bounds=[(-5, 5)] * 6, options={"ftol": 1e-12, "maxiter": 1000})
    assert reference.success

    problem = pygmo.problem(LuksanVlcek())
    problem.c_tol = [1e-7] * 6
    population = pygmo.population(problem)
    population.push_back(LV_START)
    algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=100, max_correction_iterations=100,
                                           optimization_method=method, khan_bounds=True))
    population = algo.evolve(population)
    x, f = population.get_x()[0], population.get_f()[0]
    assert f[0] == pytest.approx(reference.fun, abs=1e-7) and f[0] == pytest.approx(0.8411827, abs=1e-6)
    assert x == pytest.approx(reference.x, abs=1e-5)
    assert np.all(np.abs(f[1:5]) < 1e-6) and np.all(f[5:] < 1e-6)
    assert algo.extract(pyoptgra.optgra).last_result.status == 1
