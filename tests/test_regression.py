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


@pytest.mark.parametrize("khan", [True, "tanh", "triangle3", "triangle4"])
@pytest.mark.parametrize("method", [0, 1, 2, 3])
def test_luksan_vlcek_with_khan_bounds_reaches_the_local_minimum_slsqp_finds(method, khan):
    """With Khan bounds and the correct chain rule (taken at the engine's variable), the path
    from LV_START leads to the neighbouring local minimum f = 0.8411827, the one SLSQP reaches from
    the same start, for every transform.  The reference reaches 0.8292921 with "sin" because its
    chain rule is evaluated at the transformed point (SPEC 1.4.7), which bends its path.  (Before
    the engine took back steps after which the correction stopped converging, "tanh" stalled at
    the non-stationary f = 1.0718 and "triangle3" ended elsewhere.)"""
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
                                           optimization_method=method, khan_bounds=khan))
    population = algo.evolve(population)
    x, f = population.get_x()[0], population.get_f()[0]
    assert f[0] == pytest.approx(reference.fun, abs=1e-7) and f[0] == pytest.approx(0.8411827, abs=1e-6)
    assert x == pytest.approx(reference.x, abs=1e-5)
    assert np.all(np.abs(f[1:5]) < 1e-6) and np.all(f[5:] < 1e-6)
    assert algo.extract(pyoptgra.optgra).last_result.status == 1


class _TanhLuksanVlcek:
    """Luksan-Vlcek in the variable of the tanh bound transform, X = khan.eval(xk), as a plain UDP."""

    def __init__(self):
        self.khan = pyoptgra.khan_function_tanh([-5.0] * 6, [5.0] * 6)
        self.udp = LuksanVlcek()

    def fitness(self, xk):
        return self.udp.fitness(self.khan.eval(xk))

    def gradient(self, xk):
        jacobian = np.reshape(self.udp.gradient(self.khan.eval(xk)), (7, 6))
        return (jacobian @ self.khan.eval_grad(xk)).ravel()

    def get_bounds(self):
        return ([-np.inf] * 6, [np.inf] * 6)

    def get_nec(self):
        return 4

    def get_nic(self):
        return 2


def test_a_step_the_correction_cannot_recover_from_is_taken_back():
    """From this feasible point the first step (length 9.7) lands where the constraints are off by
    5e3 and their linearisations stop converging.  The engine must go back and shorten the step;
    it used to wander infeasible for the whole budget and return the start (f = 1.0718) with
    status 2."""
    problem = pygmo.problem(_TanhLuksanVlcek())
    problem.c_tol = [1e-7] * 6
    start = [0.48187974, 0.45871819, -0.23765012, 0.4079414, 0.29847961, 0.72931215]
    result = pyoptgra.optgra(max_iterations=20, optimization_method=1).solve(problem, start)
    assert result.status == pyoptgra.Status.OPTIMAL
    assert result.objective == pytest.approx(0.8411827, abs=1e-6)
    assert result.feasible and result.iterations < 20
