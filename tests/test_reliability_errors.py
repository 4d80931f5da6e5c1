"""Reliability (issue 5, items 3-5): every error leaves a working solver behind.

3. every validation error of the constructor, ``evolve`` and the core bridge, then a normal solve;
4. a user exception at evaluation k of fitness or gradient reaches the caller unchanged, the next
   solve works, and the interpreter exits cleanly afterwards;
5. NaN and +-Inf anywhere give a ``ValueError`` naming the problem's own output or variable, never
   a hang; bounds of magnitude >= 1e300 behave as absent.
"""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pygmo
import pytest

import pyoptgra
from pyoptgra import _core
from problems import BoxLinear, MixedInteger

# -- helpers -----------------------------------------------------------------------------------


def one_individual(udp, x0):
    population = pygmo.population(pygmo.problem(udp))
    population.push_back(x0)
    return population


def assert_normal_solve_works():
    """HS71 from its published start, solved to its optimum."""
    population = one_individual(pygmo.hock_schittkowski_71(), [1.0, 5.0, 5.0, 1.0])
    population = pygmo.algorithm(pyoptgra.optgra()).evolve(population)
    assert population.get_f()[0][0] == pytest.approx(17.0140173, abs=1e-5)


def core_kwargs(n=1, m=0, **overrides):
    kwargs = dict(
        lower=np.full(n, -np.inf), upper=np.full(n, np.inf), tolerances=np.full(m + 1, 1e-6),
        priorities=np.ones(m + 1, np.intc), variable_scales=np.ones(n), variable_types=np.zeros(n, np.intc),
        derivative_mode=2, difference_steps=np.full(n, 0.01), max_iterations=20, max_correction_iterations=20,
        max_distance=1.0, probe_distance=1.0, method=2, log_level=0, log=None, max_evaluations=0,
        time_limit=0.0, history=None,
    )
    kwargs.update(overrides)
    return kwargs


def core_quadratic(x):
    return np.array([(x[0] - 0.25) ** 2])


# -- 3. validation errors ----------------------------------------------------------------------

CONSTRUCTOR_ERRORS = [
    ({"max_iterations": -1}, ValueError, "max_iterations"),
    ({"max_iterations": 1.5}, TypeError, "max_iterations"),
    ({"max_iterations": True}, TypeError, "max_iterations"),
    ({"max_correction_iterations": -1}, ValueError, "max_correction_iterations"),
    ({"max_correction_iterations": "3"}, TypeError, "max_correction_iterations"),
    ({"max_distance_per_iteration": -1.0}, ValueError, "max_distance_per_iteration"),
    ({"max_distance_per_iteration": np.nan}, ValueError, "max_distance_per_iteration"),
    ({"max_distance_per_iteration": np.inf}, ValueError, "max_distance_per_iteration"),
    ({"max_distance_per_iteration": "far"}, TypeError, "max_distance_per_iteration"),
    ({"perturbation_for_snd_order_derivatives": -1.0}, ValueError, "perturbation_for_snd_order_derivatives"),
    ({"perturbation_for_snd_order_derivatives": None}, TypeError, "perturbation_for_snd_order_derivatives"),
    ({"variable_scaling_factors": [1.0, 0.0]}, ValueError, "variable_scaling_factors"),
    ({"variable_scaling_factors": [-1.0]}, ValueError, "variable_scaling_factors"),
    ({"variable_scaling_factors": [np.nan]}, ValueError, "variable_scaling_factors"),
    ({"variable_scaling_factors": [np.inf]}, ValueError, "variable_scaling_factors"),
    ({"variable_types": [0, 2]}, ValueError, "variable_types"),
    ({"variable_types": [-1]}, ValueError, "variable_types"),
    ({"variable_types": [1.0]}, TypeError, "variable_types"),
    ({"constraint_priorities": [1.5]}, TypeError, "constraint_priorities"),
    ({"bound_constraints_tolerance": 0.0}, ValueError, "bound_constraints_tolerance"),
    ({"bound_constraints_tolerance": -1e-6}, ValueError, "bound_constraints_tolerance"),
    ({"bound_constraints_tolerance": np.nan}, ValueError, "bound_constraints_tolerance"),
    ({"merit_function_threshold": 0.0}, ValueError, "merit_function_threshold"),
    ({"merit_function_threshold": -1.0}, ValueError, "merit_function_threshold"),
    ({"merit_function_threshold": np.inf}, ValueError, "merit_function_threshold"),
    ({"optimization_method": 4}, ValueError, "optimization_method"),
    ({"optimization_method": -1}, ValueError, "optimization_method"),
    ({"optimization_method": 1.0}, TypeError, "optimization_method"),
    ({"log_level": -1}, ValueError, "log_level"),
    ({"log_level": "info"}, TypeError, "log_level"),
    ({"timeout_seconds": -1.0}, ValueError, "timeout_seconds"),
    ({"timeout_seconds": np.nan}, ValueError, "timeout_seconds"),
    ({"timeout_seconds": "1"}, TypeError, "timeout_seconds"),
    ({"finite_difference_step": 0.0}, ValueError, "finite_difference_step"),
    ({"finite_difference_step": -0.1}, ValueError, "finite_difference_step"),
    ({"finite_difference_step": [0.1, np.nan]}, ValueError, "finite_difference_step"),
    ({"finite_difference_step": [[0.1]]}, TypeError, "finite_difference_step"),
    ({"finite_difference_step": "abc"}, TypeError, "finite_difference_step"),
    ({"variable_scaling_factors": "ab"}, TypeError, "variable_scaling_factors"),
    ({"variable_scaling_factors": 5}, TypeError, "variable_scaling_factors"),
    ({"khan_bounds": "foo"}, ValueError, "khan_bounds"),
    ({"khan_bounds": "trianglex"}, ValueError, "Invalid option for Khan bounds"),
    ({"force_bounds": "yes"}, TypeError, "force_bounds"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kwargs, error, word", CONSTRUCTOR_ERRORS, ids=lambda v: str(v)[:40] if isinstance(v, dict) else "")
def test_constructor_error_then_normal_solve(kwargs, error, word):
    with pytest.raises(error, match=word):
        pyoptgra.optgra(**kwargs)
    assert_normal_solve_works()


def set_verbosity_errors():
    with pytest.raises(ValueError, match="verbosity"):
        pyoptgra.optgra().set_verbosity(-1)
    with pytest.raises(TypeError, match="verbosity"):
        pyoptgra.optgra().set_verbosity(0.5)
    with pytest.raises(ValueError, match="log_level"):
        pyoptgra.optgra(log_level=2).set_verbosity(1)




EVOLVE_ERRORS = [
    # (algorithm arguments, population factory, error, word)
    ({}, lambda: pygmo.population(pygmo.problem(pygmo.rosenbrock(2))), ValueError, "empty"),
    ({}, lambda: pygmo.population(pygmo.problem(pygmo.zdt(1, 5)), 1, seed=1), ValueError, "objective"),
    ({}, lambda: pygmo.population(pygmo.problem(pygmo.inventory(2, 5)), 1, seed=1), ValueError, "stochastic"),
    ({"variable_scaling_factors": [1.0] * 3}, lambda: pygmo.population(pygmo.problem(pygmo.rosenbrock(2)), 1, seed=1),
     ValueError, "variable_scaling_factors"),
    ({"variable_types": [0]}, lambda: pygmo.population(pygmo.problem(pygmo.rosenbrock(2)), 1, seed=1),
     ValueError, "variable_types"),
    ({"constraint_priorities": [1, 1]}, lambda: pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()), 1, seed=1),
     ValueError, "constraint_priorities"),
    ({"khan_bounds": True}, lambda: one_individual(BoxLinear(), [0.5, 0.5]), ValueError, "bound"),
    ({"finite_difference_step": [0.1, 0.1, 0.1]}, lambda: pygmo.population(pygmo.problem(pygmo.rosenbrock(2)), 1, seed=1),
     ValueError, "finite_difference_step"),
    ({}, lambda: one_individual(MixedInteger(), [1.0, 1.0]), ValueError, "integer"),
    ({}, lambda: one_individual(pygmo.rosenbrock(3), [0.5, np.nan, 0.5]), ValueError, r"variable indices \[1\]"),
    ({}, lambda: one_individual(pygmo.rosenbrock(3), [0.5, 0.5, np.inf]), ValueError, r"variable indices \[2\]"),
    ({}, lambda: one_individual(pygmo.rosenbrock(3), [-np.inf, 0.5, 0.5]), ValueError, r"variable indices \[0\]"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kwargs, population, error, word", EVOLVE_ERRORS, ids=[e[3] for e in EVOLVE_ERRORS])
def test_evolve_error_then_normal_solve(kwargs, population, error, word):
    # through pygmo, which wraps nothing for a Python UDA: the exception type is kept
    with pytest.raises(error, match=word):
        pygmo.algorithm(pyoptgra.optgra(**kwargs)).evolve(population())
    assert_normal_solve_works()


CORE_ERRORS = [
    # (positional x0, output types, core keyword overrides, word in the message)
    (np.zeros(0), [-1], {}, "x0"),
    (np.zeros((1, 1)), [-1], {}, "x0"),
    (np.zeros(1), [], {}, "output_types"),
    (np.zeros(1), [-1], {"lower": np.zeros(2)}, "lower"),
    (np.zeros(1), [-1], {"upper": np.zeros(0)}, "upper"),
    (np.zeros(1), [-1], {"tolerances": np.ones(2)}, "tolerances"),
    (np.zeros(1), [-1], {"priorities": np.ones(3, np.intc)}, "priorities"),
    (np.zeros(1), [-1], {"variable_scales": np.ones(2)}, "variable_scales"),
    (np.zeros(1), [-1], {"variable_types": np.zeros(2, np.intc)}, "variable_types"),
    (np.zeros(1), [-1], {"difference_steps": np.ones(2)}, "difference_steps"),
    # values the engine itself rejects
    (np.zeros(1), [5], {}, "output_types"),
    (np.zeros(1), [0], {}, "output_types"),
    (np.zeros(1), [-1], {"lower": np.full(1, np.nan)}, "bounds"),
    (np.zeros(1), [-1], {"upper": np.full(1, np.nan)}, "bounds"),
    (np.zeros(1), [-1], {"tolerances": np.zeros(1)}, "tolerances"),
    (np.zeros(1), [-1], {"tolerances": np.full(1, np.nan)}, "tolerances"),
    (np.zeros(1), [-1], {"variable_scales": np.zeros(1)}, "variable_scales"),
    (np.zeros(1), [-1], {"variable_scales": np.full(1, np.inf)}, "variable_scales"),
    (np.zeros(1), [-1], {"variable_types": np.full(1, 2, np.intc)}, "variable_types"),
    (np.zeros(1), [-1], {"derivative_mode": 9}, "derivative_mode"),
    (np.zeros(1), [-1], {"difference_steps": np.zeros(1)}, "difference_steps"),
    (np.zeros(1), [-1], {"max_distance": np.nan}, "max_distance"),
    (np.zeros(1), [-1], {"probe_distance": -1.0}, "probe_distance"),
    (np.zeros(1), [-1], {"max_iterations": -1}, "iteration limits"),
    (np.zeros(1), [-1], {"max_correction_iterations": -5}, "iteration limits"),
    (np.zeros(1), [-1], {"method": 7}, "method"),
    (np.zeros(1), [-1], {"log_level": -1}, "log_level"),
    (np.full(1, np.nan), [-1], {}, "ogexec"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("x0, types, overrides, word", CORE_ERRORS, ids=[f"{c[3]}-{i}" for i, c in enumerate(CORE_ERRORS)])
def test_core_error_then_normal_solve(x0, types, overrides, word):
    """The reference deadlocked on the next call after a wrong-length list reached its core."""
    with pytest.raises(ValueError, match=word):
        _core.optimize(x0, np.array(types, np.intc), core_quadratic, None, core_kwargs(**overrides), {})
    x = _core.optimize(np.zeros(1), np.array([-1], np.intc), core_quadratic, None, core_kwargs(), {})["x"]
    assert x[0] == pytest.approx(0.25, abs=1e-3)
    assert_normal_solve_works()


@pytest.mark.timeout(60)
def test_all_validation_errors_in_a_row_then_solves_in_two_threads():
    """After every error in one process, a solve still works, also in another thread."""
    for kwargs, error, word in CONSTRUCTOR_ERRORS:
        with pytest.raises(error, match=word):
            pyoptgra.optgra(**kwargs)
    set_verbosity_errors()
    for kwargs, population, error, word in EVOLVE_ERRORS:
        with pytest.raises(error, match=word):
            pyoptgra.optgra(**kwargs).evolve(population())
    for x0, types, overrides, word in CORE_ERRORS:
        with pytest.raises(ValueError, match=word):
            _core.optimize(x0, np.array(types, np.intc), core_quadratic, None, core_kwargs(**overrides), {})
    errors = []

    def work():
        try:
            assert_normal_solve_works()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads) and not errors, errors


def test_huge_iteration_budgets_are_accepted():
    """A budget beyond the engine's integer range is effectively unlimited, not a TypeError."""
    for budget in (2**31 - 1, 2**31, 10**12):
        algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=budget, max_correction_iterations=budget))
        population = algo.evolve(one_individual(pygmo.hock_schittkowski_71(), [1.0, 5.0, 5.0, 1.0]))
        assert algo.extract(pyoptgra.optgra).last_result.status == 1
        assert population.get_f()[0][0] == pytest.approx(17.0140173, abs=1e-5)
    # beyond 64 bits too, for every integer the engine receives (this failed in the C++ cast)
    result = pyoptgra.optgra(max_iterations=10**30, max_correction_iterations=10**30, max_evaluations=10**30,
                             log_level=10**30).solve(pygmo.hock_schittkowski_71(), [1.0, 5.0, 5.0, 1.0])
    assert result.status == 1 and result.fitness[0] == pytest.approx(17.0140173, abs=1e-5)


@pytest.mark.timeout(30)
def test_only_the_order_of_priorities_matters():
    """Priorities far apart or beyond 32 bits: the same run as with small ones, as fast (the
    engine walks every integer level in between: 1 and 10**7 took 7 s, 10**9 would take hours)."""
    runs = []
    for low, high in ((1, 2), (-5, 10**7), (1, 10**9), (-(10**12), 10**15)):
        # HS71: 1 equality, 1 inequality, 8 bound rows, the objective
        algo = pygmo.algorithm(pyoptgra.optgra(constraint_priorities=[low, high] + [low] * 8 + [high]))
        population = algo.evolve(one_individual(pygmo.hock_schittkowski_71(), [1.0, 5.0, 5.0, 1.0]))
        runs.append((population.get_x()[0].tolist(), algo.extract(pyoptgra.optgra).last_result.evaluations["fitness"]))
    assert all(run == runs[0] for run in runs)
    assert population.get_f()[0][0] == pytest.approx(17.0140173, abs=1e-5)


# -- 4. user exceptions at evaluation k ------------------------------------------------------


class CustomError(Exception):
    """A user exception with extra state, which must arrive as the very same object."""

    def __init__(self, message, payload=None):
        super().__init__(message)
        self.payload = payload


def armed_population(udp, x0):
    """A population whose problem starts counting calls after pygmo's own start evaluation."""
    population = one_individual(udp, x0)
    copy = population.problem.extract(type(udp))
    copy.fitness_calls = copy.gradient_calls = 0
    return population


def evaluations_of_a_clean_run():
    population = armed_population(Faulty(), HS71_START)
    algo = pygmo.algorithm(pyoptgra.optgra())
    algo.evolve(population)
    result = algo.extract(pyoptgra.optgra).last_result
    return result.evaluations["fitness"], result.evaluations["gradient"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["fitness", "gradient"])
def test_user_exception_at_evaluation_k_is_reraised_unchanged(where):
    n_fitness, n_gradient = evaluations_of_a_clean_run()
    last = n_fitness if where == "fitness" else n_gradient
    assert last >= 5
    for k in sorted({1, 2, 5, last - 1, last}):
        error = CustomError(f"{where} failed at {k}", payload=[k])
        with pytest.raises(CustomError) as caught:
            pygmo.algorithm(pyoptgra.optgra()).evolve(armed_population(Faulty(where, k, error), HS71_START))
        # pygmo deep-copies the problem (and with it the exception); type, message and state survive
        assert str(caught.value) == f"{where} failed at {k}" and caught.value.payload == [k]
        assert caught.value.__traceback__ is not None
        assert_normal_solve_works()
    # one more: the failing call is the last one; after it, the problem is solved normally
    population = pygmo.algorithm(pyoptgra.optgra()).evolve(armed_population(Faulty(where, last + 1, error), HS71_START))
    assert population.get_f()[0][0] == pytest.approx(17.0140173, abs=1e-5)


@pytest.mark.timeout(60)
def test_the_raised_object_is_the_users_own():
    """Through the core bridge, without pygmo copies in between: the identical object arrives."""
    error = CustomError("identity", payload=object())
    calls = []

    def fitness(x):
        calls.append(1)
        if len(calls) == 4:
            raise error
        return core_quadratic(x)

    with pytest.raises(CustomError) as caught:
        _core.optimize(np.zeros(1), np.array([-1], np.intc), fitness, None, core_kwargs(), {})
    assert caught.value is error


@pytest.mark.timeout(60)
def test_base_exceptions_propagate():
    """SystemExit and GeneratorExit are not Exceptions; they must still come through unchanged."""
    for error in (SystemExit(3), GeneratorExit("bye")):
        calls = []

        def fitness(x, error=error, calls=calls):
            calls.append(1)
            if len(calls) == 3:
                raise error
            return core_quadratic(x)

        with pytest.raises(type(error)) as caught:
            _core.optimize(np.zeros(1), np.array([-1], np.intc), fitness, None, core_kwargs(), {})
        assert caught.value is error and len(calls) == 3
    assert_normal_solve_works()


@pytest.mark.timeout(60)
def test_callback_arguments_outlive_the_call():
    """The x given to a callback is the caller's to keep: it does not change afterwards and stays
    valid after the engine session is closed (also when kept alive by a traceback)."""
    kept, copies = [], []

    def fitness(x):
        kept.append(x)
        copies.append(np.array(x))
        if len(kept) == 12:
            raise CustomError("keep", payload=x)
        return np.array([(x[0] - 0.25) ** 2 + (x[1] + 1.0) ** 2])

    with pytest.raises(CustomError) as caught:
        _core.optimize(np.zeros(2), np.array([-1], np.intc), fitness, None, core_kwargs(n=2), {})
    junk = [np.full(2, 7.0) for _ in range(1000)]  # reuse freed memory, if any  # noqa: F841
    assert all(np.array_equal(k, c) for k, c in zip(kept, copies))
    assert np.array_equal(caught.value.payload, copies[-1])


SUBPROCESS = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import numpy as np, pygmo, pyoptgra
    from test_reliability_errors import Faulty, HS71_START

    class Boom(Exception):
        pass

    def run(udp):
        population = pygmo.population(pygmo.problem(udp))
        population.push_back(HS71_START)
        population.problem.extract(Faulty).fitness_calls = 0
        population.problem.extract(Faulty).gradient_calls = 0
        return pygmo.algorithm(pyoptgra.optgra()).evolve(population)

    raised = 0
    for k in (1, 2, 5, 6):
        for kwargs in ({{"where": "fitness", "exception": Boom("f")}}, {{"where": "gradient", "exception": Boom("g")}},
                       {{"where": "fitness", "output": k % 3, "value": np.nan}},
                       {{"where": "gradient", "output": k % 3, "value": np.inf}}):
            try:
                run(Faulty(at=k, **kwargs))
            except (Boom, ValueError):
                raised += 1
    print("raised", raised)
    # no successful solve afterwards: nothing may be left for interpreter shutdown to trip on
    """
)


@pytest.mark.timeout(60)
def test_interpreter_exits_cleanly_after_callback_errors(tmp_path):
    import pathlib

    script = tmp_path / "errors.py"
    script.write_text(SUBPROCESS.format(tests=str(pathlib.Path(__file__).parent)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert "raised 16" in done.stdout


# -- 5. non-finite values -------------------------------------------------------------------


class Faulty:
    """Hock-Schittkowski 71 (1 equality, 1 inequality; 35 fitness and 6 gradient evaluations from
    [1, 5, 5, 1]) that, at call ``at`` of ``where`` (counted from the start of the solve), raises
    ``exception`` or puts ``value`` into fitness output / gradient row ``output``."""

    def __init__(self, where="fitness", at=0, exception=None, output=0, value=np.nan):
        self.inner = pygmo.problem(pygmo.hock_schittkowski_71())
        self.where, self.at, self.exception, self.output, self.value = where, at, exception, output, value
        self.fitness_calls = self.gradient_calls = 0

    def fitness(self, x):
        self.fitness_calls += 1
        f = self.inner.fitness(x)
        if self.where == "fitness" and self.fitness_calls == self.at:
            if self.exception is not None:
                raise self.exception
            f[self.output] = self.value
        return f

    def gradient(self, x):
        self.gradient_calls += 1
        g = self.inner.gradient(x)
        if self.where == "gradient" and self.gradient_calls == self.at:
            if self.exception is not None:
                raise self.exception
            g[4 * self.output + self.output % 4] = self.value
        return g

    def get_bounds(self):
        return self.inner.get_bounds()

    def get_nec(self):
        return 1

    def get_nic(self):
        return 1


class FaultyNoGradient(Faulty):
    def has_gradient(self):
        return False


HS71_START = [1.0, 5.0, 5.0, 1.0]


OUTPUT_NAMES = [r"objective \(fitness\[0\]\)", r"equality constraint 0 \(fitness\[1\]\)", r"inequality constraint 0 \(fitness\[2\]\)"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["fitness", "gradient"])
@pytest.mark.parametrize("at", [1, 5], ids=["start", "mid-run"])
def test_non_finite_output_names_the_problems_output(value, where, at):
    for output, name in enumerate(OUTPUT_NAMES):
        population = armed_population(Faulty(where, at, output=output, value=value), HS71_START)
        with pytest.raises(ValueError, match=f"problem's {where} is not finite for {name}"):
            pygmo.algorithm(pyoptgra.optgra()).evolve(population)
    assert_normal_solve_works()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_output_during_finite_differences(value):
    """Without a gradient the engine differentiates; a NaN at a probe point is still named."""
    for at in (2, 3, 7):
        population = armed_population(FaultyNoGradient("fitness", at, output=1, value=value), HS71_START)
        with pytest.raises(ValueError, match="equality constraint 0"):
            pygmo.algorithm(pyoptgra.optgra()).evolve(population)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("output", [0, 1])
def test_core_non_finite_output_never_hangs(value, output):
    """The core has no Python-side check: the engine itself stops with a ValueError (the
    reference's core looped forever on a NaN merit)."""
    calls = []

    def fitness(x):
        calls.append(1)
        y = np.array([x[0] + x[1] - 1.0, (x[0] - 0.25) ** 2 + x[1] ** 2])
        if len(calls) >= 3:
            y[output] = value
        return y

    with pytest.raises(ValueError, match=f"engine output {output + 1} is not finite"):
        _core.optimize(np.zeros(2), np.array([0, -1], np.intc), fitness, None, core_kwargs(n=2, m=1), {})
    assert len(calls) == 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("n, at", [(2, 0), (19, 0), (19, 11), (19, 18)])
def test_core_non_finite_gradient_never_hangs(value, n, at):
    """The engine's own check, wherever the entry is: in its blocks of eight or in the tail."""
    def gradient(x):
        row = np.ones((1, n))
        row[0, at] = value
        return row

    with pytest.raises(ValueError, match="not finite"):
        _core.optimize(np.zeros(n), np.array([-1], np.intc), lambda x: np.array([x @ x]), gradient,
                       core_kwargs(n=n, derivative_mode=1), {})


@pytest.mark.timeout(60)
def test_nan_bounds_are_rejected():
    class NanBounds:
        def fitness(self, x):
            return [x[0] ** 2]

        def get_bounds(self):
            return ([np.nan], [1.0])

    with pytest.raises(ValueError, match="NaN"):  # pygmo refuses the problem itself
        pygmo.problem(NanBounds())
    assert_normal_solve_works()


class Shifted:
    """min (x0 - 3)^2 + (x1 + 2)^2  s.t.  x0 + 2 x1 <= 1, with the given bounds."""

    def __init__(self, lower, upper):
        self.lower, self.upper = lower, upper

    def fitness(self, x):
        return [(x[0] - 3.0) ** 2 + (x[1] + 2.0) ** 2, x[0] + 2.0 * x[1] - 1.0]

    def gradient(self, x):
        return [2.0 * (x[0] - 3.0), 2.0 * (x[1] + 2.0), 1.0, 2.0]

    def get_bounds(self):
        return (self.lower, self.upper)

    def get_nic(self):
        return 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("big", [1e300, 1e308, np.inf])
@pytest.mark.parametrize("bounds_to_constraints", [True, False])
def test_huge_and_infinite_bounds_are_absent(big, bounds_to_constraints):
    algo = pygmo.algorithm(pyoptgra.optgra(bounds_to_constraints=bounds_to_constraints, constraint_priorities=[1, 1]))
    x = algo.evolve(one_individual(Shifted([-big, -big], [big, big]), [0.0, 0.0])).get_x()[0]
    # without bounds: the projection of (3, -2) onto x0 + 2 x1 <= 1 is (3, -2) itself (feasible: -1 <= 1)
    assert x == pytest.approx([3.0, -2.0], abs=1e-4)
    assert algo.extract(pyoptgra.optgra).last_result.status == 1
    # the same with the start outside a 'box' that is not one: [1e300, inf] leaves x0 free
    algo = pygmo.algorithm(pyoptgra.optgra(bounds_to_constraints=bounds_to_constraints, constraint_priorities=[1, 1]))
    x = algo.evolve(one_individual(Shifted([-big, -big], [big, big]), [-5.0, 7.0])).get_x()[0]
    assert x == pytest.approx([3.0, -2.0], abs=1e-4)
