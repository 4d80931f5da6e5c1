"""evolve: validation, the problem mapping, write-back and reporting (SPEC 1.3-1.8, 6.2-6.6, 6.19)."""

import numpy as np
import pygmo
import pytest

import pyoptgra
from problems import BoxLinear, Hs71, MixedInteger


def one_individual(udp, x0):
    population = pygmo.population(pygmo.problem(udp))
    population.push_back(x0)
    return population


def test_empty_population():
    with pytest.raises(ValueError, match="empty"):
        pyoptgra.optgra().evolve(pygmo.population(pygmo.problem(pygmo.rosenbrock(2))))


def test_multi_objective():
    with pytest.raises(ValueError, match="objective"):
        pyoptgra.optgra().evolve(pygmo.population(pygmo.problem(pygmo.zdt(1, 5)), 1, seed=1))


def test_stochastic():
    with pytest.raises(ValueError, match="stochastic"):
        pyoptgra.optgra().evolve(pygmo.population(pygmo.problem(pygmo.inventory(2, 5)), 1, seed=1))


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"variable_scaling_factors": [1.0] * 29}, "variable_scaling_factors"),
        ({"variable_types": [0] * 29}, "variable_types"),
        ({"constraint_priorities": [1, 1]}, "constraint_priorities"),
    ],
)
def test_length_mismatches(kwargs, word):
    population = pygmo.population(pygmo.problem(pygmo.schwefel(30)), 1, seed=1)
    with pytest.raises(ValueError, match=word):
        pyoptgra.optgra(**kwargs).evolve(population)


def test_correct_lengths_work_and_improve_schwefel():
    population = pygmo.population(pygmo.problem(pygmo.schwefel(30)), 1, seed=1)
    before = population.champion_f[0]
    population = pyoptgra.optgra(variable_scaling_factors=[1.0] * 30, constraint_priorities=[1] * 61).evolve(population)
    assert population.champion_f[0] < before


def test_rosenbrock_with_gradient_improves():
    population = pygmo.population(pygmo.problem(pygmo.rosenbrock(30)), 1, seed=1)
    before = population.champion_f[0]
    population = pyoptgra.optgra().evolve(population)
    assert population.champion_f[0] < before


@pytest.mark.parametrize("option", ["foo", 2, "triangle", "trianglex"])
def test_invalid_khan_option(option):
    with pytest.raises(ValueError, match="khan_bounds"):  # in the constructor
        pyoptgra.optgra(khan_bounds=option)
    algo = pyoptgra.optgra()
    algo.khan_bounds = option  # set later: caught before the run
    population = pygmo.population(pygmo.problem(pygmo.rosenbrock(2)), 1, seed=1)
    with pytest.raises(ValueError, match="khan_bounds"):
        algo.evolve(population)


def test_nan_start_point_names_the_variable():
    population = one_individual(pygmo.rosenbrock(3), [0.5, np.nan, 0.5])
    with pytest.raises(ValueError, match=r"\[1\]"):
        pyoptgra.optgra().evolve(population)


def test_integer_variables_are_rejected_unless_fixed():
    with pytest.raises(ValueError, match="integer"):
        pyoptgra.optgra().evolve(one_individual(MixedInteger(), [1.0, 1.0]))
    population = pyoptgra.optgra(variable_types=[0, 1]).evolve(one_individual(MixedInteger(), [1.0, 2.0]))
    assert population.get_x()[0] == pytest.approx([0.3, 2.0], abs=1e-4)


def test_box_bounds_as_constraints():
    population = one_individual(BoxLinear(), [-0.5, 1.5])
    with pytest.raises(ValueError, match="constraint_priorities"):
        pyoptgra.optgra(constraint_priorities=[1] * 5).evolve(population)
    x = pyoptgra.optgra(constraint_priorities=[1] * 3).evolve(population).get_x()[0]
    assert x[0] >= -1e-6 and x[1] <= 1 + 1e-6
    x = pyoptgra.optgra(bound_constraints_tolerance=1e-20).evolve(one_individual(BoxLinear(), [-0.5, 1.5])).get_x()[0]
    assert x[0] >= -1e-20 and x[1] <= 1 + 1e-20


def test_zero_c_tol_means_1e_6_not_1():
    """pygmo's default c_tol = 0 must not accept violations below 1 (the reference's defect)."""

    class Tiny:
        def fitness(self, x):
            return [x[0] ** 2 + x[1] ** 2, x[0] + x[1] - 0.5, 0.5 - x[0]]

        def get_bounds(self):
            return ([-np.inf] * 2, [np.inf] * 2)

        def get_nec(self):
            return 1

        def get_nic(self):
            return 1

    population = pyoptgra.optgra().evolve(one_individual(Tiny(), [0.0, 0.0]))
    assert population.get_x()[0] == pytest.approx([0.5, 0.0], abs=1e-6)


def test_small_objective_is_optimised_not_declared_converged():
    """An objective whose whole attainable gain is below 1 is still minimised."""

    class Small:
        def fitness(self, x):
            return [1e-3 * ((x[0] - 3) ** 2 + (x[1] + 1) ** 2)]

        def get_bounds(self):
            return ([-np.inf] * 2, [np.inf] * 2)

        def gradient(self, x):
            return [2e-3 * (x[0] - 3), 2e-3 * (x[1] + 1)]

    x = pyoptgra.optgra().evolve(one_individual(Small(), [0.0, 0.0])).get_x()[0]
    assert x == pytest.approx([3.0, -1.0], abs=1e-2)


def test_unconstrained_gradient_problem_without_bound_rows():
    population = pyoptgra.optgra(bounds_to_constraints=False).evolve(pygmo.population(pygmo.problem(pygmo.rosenbrock(2)), 1, seed=3))
    assert population.champion_f[0] < 1e-3


def test_population_never_gets_worse():
    """A run stopped after one iteration from a good start must not overwrite it with a worse point."""
    population = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()))
    population.push_back([1.0, 4.743, 3.82115, 1.37941])
    before = population.get_f()[0].copy()
    population = pyoptgra.optgra(max_iterations=0).evolve(population)
    assert population.get_f()[0][0] <= before[0] + 1e-12


def test_force_bounds_keeps_evaluations_in_the_box():
    seen = []

    class Recording(BoxLinear):
        def fitness(self, x):
            seen.append(np.array(x))
            return super().fitness(x)

    pyoptgra.optgra().evolve(one_individual(Recording(), [-0.5, 1.5]))
    assert any(x[0] < 0 or x[1] > 1 for x in seen)
    population = one_individual(Recording(), [-0.5, 1.5])
    seen.clear()
    population = pyoptgra.optgra(force_bounds=True, bounds_to_constraints=False).evolve(population)
    assert all(x[0] >= 0 and x[1] <= 1 for x in seen)
    x = population.get_x()[0]
    assert x[0] >= 0 and x[1] <= 1


@pytest.mark.parametrize("option", [True, "sin", "tanh", "triangle4"])
def test_khan_bounds_keep_evaluations_in_the_box(option):
    seen = []

    class Recording:
        def fitness(self, x):
            seen.append(np.array(x))
            return [(x[0] + 2.0) ** 2 + (x[1] - 0.3) ** 2]

        def get_bounds(self):
            return ([0.0, 0.0], [1.0, 1.0])

    x = pyoptgra.optgra(khan_bounds=option).evolve(one_individual(Recording(), [0.5, 0.5])).get_x()[0]
    assert all(np.all(s >= 0) and np.all(s <= 1) for s in seen)
    assert x[1] == pytest.approx(0.3, abs=1e-3) and x[0] <= 0.05


def test_name_extra_info_and_verbosity(capsys):
    algo = pyoptgra.optgra()
    assert algo.get_name() == "Optgra"
    assert "no result" in algo.get_extra_info()
    with pytest.raises(ValueError, match="log_level"):
        pyoptgra.optgra(log_level=1).set_verbosity(1)
    algo.set_verbosity(1)
    population = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()))
    population.push_back([1.0, 5.0, 5.0, 1.0])
    uda = pygmo.algorithm(algo)
    uda.evolve(population)
    info = uda.get_extra_info()
    assert "iterations" in info and "Optimal Solution Found" in info
    log = uda.extract(pyoptgra.optgra).get_log()
    assert log and log[-1][4] is True and log[0][0] == 1
    assert "fevals:" in capsys.readouterr().out


class _SeparableBoxQuadratic:
    """sum (x_i - c_i)^2 over [-1, 1]^n with most c_i outside the box: the walk of the first
    iteration reaches one bound after another."""

    def __init__(self, n=200):
        self.c = np.random.default_rng(0).uniform(-2.0, 2.0, n)

    def fitness(self, x):
        return [float(np.sum((x - self.c) ** 2))]

    def gradient(self, x):
        return 2.0 * (x - self.c)

    def get_bounds(self):
        return ([-1.0] * len(self.c), [1.0] * len(self.c))


def test_reaching_a_bound_costs_no_evaluation():
    """Once a step has spent its few probes, the direction after a box bound is modelled from the
    last probe's Rayleigh quotients: each iteration costs its linearisation and at most four
    probes (with their refinements), not one probe per bound reached (this problem, whose first
    step reaches more than a hundred bounds, used to take 291 fitness calls)."""
    udp = _SeparableBoxQuadratic()
    result = pyoptgra.optgra().solve(pygmo.problem(udp), np.zeros(len(udp.c)))
    assert result.status == pyoptgra.Status.OPTIMAL
    optimum = np.clip(udp.c, -1.0, 1.0)
    assert result.objective == pytest.approx(udp.fitness(optimum)[0], abs=1e-6)
    assert np.allclose(result.x, optimum, atol=1e-3)  # the merit is converged to 1e-6, x to its root
    assert result.evaluations["fitness"] <= 6 * result.iterations


# -- fixed variables come back exactly --------------------------------------------------------
class FixedAndFree:
    """min sum (x - 1.5)^2 + x0 x5 + x3 x5 s.t. sum x = 4, bounds [-10, 10]; records every point."""

    def __init__(self, with_gradient):
        self.with_gradient = with_gradient
        self.points = []

    def fitness(self, x):
        self.points.append(np.array(x))
        return [float(np.sum((x - 1.5) ** 2) + x[0] * x[5] + x[3] * x[5]), float(np.sum(x) - 4.0)]

    def gradient(self, x):
        g = 2.0 * (x - 1.5)
        g[0] += x[5]
        g[3] += x[5]
        g[5] += x[0] + x[3]
        return np.concatenate([g, np.ones(6)])

    def has_gradient(self):
        return self.with_gradient

    def get_bounds(self):
        return ([-10.0] * 6, [10.0] * 6)

    def get_nec(self):
        return 1


# (X / s) * s != X in double precision for the first three (found by search), not for 0.1, 1/3
FIXED_X0 = np.array([-3.2372410479352465, -3.965547597125074, 3.9067166197972227, 0.1, 1 / 3, 0.7])
FIXED_SCALES = [3.0, 0.1, 7.3, 7.3, 3.0, 0.1]
FIXED_TYPES = [1, 1, 1, 1, 1, 0]
FIXED = np.array(FIXED_TYPES) == 1


def test_the_chosen_values_do_drift_through_their_scales():
    assert [(v / s) * s != v for v, s in zip(FIXED_X0[:3], FIXED_SCALES)] == [True, True, True]


@pytest.mark.parametrize("khan_bounds", [False, "sin", "tanh", "triangle3"])
@pytest.mark.parametrize("with_gradient", [True, False])
def test_scaled_fixed_variables_are_returned_exactly(khan_bounds, with_gradient):
    algo = pyoptgra.optgra(variable_scaling_factors=FIXED_SCALES, variable_types=FIXED_TYPES, khan_bounds=khan_bounds)
    # via solve
    problem = pygmo.problem(FixedAndFree(with_gradient))
    result = algo.solve(problem, FIXED_X0)
    assert result.status == pyoptgra.Status.OPTIMAL and result.feasible
    assert result.x[5] != FIXED_X0[5]  # the free variable moved
    assert result.x[FIXED].tobytes() == FIXED_X0[FIXED].tobytes()
    # the problem only ever saw the fixed values themselves, so the result's fitness is its own
    points = problem.extract(FixedAndFree).points
    assert points and all(p[FIXED].tobytes() == FIXED_X0[FIXED].tobytes() for p in points)
    assert np.array_equal(result.fitness, FixedAndFree(False).fitness(result.x))
    # via evolve: the individual written back
    population = one_individual(FixedAndFree(with_gradient), FIXED_X0)
    population = algo.evolve(population)
    assert population.get_x()[0][FIXED].tobytes() == FIXED_X0[FIXED].tobytes()
    assert np.array_equal(population.get_x()[0], result.x)


def test_parameters_of_a_linear_update_are_returned_exactly():
    algo = pyoptgra.optgra(variable_scaling_factors=FIXED_SCALES, variable_types=FIXED_TYPES,
                           bounds_to_constraints=False)
    optimum = algo.solve(FixedAndFree(True), FIXED_X0).x
    algo.prepare_sensitivity(FixedAndFree(True), optimum)
    assert algo.sensitivity_state.point.tobytes() == optimum.tobytes()
    x, _, flag = algo.linear_update_delta([0.5])
    assert flag == 1 and x[5] == pytest.approx(optimum[5] + 0.5)
    assert np.asarray(x)[FIXED].tobytes() == FIXED_X0[FIXED].tobytes()


def test_a_fixed_variable_needs_no_khan_bounds_pair():
    """Fixed variables are not transformed, so one finite bound on one is no error."""

    class OneSided:
        def fitness(self, x):
            return [(x[0] - 0.3) ** 2 + x[1] * x[0]]

        def get_bounds(self):
            return ([-1.0, 0.0], [1.0, np.inf])

    algo = pyoptgra.optgra(khan_bounds="sin", variable_types=[0, 1], variable_scaling_factors=[1.0, 7.3])
    result = algo.solve(OneSided(), [0.0, 3.9067166197972227])
    assert result.x[1] == 3.9067166197972227 and result.x[0] == pytest.approx(-1.0, abs=1e-6)
    with pytest.raises(ValueError, match="exactly one bound is finite at indices \\[1\\]"):
        pyoptgra.optgra(khan_bounds="sin").solve(OneSided(), [0.0, 1.0])


class _RecordingQuadratic:
    """(x0 - 1)^2 + (x1 + 2)^2, recording every point evaluated."""

    def __init__(self):
        self.points = []

    def fitness(self, x):
        self.points.append(np.array(x, dtype=float))
        return [float((x[0] - 1.0) ** 2 + (x[1] + 2.0) ** 2)]

    def get_bounds(self):
        return ([-10.0, -10.0], [10.0, 10.0])


@pytest.mark.parametrize("settings, steps", [
    ({}, [1e-5, 1e-5]),
    ({"variable_scaling_factors": [100.0, 0.5]}, [1e-3, 5e-6]),
    ({"finite_difference_step": 0.01}, [0.01, 0.01]),
    ({"finite_difference_step": [0.1, 0.2], "variable_scaling_factors": [100.0, 0.5]}, [0.1, 0.2]),
])
@pytest.mark.parametrize("scheme", ["adaptive", "central", "forward"])
def test_difference_steps_default_to_1e_5_variable_scales(settings, steps, scheme):
    problem = pygmo.problem(_RecordingQuadratic())
    result = pyoptgra.optgra(max_iterations=1, finite_differences=scheme, **settings).solve(problem, [3.0, 4.0])
    points = problem.extract(_RecordingQuadratic).points
    # the start, then its stencil: central X + h_1 e_1, X - h_1 e_1, X + h_2 e_2, X - h_2 e_2;
    # forward (adaptive ones start forward) X + h_1 e_1, X + h_2 e_2
    expected = [[1, 0], [-1, 0], [0, 1], [0, -1]] if scheme == "central" else [[1, 0], [0, 1]]
    offsets = np.array(points[1 : 1 + len(expected)]) - np.array([3.0, 4.0])
    np.testing.assert_allclose(offsets, np.array(expected) * steps, rtol=1e-9)
    assert result.evaluations["fitness"] >= 1 + len(expected)


class CountingHS71(Hs71):
    """HS71 recording every point its fitness is called at."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def fitness(self, x):
        self.seen.append(np.array(x))
        return super().fitness(x)


def test_the_start_individual_is_not_evaluated_again():
    """Its fitness is in the population: the run starts from it without calling the fitness there,
    and pygmo's count is the engine's plus push_back's evaluation."""
    x0 = [1.0, 5.0, 5.0, 1.0]
    population = one_individual(CountingHS71(), x0)
    population.problem.extract(CountingHS71).seen.clear()
    algo = pygmo.algorithm(pyoptgra.optgra())
    population = algo.evolve(population)
    result = algo.extract(pyoptgra.optgra).last_result
    seen = population.problem.extract(CountingHS71).seen
    assert result.status == pyoptgra.Status.OPTIMAL
    assert population.get_f()[0][0] == pytest.approx(17.0140173, rel=1e-6)
    assert not any(np.array_equal(x, x0) for x in seen)
    assert len(seen) == result.evaluations["fitness"]
    assert population.problem.get_fevals() == result.evaluations["fitness"] + 1
    # solve() knows no fitness at x0: it evaluates it, and otherwise runs the same
    udp = CountingHS71()
    solved = pyoptgra.optgra().solve(pygmo.problem(udp), np.array(x0))
    assert np.array_equal(solved.x, result.x)
    assert solved.evaluations["fitness"] == result.evaluations["fitness"] + 1


def test_a_start_the_user_sees_elsewhere_is_evaluated():
    """With force_bounds a start outside the box reaches the user clipped into it: the
    population's fitness (at the unclipped point) is not the one the engine needs there."""
    seen = []

    class Recording(BoxLinear):
        def fitness(self, x):
            seen.append(np.array(x))
            return super().fitness(x)

    population = one_individual(Recording(), [-0.5, 1.5])
    seen.clear()
    pyoptgra.optgra(force_bounds=True, bounds_to_constraints=False).evolve(population)
    assert np.array_equal(seen[0], [0.0, 1.0])


def test_the_engine_checks_a_known_start():
    """known_point: (x, the fitness callback's outputs there); a wrong length or a non-finite
    value is refused by the engine, naming the setting."""
    from pyoptgra import _core

    settings = dict(
        lower=np.full(2, -np.inf), upper=np.full(2, np.inf), tolerances=np.full(1, 1e-6),
        priorities=np.ones(1, np.intc), variable_scales=np.ones(2), variable_types=np.zeros(2, np.intc),
        derivative_mode=2, difference_steps=np.full(2, 1e-5), max_iterations=5, max_correction_iterations=5,
        max_distance=1.0, probe_distance=1.0, method=2, log_level=0, log=None, max_evaluations=0,
        time_limit=0.0, history=None,
    )
    x0 = np.array([1.0, 2.0])
    seen = []

    def fitness(x):
        seen.append(x.copy())
        return np.array([np.sum((x - 0.25) ** 2)])

    report = _core.optimize(x0, np.array([-1], np.intc), fitness, None,
                            dict(settings, known_point=(x0, fitness(x0))), {})
    assert np.allclose(report["x"], 0.25, atol=1e-6)
    assert report["fitness_calls"] == len(seen) - 1
    assert not any(np.array_equal(x, x0) for x in seen[1:])
    for values in (np.zeros(2), np.array([np.nan])):
        with pytest.raises(ValueError, match="known_point"):
            _core.optimize(x0, np.array([-1], np.intc), fitness, None, dict(settings, known_point=(x0, values)), {})


def test_a_scaled_start_a_rounding_step_away_is_evaluated():
    """With a scaling factor s, the engine's start (x0 / s) * s can be a rounding step from x0
    (0.03 / 7 * 7 = 0.030000000000000002): the user is evaluated there, not credited with the
    population's fitness at x0; with s = 8 the start is exact and is not evaluated."""
    seen = []

    class Parabola:
        def fitness(self, x):
            seen.append(float(x[0]))
            return [float((x[0] - 0.5) ** 2)]

        def get_bounds(self):
            return ([-1.0], [1.0])

    for scale, start_evaluated in ((7.0, True), (8.0, False)):
        population = one_individual(Parabola(), [0.03])
        seen.clear()
        pyoptgra.optgra(variable_scaling_factors=[scale]).evolve(population)
        assert (0.03 / scale * scale in seen) == start_evaluated
