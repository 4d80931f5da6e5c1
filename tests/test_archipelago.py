"""pygmo archipelagos of multiprocessing islands (spawned processes) run optgra."""

import pickle

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
