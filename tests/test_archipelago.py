"""pygmo archipelagos of multiprocessing islands (spawned processes) run optgra."""

import pickle

import numpy as np
import pygmo
import pytest

import pyoptgra


def test_mp_island_archipelago_improves_every_island():
    algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=30))
    archi = pygmo.archipelago(2, udi=pygmo.mp_island(), algo=algo, prob=pygmo.rosenbrock(5), pop_size=3, seed=7)
    before = [f[0] for f in archi.get_champions_f()]
    archi.evolve()
    archi.wait_check()
    after = [f[0] for f in archi.get_champions_f()]
    assert all(a < b for a, b in zip(after, before))


def test_configuration_error_reaches_wait_check():
    algo = pygmo.algorithm(pyoptgra.optgra(variable_scaling_factors=[1.0, 1.0, 1.0]))
    archi = pygmo.archipelago(1, udi=pygmo.mp_island(), algo=algo, prob=pygmo.rosenbrock(2), pop_size=2, seed=1)
    archi.evolve()
    with pytest.raises(RuntimeError, match="variable_scaling_factors"):
        archi.wait_check()


def test_algorithm_round_trips_through_pickle():
    algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=12))
    assert repr(pickle.loads(pickle.dumps(algo))) == repr(algo)



@pytest.mark.timeout(120)
def test_algorithm_with_a_sensitivity_state_runs_in_mp_islands():
    """The UDA travels to the spawned workers with its prepared state and comes back with it,
    plus the last_result of the run made there, which is the run the parent would have made."""
    problem = pygmo.problem(pygmo.hock_schittkowski_71())  # 4 variables, 1 equality, 1 inequality
    problem.c_tol = [1e-8, 1e-8]
    uda = pyoptgra.optgra(max_iterations=60)
    uda.prepare_sensitivity(problem, [1.0, 4.743, 3.821, 1.379])  # near the optimum
    state, matrices = uda.sensitivity_state, uda.sensitivity_matrices()
    assert state is not None and uda.last_result is None

    archi = pygmo.archipelago(2, udi=pygmo.mp_island(), algo=pygmo.algorithm(uda), prob=problem, pop_size=2, seed=3)
    starts = [island.get_population().champion_x for island in archi]
    before = [island.get_population().champion_f[0] for island in archi]
    archi.evolve()
    archi.wait_check()

    for island, x0, f0 in zip(archi, starts, before):
        champion_x, champion_f = island.get_population().champion_x, island.get_population().champion_f
        assert champion_f[0] < f0 and problem.feasibility_x(champion_x)
        # correct: the same local optimum as a run from the same start in this process
        expected = pyoptgra.optgra(max_iterations=60).solve(problem, x0)
        np.testing.assert_allclose(champion_x, expected.x, rtol=1e-12, atol=0)
        back = island.get_algorithm().extract(pyoptgra.optgra)
        assert back is not None
        # the state is intact: equal arrays, and the same matrices from them
        assert back.sensitivity_state == state
        assert back.sensitivity_matrices()[0] == matrices[0]
        for got, want in zip(back.sensitivity_matrices()[1:], matrices[1:]):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        # last_result is the run made in the child: it found this island's champion
        result = back.last_result
        assert result is not None and result.status == pyoptgra.Status.OPTIMAL and result.feasible
        np.testing.assert_array_equal(result.x, champion_x)
        np.testing.assert_array_equal(result.fitness, champion_f)
    assert uda.last_result is None  # the parent's own object never ran
