"""Constructor: reference defaults and validation (SPEC 1.2, 6.1)."""

import pickle

import numpy as np
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


# -- every argument, wrong types and values: the error names the argument --------------------
NAN, INF = float("nan"), float("inf")
T, V = TypeError, ValueError
INTEGERS = {  # argument: its error for -1
    "max_iterations": V, "max_correction_iterations": V, "optimization_method": V, "log_level": V,
    "max_evaluations": V,
}
REALS = ["max_distance_per_iteration", "perturbation_for_snd_order_derivatives", "bound_constraints_tolerance",
         "merit_function_threshold", "timeout_seconds"]
FLAGS = ["bounds_to_constraints", "force_bounds", "check_gradient"]
BAD = (
    [(name, value, error) for name in INTEGERS for value, error in [
        ("abc", T), ([1], T), ([[1]], T), (NAN, T), (INF, T), (1.5, T), (True, T), (-1, INTEGERS[name])]]
    + [(name, None, T) for name in INTEGERS if name != "max_evaluations"]
    + [(name, value, error) for name in REALS for value, error in [
        ("abc", T), ([1.0], T), ([[1.0]], T), (True, T), (NAN, V), (INF, V), (-1.0, V), (-1, V), (10**400, V)]]
    + [(name, None, T) for name in REALS if name != "timeout_seconds"]
    + [(name, value, T) for name in FLAGS for value in ["abc", "False", None, [True], NAN, 2, 0.5, -1]]
    + [("khan_bounds", value, V) for value in
       ["foo", "", "SIN", "triangle", "trianglex", "triangle0", "triangle-1", "triangle 3", 2, 0, 1, -1, NAN, [True], ["sin"]]]
    + [(name, value, T) for name in ["variable_scaling_factors", "variable_types", "constraint_priorities"]
       for value in ["ab", "", 5, 5.0, NAN, True, [[1.0]], ["1"], [True], [None], [1.0, [1.0]], {1: 1.0}, {1.0}]]
    + [("variable_scaling_factors", value, V) for value in [[NAN], [INF], [-1.0], [0.0], [1.0, -INF], [10**400]]]
    + [("variable_types", value, error) for value, error in [([NAN], T), ([0.5], T), ([-1], V), ([2], V)]]
    + [("constraint_priorities", value, T) for value in [[NAN], [INF], [1.5]]]
    + [("finite_difference_step", value, error) for value, error in [
        ("abc", T), (True, T), ([[0.1]], T), (["0.1"], T), ([True], T), ([0.1, None], T),
        (NAN, V), (INF, V), (-1.0, V), (0, V), ([], V), ([0.1, -0.1], V), ([0.1, NAN], V)]]
)


@pytest.mark.parametrize("name, value, error", BAD, ids=[f"{n}={v!r}"[:60] for n, v, _ in BAD])
def test_a_wrong_argument_raises_naming_it(name, value, error):
    with pytest.raises((TypeError, ValueError)) as caught:
        pyoptgra.optgra(**{name: value})
    assert caught.type is error, f"{name}={value!r}: {caught.type.__name__}: {caught.value}"
    assert name in str(caught.value), f"{name}={value!r}: {caught.value}"


def test_none_means_empty_for_the_list_arguments():
    a = pyoptgra.optgra(variable_scaling_factors=None, variable_types=None, constraint_priorities=None)
    assert a.variable_scaling_factors == [] and a.variable_types == [] and a.constraint_priorities == []


@pytest.mark.parametrize("option", [False, None, True, "sin", "tanh", "triangle1", "triangle12"])
def test_valid_khan_options_are_accepted_and_kept(option):
    assert pyoptgra.optgra(khan_bounds=option).khan_bounds is option


def test_flags_accept_booleans_and_zero_or_one():
    a = pyoptgra.optgra(bounds_to_constraints=0, force_bounds=np.True_, check_gradient=1)
    assert (a.bounds_to_constraints, a.force_bounds, a.check_gradient) == (False, True, True)
    assert all(type(v) is bool for v in (a.bounds_to_constraints, a.force_bounds, a.check_gradient))


def test_numpy_numbers_and_arrays_are_accepted():
    a = pyoptgra.optgra(np.int64(5), variable_scaling_factors=np.array([2.0, 0.5]), variable_types=np.array([0, 1]),
                        finite_difference_step=np.float64(0.1), max_distance_per_iteration=np.float32(2.0))
    assert (a.max_iterations, a.variable_scaling_factors, a.variable_types) == (5, [2.0, 0.5], [0, 1])
    assert a.finite_difference_step.tolist() == [0.1] and a.max_distance_per_iteration == 2.0
