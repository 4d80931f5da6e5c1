"""Reliability (issue 5, item 10): property-based tests with hypothesis.

- valid constructor arguments are accepted and stored; an invalid one (any argument, wrong
  types included) gives a ValueError or TypeError whose message names the argument;
- random small problems (dimensions, constraint counts, bounds, scaling, priorities, fixed
  variables, settings) never crash, hang or return a non-finite x, and fixed variables stay put.

Example counts are modest: the suite runs on small machines.
"""

import math
import os

import numpy as np
import pygmo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyoptgra

#: HYPOTHESIS_SCALE=30 multiplies the example counts, for a thorough run by hand
SCALE = int(os.environ.get("HYPOTHESIS_SCALE", "1"))
FAST = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- constructor ------------------------------------------------------------------------------

counts = st.integers(0, 10**6)
distances = st.floats(0, 1e6, allow_nan=False)
positive = st.floats(1e-12, 1e6, allow_nan=False, exclude_min=False)
lists_of_positive = st.lists(st.floats(1e-6, 1e6), max_size=6)

VALID = {
    "max_iterations": counts,
    "max_correction_iterations": counts,
    "max_distance_per_iteration": distances,
    "perturbation_for_snd_order_derivatives": distances,
    "variable_scaling_factors": lists_of_positive | lists_of_positive.map(tuple) | lists_of_positive.map(np.array),
    "variable_types": st.lists(st.sampled_from([0, 1]), max_size=6),
    "constraint_priorities": st.lists(st.integers(-5, 5), max_size=8),
    "bounds_to_constraints": st.booleans(),
    "bound_constraints_tolerance": positive,
    "merit_function_threshold": positive,
    "force_bounds": st.booleans(),
    "khan_bounds": st.sampled_from([False, True, "sin", "tanh", "triangle1", "triangle3"]),
    "optimization_method": st.sampled_from([0, 1, 2, 3]),
    "log_level": st.integers(0, 4),
    "timeout_seconds": st.none() | distances,
    "finite_difference_step": positive | st.lists(positive, min_size=1, max_size=6),
    "check_gradient": st.booleans(),
}


@FAST
@given(st.fixed_dictionaries({}, optional=VALID))
def test_valid_constructor_arguments_are_accepted(kwargs):
    algo = pyoptgra.optgra(**kwargs)
    for name, value in kwargs.items():
        stored = getattr(algo, name)
        if name in ("variable_scaling_factors", "variable_types", "constraint_priorities"):
            assert list(stored) == [type(stored[0])(v) for v in value] if len(value) else list(stored) == []
        elif name == "finite_difference_step":
            assert np.array_equal(np.atleast_1d(stored), np.atleast_1d(np.asarray(value, dtype=float)))
        elif name in ("bounds_to_constraints", "force_bounds", "check_gradient", "khan_bounds"):
            assert stored == value
        elif value is not None:
            assert stored == value
    assert "Optgra" in algo.get_extra_info()


not_a_number = st.sampled_from([None, "1", [1], {}, object()])
not_a_list = st.text() | st.floats() | st.integers() | st.booleans() | st.sampled_from([{}, {1.0}, object()])
not_a_flag = st.text() | st.floats() | st.integers().filter(lambda v: v not in (0, 1)) | not_a_number
integral_floats = st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not (math.isfinite(v) and v == int(v)))

INVALID = {
    "max_iterations": st.integers(max_value=-1) | integral_floats | st.booleans() | not_a_number,
    "max_correction_iterations": st.integers(max_value=-1) | integral_floats | not_a_number,
    "max_distance_per_iteration": st.floats(max_value=-1e-300) | st.sampled_from([math.nan, math.inf]) | not_a_number,
    "perturbation_for_snd_order_derivatives": st.floats(max_value=-1e-300) | st.sampled_from([math.nan, math.inf])
    | not_a_number,
    "variable_scaling_factors": st.lists(st.floats(max_value=0.0) | st.sampled_from([math.nan, math.inf]), min_size=1,
                                         max_size=4) | not_a_list | st.lists(not_a_number, min_size=1, max_size=3),
    "variable_types": st.lists(st.integers().filter(lambda v: v not in (0, 1)), min_size=1, max_size=4)
    | st.lists(st.floats(), min_size=1, max_size=3),
    "constraint_priorities": st.lists(st.floats(), min_size=1, max_size=3) | not_a_list,
    "bounds_to_constraints": not_a_flag,
    "force_bounds": not_a_flag,
    "check_gradient": not_a_flag,
    "khan_bounds": st.text().filter(lambda v: v not in ("sin", "tanh") and not (v[8:].isdigit() and v[8:].isascii()
                                                                              and v.startswith("triangle") and int(v[8:])))
    | st.integers() | st.floats() | st.lists(st.booleans(), max_size=2),
    "bound_constraints_tolerance": st.floats(max_value=0.0) | st.sampled_from([math.nan, math.inf]) | not_a_number,
    "merit_function_threshold": st.floats(max_value=0.0) | st.sampled_from([math.nan, math.inf]) | not_a_number,
    "optimization_method": st.integers().filter(lambda v: v not in (0, 1, 2, 3)) | st.floats() | not_a_number,
    "log_level": st.integers(max_value=-1) | st.floats() | not_a_number,
    "timeout_seconds": st.floats(max_value=-1e-300) | st.sampled_from([math.nan, math.inf]) | st.just("1"),
    "finite_difference_step": st.floats(max_value=0.0) | st.sampled_from([math.nan, math.inf])
    | st.lists(st.floats(max_value=0.0), min_size=1, max_size=3) | st.text() | st.just([]),
    "max_evaluations": st.integers(max_value=0) | integral_floats | st.booleans() | st.sampled_from(["1", [1], {}]),
}


@FAST
@given(st.sampled_from(sorted(INVALID)).flatmap(lambda name: st.tuples(st.just(name), INVALID[name])),
       st.fixed_dictionaries({}, optional=VALID))
def test_an_invalid_constructor_argument_is_named(bad, others):
    name, value = bad
    kwargs = {**others, name: value}
    with pytest.raises((ValueError, TypeError)) as caught:
        pyoptgra.optgra(**kwargs)
    # the message names the argument (list arguments: "<name> entry ...")
    assert name in str(caught.value), f"{name}={value!r}: {caught.value}"


# -- random small problems --------------------------------------------------------------------


class Random:
    """f = sum w_i (x_i - c_i)^2 + s * sum sin(x), equalities a.x + q x^2 = b, inequalities likewise,
    all from numbers drawn by hypothesis."""

    def __init__(self, n, nec, nic, data, lower, upper, with_gradient):
        self.n, self.nec, self.nic = n, nec, nic
        m = nec + nic
        self.w = np.asarray(data[:n]) ** 2 + 0.1
        self.c = np.asarray(data[n: 2 * n])
        self.s = data[2 * n] / 10
        self.A = np.asarray(data[2 * n + 1: 2 * n + 1 + m * n]).reshape(m, n)
        self.b = np.asarray(data[2 * n + 1 + m * n: 2 * n + 1 + m * n + m])
        self.q = 0.1 * np.asarray(data[2 * n + 1 + m * n + m: 2 * n + 1 + 2 * m * n + m]).reshape(m, n)
        self.lower, self.upper = lower, upper
        self.with_gradient = with_gradient

    def fitness(self, x):
        f = np.sum(self.w * (x - self.c) ** 2) + self.s * np.sum(np.sin(x))
        return np.concatenate([[f], self.A @ x + self.q @ (x * x) - self.b])

    def gradient(self, x):
        g = 2 * self.w * (x - self.c) + self.s * np.cos(x)
        return np.concatenate([g, (self.A + 2 * self.q * x).ravel()])

    def has_gradient(self):
        return self.with_gradient

    def get_bounds(self):
        return (self.lower, self.upper)

    def get_nec(self):
        return self.nec

    def get_nic(self):
        return self.nic


BOUND = st.one_of(st.floats(-5, 5), st.sampled_from([math.inf, 1e300, 1e308]))


@st.composite
def problems(draw):
    n = draw(st.integers(1, 4))
    nec = draw(st.integers(0, n))
    nic = draw(st.integers(0, 3))
    m = nec + nic
    data = draw(st.lists(st.floats(-3, 3), min_size=3 * n + 1 + 2 * m * n + m, max_size=3 * n + 1 + 2 * m * n + m))
    lower, upper = [], []
    for _ in range(n):
        a, b = draw(BOUND), draw(BOUND)
        lo, hi = (-a if math.isinf(a) or a >= 1e300 else a), (b if math.isinf(b) or b >= 1e300 else b)
        lo, hi = min(lo, hi), max(lo, hi)
        lower.append(lo)
        upper.append(hi)
    udp = Random(n, nec, nic, data, lower, upper, draw(st.booleans()))
    x0 = [draw(st.floats(max(lo, -6), min(hi, 6))) if lo <= hi else lo for lo, hi in zip(lower, upper)]
    return udp, x0


@st.composite
def configurations(draw, udp):
    n, m = udp.n, udp.nec + udp.nic
    bounds_to_constraints = draw(st.booleans())
    finite = lambda b: math.isfinite(b) and abs(b) < 1e295  # noqa: E731
    n_rows = sum(finite(b) for b in udp.lower) + sum(finite(b) for b in udp.upper) if bounds_to_constraints else 0
    kwargs = dict(
        max_iterations=draw(st.integers(0, 40)),
        max_correction_iterations=draw(st.integers(0, 40)),
        max_distance_per_iteration=draw(st.sampled_from([0.0, 1e-3, 0.5, 10.0, 1e3])),
        perturbation_for_snd_order_derivatives=draw(st.sampled_from([0.0, 1e-3, 1.0, 100.0])),
        bounds_to_constraints=bounds_to_constraints,
        bound_constraints_tolerance=draw(st.sampled_from([1e-9, 1e-6, 1e-2])),
        merit_function_threshold=draw(st.sampled_from([1e-9, 1e-6, 1e-2])),
        force_bounds=draw(st.booleans()),
        optimization_method=draw(st.integers(0, 3)),
    )
    if draw(st.booleans()):
        kwargs["variable_scaling_factors"] = draw(st.lists(st.sampled_from([1e-3, 0.5, 1.0, 7.0, 1e3]), min_size=n, max_size=n))
    if draw(st.booleans()):
        kwargs["variable_types"] = draw(st.lists(st.sampled_from([0, 0, 1]), min_size=n, max_size=n))
    if draw(st.booleans()):
        levels = st.integers(0, 3) | st.integers(-(10**12), 10**12)
        kwargs["constraint_priorities"] = draw(st.lists(levels, min_size=m + n_rows + 1, max_size=m + n_rows + 1))
    both_or_neither = all(finite(lo) == finite(hi) for lo, hi in zip(udp.lower, udp.upper))
    if both_or_neither and draw(st.booleans()):
        kwargs["khan_bounds"] = draw(st.sampled_from(["sin", "tanh", "triangle3"]))
    return kwargs


@settings(max_examples=80 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
@pytest.mark.timeout(240 * SCALE)
def test_random_small_problems_never_crash_hang_or_return_non_finite_x(data):
    udp, x0 = data.draw(problems())
    kwargs = data.draw(configurations(udp))
    population = pygmo.population(pygmo.problem(udp))
    population.push_back(x0)
    algo = pygmo.algorithm(pyoptgra.optgra(**kwargs))
    population = algo.evolve(population)
    result = algo.extract(pyoptgra.optgra).last_result
    assert result.status in (1, 2, 3, 4)
    assert np.all(np.isfinite(result.x)) and np.all(np.isfinite(result.fitness))
    assert np.all(np.isfinite(population.get_x()[0]))
    fixed = np.asarray(kwargs.get("variable_types", [0] * udp.n)) == 1
    # fixed variables come back exactly, whatever the scaling or bound transform
    assert np.array_equal(result.x[fixed], np.asarray(x0)[fixed])


@pytest.mark.parametrize("max_distance", [0.0, 10.0])
def test_gradients_of_norm_1e_150_do_not_overflow_the_correction(max_distance, caplog):
    """Found by the property test above: at x = 4e-159 the equality 0.3 x^2 = 1 has the gradient
    2.5e-159 (2.5e-150 in tolerances of 1e-9), and the correction's step A^+ (-c) to it, some
    1e308 long, overflowed: the merit became NaN and the run then evaluated the problem at
    x = NaN.  A direction beyond the floating-point range is not stepped along."""
    import logging

    data = [-1.0, 1.0, 0.0, 0.0, 1e-300, -3.0, 1.0, -2.2, 0.5, 3.0, 1.0, -1.0, -2.2]
    udp = Random(1, 1, 2, data, [-1.964910734004893], [4.050025708181295], True)
    points = []
    fitness = udp.fitness
    udp.fitness = lambda x: points.append(np.array(x)) or fitness(x)
    algo = pyoptgra.optgra(max_iterations=1, max_correction_iterations=1, max_distance_per_iteration=max_distance,
                           perturbation_for_snd_order_derivatives=0.0, bounds_to_constraints=False,
                           bound_constraints_tolerance=1e-9, merit_function_threshold=1e-9, optimization_method=0,
                           log_level=2)
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        result = algo.solve(udp, [4.1039128036298043e-159])
    assert not any("NaN" in r.getMessage() for r in caplog.records)
    assert result.status == pyoptgra.Status.NOT_MATCHED   # 2.2 + 0.1 x^2 <= 0 has no solution
    assert np.all(np.isfinite(result.x)) and np.all(np.isfinite(result.fitness))
    assert all(np.all(np.isfinite(p)) for p in points)


@pytest.mark.parametrize("max_distance", [1e6, 1e160, 1e300])
def test_a_radius_beyond_1e154_means_no_limit(max_distance):
    """radius^2 overflowed in the ball step for radii beyond 1e154 (a user's "no limit"): HS 71
    then ended NOT_MATCHED after its first evaluation.  Such a radius now limits nothing."""
    problem = pygmo.problem(pygmo.hock_schittkowski_71())
    problem.c_tol = [1e-6] * problem.get_nc()
    result = pyoptgra.optgra(max_distance_per_iteration=max_distance).solve(problem, [1.0, 5.0, 5.0, 1.0])
    assert result.status == pyoptgra.Status.OPTIMAL, result.message
    assert result.objective == pytest.approx(17.0140173, rel=1e-7)


def test_a_next_point_beyond_the_floating_point_range_is_not_evaluated():
    """Equalities whose gradients are ~1e-160 (1e-151 of their tolerances) at the start: the
    optimisation step's second-order correction A^+ q overflowed, and the run asked the problem
    for its fitness at x = NaN.  The engine never evaluates a non-finite point: the run stops
    where it stood (MATCHED here: the start is feasible), with the reason STUCK."""
    data = [0.0, 1e-200, 1e-160, 3.0, -3.0, 1.0, 0.0, 3.0, 1e-300, 1e-200, 1e-200, 0.0, 0.0, 1e-200,
            1e-200, -1.0, 1e-160, 1e-200, 1e-200, -3.0, -1.0, -2.2, -3.0, 0.5]
    udp = Random(3, 2, 0, data, [-0.9868258822065714, -4.596365828460135, -1.272706097064538],
                 [1.95460371345898, 2.3042116009320446, 0.5474197288966681], True)
    points = []
    fitness = udp.fitness
    udp.fitness = lambda x: points.append(np.array(x)) or fitness(x)
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-9, 1e-9]
    algo = pyoptgra.optgra(max_iterations=4, max_correction_iterations=14, max_distance_per_iteration=0.5,
                           merit_function_threshold=1e-9, optimization_method=1)
    result = algo.solve(problem, [1e-160] * 3)
    assert all(np.all(np.isfinite(p)) for p in points)
    assert result.status == pyoptgra.Status.MATCHED and result.reason == pyoptgra.StopReason.STUCK
    assert np.all(np.isfinite(result.x)) and np.all(np.isfinite(result.fitness))
