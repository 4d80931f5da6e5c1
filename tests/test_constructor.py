"""Constructor: reference defaults and validation (SPEC 1.2, 6.1)."""

import pickle

import pytest

import pyoptgra


def test_defaults_match_the_reference():
    a = pyoptgra.optgra()
    assert (a.max_iterations, a.max_correction_iterations) == (150, 90)
    assert (a.max_distance_per_iteration, a.perturbation_for_snd_order_derivatives) == (10.0, 1.0)
    assert a.variable_scaling_factors == [] and a.variable_types == [] and a.constraint_priorities == []
    assert a.bounds_to_constraints is True and a.force_bounds is False and a.khan_bounds is False
    assert (a.bound_constraints_tolerance, a.merit_function_threshold) == (1e-6, 1e-6)
    assert (a.optimization_method, a.log_level, a.timeout_seconds, a.verbosity) == (2, 0, None, 0)


def test_optimize_is_optgra():
    assert pyoptgra.optimize is pyoptgra.optgra


def test_positional_order_matches_the_reference():
    a = pyoptgra.optgra(10, 5, 2.0, 0.5, [1.0], [0], [1, 1], False, 1e-5, 1e-4, True, "tanh", 1, 0, 3.0)
    assert (a.max_iterations, a.max_correction_iterations, a.max_distance_per_iteration) == (10, 5, 2.0)
    assert (a.perturbation_for_snd_order_derivatives, a.variable_scaling_factors, a.variable_types) == (0.5, [1.0], [0])
    assert (a.constraint_priorities, a.bounds_to_constraints, a.bound_constraints_tolerance) == ([1, 1], False, 1e-5)
    assert (a.merit_function_threshold, a.force_bounds, a.khan_bounds) == (1e-4, True, "tanh")
    assert (a.optimization_method, a.log_level, a.timeout_seconds) == (1, 0, 3.0)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"optimization_method": 5}, "optimization_method"),
        ({"max_iterations": -1}, "max_iterations"),
        ({"max_correction_iterations": -1}, "max_correction_iterations"),
        ({"max_distance_per_iteration": -1.0}, "max_distance_per_iteration"),
        ({"perturbation_for_snd_order_derivatives": -1.0}, "perturbation_for_snd_order_derivatives"),
        ({"variable_scaling_factors": [1.0, 0.0]}, "variable_scaling_factors"),
        ({"variable_types": [0, 2]}, "variable_types"),
        ({"merit_function_threshold": 0.0}, "merit_function_threshold"),
        ({"bound_constraints_tolerance": -1e-6}, "bound_constraints_tolerance"),
        ({"finite_difference_step": 0.0}, "finite_difference_step"),
    ],
)
def test_invalid_values_raise_value_error_naming_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        pyoptgra.optgra(**kwargs)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="max_iterations"):
        pyoptgra.optgra(max_iterations=1.5)


def test_zero_distances_are_accepted():
    assert pyoptgra.optgra(max_distance_per_iteration=0, perturbation_for_snd_order_derivatives=0).max_distance_per_iteration == 0


def test_algorithm_pickles():
    a = pyoptgra.optgra(max_iterations=7, variable_scaling_factors=[2.0])
    b = pickle.loads(pickle.dumps(a))
    assert (b.max_iterations, b.variable_scaling_factors) == (7, [2.0])
