"""Parallel finite differences: optgra(bfe=...) evaluates each difference stencil as one batch.

The batch path must give bitwise the same runs as the serial one (points, outputs, counters,
logs, errors), and really be taken: a recording evaluator checks the batch sizes."""

import pickle

import numpy as np
import pygmo
import pytest

import pyoptgra
from pyoptgra import _core
from hs_problems import get_problem
from problems import Batched, Failing


class Recording:
    """A user-defined batch fitness evaluator that records every batch (its points and their
    number) and hands it on to another evaluator."""

    def __init__(self, inner):
        self.inner = pygmo.bfe(inner)
        self.sizes = []
        self.batches = []

    def __call__(self, prob, dvs):
        self.sizes.append(len(dvs) // prob.get_nx())
        self.batches.append(np.reshape(dvs, (-1, prob.get_nx())))
        return self.inner(prob, dvs)


# Problems without gradient (or checked by differences) and their start points.
HS71_START = [1.0, 5.0, 5.0, 1.0]


def hs71_cpp():
    return pygmo.problem(pygmo.hock_schittkowski_71()), HS71_START


def hs71_batched():
    return pygmo.problem(Batched(get_problem("hs071", with_gradient=False))), HS71_START


def hs71_batched_inside():
    """HS71 from a start strictly inside its box (for the Khan transform)."""
    return hs71_batched()[0], [1.5, 4.5, 4.5, 1.5]


def hs76_batched():
    return pygmo.problem(Batched(get_problem("hs076", with_gradient=False))), [0.5] * 4


def cec2006_g7():
    problem = pygmo.problem(pygmo.cec2006(prob_id=7))
    return problem, np.full(problem.get_nx(), 1.0)


def run(make_problem, bfe=None, **options):
    """Solve a fresh problem; returns (result, algorithm, problem) with the log recorded."""
    problem, x0 = make_problem()
    algo = pyoptgra.optgra(bfe=bfe, **options)
    algo.set_verbosity(1)
    result = algo.solve(problem, x0)
    return result, algo, problem


def assert_same_run(a, b):
    (ra, algo_a, _), (rb, algo_b, _) = a, b
    assert np.array_equal(ra.x, rb.x)
    assert np.array_equal(ra.fitness, rb.fitness, equal_nan=True)  # NaN: no evaluated result
    assert ra.status == rb.status
    assert ra.iterations == rb.iterations
    assert ra.evaluations == rb.evaluations
    assert algo_a.get_log() == algo_b.get_log()
    assert [(h.iteration, h.evaluations, h.objective) for h in ra.history] == [
        (h.iteration, h.evaluations, h.objective) for h in rb.history
    ]


CASES = [
    pytest.param(hs71_cpp, pygmo.thread_bfe, {"check_gradient": True}, id="hs71-cpp-check_gradient-thread"),
    pytest.param(cec2006_g7, pygmo.thread_bfe, {}, id="cec2006g7-thread"),
    pytest.param(cec2006_g7, pygmo.default_bfe, {}, id="cec2006g7-default"),
    pytest.param(hs71_batched, pygmo.member_bfe, {}, id="hs71-member"),
    pytest.param(hs71_batched, pygmo.default_bfe, {}, id="hs71-default"),
    pytest.param(hs76_batched, pygmo.member_bfe, {}, id="hs76-member"),
    pytest.param(hs71_batched_inside, pygmo.member_bfe, {"khan_bounds": "sin"}, id="hs71-member-khan"),
    pytest.param(hs71_batched, pygmo.member_bfe, {"force_bounds": True, "variable_types": [0, 1, 0, 0]},
                 id="hs71-member-force_bounds-fixed"),
]


@pytest.mark.parametrize("make_problem, udbfe, options", CASES)
@pytest.mark.parametrize("scheme", ["adaptive", "central"])
def test_differences_in_batches_are_identical_to_serial(scheme, make_problem, udbfe, options):
    serial = run(make_problem, finite_differences=scheme, **options)
    batched = run(make_problem, bfe=pygmo.bfe(udbfe()), finite_differences=scheme, **options)
    assert serial[0].evaluations["fitness"] > 20
    assert_same_run(serial, batched)
    assert serial[2].get_fevals() == batched[2].get_fevals()


# (the gradient check always uses central differences)
@pytest.mark.parametrize("make_problem, udbfe, options", [c for c in CASES if "check_gradient" not in c.values[2]])
def test_forward_differences_in_batches_are_identical_to_serial(make_problem, udbfe, options):
    serial = run(make_problem, finite_differences="forward", **options)
    batched = run(make_problem, bfe=pygmo.bfe(udbfe()), finite_differences="forward", **options)
    assert_same_run(serial, batched)
    assert serial[2].get_fevals() == batched[2].get_fevals()


@pytest.mark.parametrize("scheme", ["central", "forward", "adaptive"])
def test_every_stencil_is_one_batch_of_the_free_variables(scheme):
    result, algo, _ = run(hs71_batched, bfe=Recording(pygmo.member_bfe()), variable_types=[0, 0, 1, 0],
                          finite_differences=scheme)
    sizes = algo.bfe.extract(Recording).sizes
    free = 3
    if scheme == "central":
        # two points per variable, one where a bound leaves room on one side only: the start
        # [1, 5, 5, 1] is a corner of the box [1, 5]^4
        assert len(sizes) == result.iterations
        assert sizes[0] == free and all(free <= size <= 2 * free for size in sizes)
    elif scheme == "forward":
        assert sizes == [free] * result.iterations
    else:
        # forward stencils until the run converges; there, one more iteration on central
        # differences evaluates only their backward side X - h e_i (not where x is at its lower
        # bound, 1: one-sided there), and confirms the point
        assert result.status == pyoptgra.Status.OPTIMAL
        assert len(sizes) == result.iterations
        assert sizes[:-1] == [free] * (result.iterations - 1) and 1 <= sizes[-1] < free
        # (the result may have moved from that point by a final polish of ~1e-8)
        offsets = algo.bfe.extract(Recording).batches[-1] - result.x
        steps = np.where(np.abs(offsets) > 1e-6, offsets, 0.0)
        assert np.all(np.count_nonzero(steps, axis=1) == 1)
        np.testing.assert_allclose(steps.sum(axis=1), -1e-5, rtol=1e-3)
        assert not steps[:, 2].any()   # the fixed variable
    # the rest are the points the engine asks for one at a time (start, steps, probes)
    assert sum(sizes) < result.evaluations["fitness"]


def test_bfe_is_unused_with_a_user_gradient():
    result, algo, _ = run(hs71_cpp, bfe=Recording(pygmo.thread_bfe()))
    assert result.evaluations["gradient"] > 0
    assert algo.bfe.extract(Recording).sizes == []
    assert_same_run(run(hs71_cpp), (result, algo, None))


def test_prepare_sensitivity_with_bfe_gives_the_same_state():
    x = [1.0, 4.743, 3.82115, 1.379408]
    states = []
    for bfe in (None, Recording(pygmo.member_bfe())):
        algo = pyoptgra.optgra(bfe=bfe, variable_types=[0, 0, 0, 1])
        algo.prepare_sensitivity(hs71_batched()[0], x)
        states.append(algo.sensitivity_state)
    # parameters are perturbed too; x1 = 1 is on its lower bound: one point, inside the box
    assert algo.bfe.extract(Recording).sizes == [7]
    assert states[0] == states[1]


def test_budget_is_honoured_and_spent_as_serially():
    """A budget that ends inside a stencil: that stencil is evaluated point by point."""
    full = run(hs71_cpp, check_gradient=True)[0].evaluations["fitness"]
    for budget in (5, 9, 12, 20, full - 3):
        serial = run(hs71_cpp, max_evaluations=budget, check_gradient=True)
        batched = run(hs71_cpp, bfe=pygmo.thread_bfe(), max_evaluations=budget, check_gradient=True)
        assert_same_run(serial, batched)
        assert batched[0].evaluations["fitness"] == budget
        assert batched[2].get_fevals() == budget
        recorded = run(hs71_cpp, bfe=Recording(pygmo.thread_bfe()), max_evaluations=budget, check_gradient=True)
        sizes = recorded[1].bfe.extract(Recording).sizes
        # one or two points per variable, as the box leaves room
        assert all(4 <= size <= 8 for size in sizes) and sum(sizes) <= budget


def test_exception_in_a_batch_propagates_and_the_next_solve_works():
    class Boom(Exception):
        pass

    problems = [pygmo.problem(Batched(Failing(fail_fitness_at=4, exception=Boom("in the batch")))) for _ in range(2)]
    algo = pyoptgra.optgra(bfe=pygmo.member_bfe())
    with pytest.raises(Boom, match="in the batch"):
        algo.solve(problems[0], [0.5, 0.5])
    serial = pyoptgra.optgra()
    with pytest.raises(Boom, match="in the batch"):
        serial.solve(problems[1], [0.5, 0.5])
    for a in (algo, serial):
        assert a.last_result.status == pyoptgra.Status.EXCEPTION
    assert problems[0].extract(Batched).udp.fitness_calls == problems[1].extract(Batched).udp.fitness_calls == 4
    # the start point and the whole first stencil count, as the batch was handed over in one go
    assert algo.last_result.evaluations["fitness"] == 5
    assert serial.last_result.evaluations["fitness"] == 4
    problem, x0 = hs71_batched()
    again = algo.solve(problem, x0)
    assert again.status == pyoptgra.Status.OPTIMAL
    assert np.array_equal(again.x, run(hs71_batched)[0].x)


def test_non_finite_output_in_a_batch_is_the_same_value_error():
    messages = []
    for bfe in (None, pygmo.member_bfe()):
        problem = pygmo.problem(Batched(Failing(fail_fitness_at=4, nan_output=1)))
        algo = pyoptgra.optgra(bfe=bfe)
        algo.set_verbosity(1)
        with pytest.raises(ValueError, match=r"not finite for equality constraint 0 \(fitness\[1\]\)") as info:
            algo.solve(problem, [0.5, 0.5])
        messages.append((str(info.value), algo.get_log(), [h.evaluations for h in algo.last_result.history]))
    assert messages[0] == messages[1]


def test_batch_callable_errors_from_the_core_are_raised():
    """The trampoline checks the shape of what the batch callable returns."""
    settings = dict(
        lower=np.full(2, -np.inf), upper=np.full(2, np.inf), tolerances=np.full(1, 1e-6),
        priorities=np.ones(1, np.intc), variable_scales=np.ones(2), variable_types=np.zeros(2, np.intc),
        derivative_mode=2, difference_steps=np.full(2, 0.01), max_iterations=5, max_correction_iterations=5,
        max_distance=1.0, probe_distance=1.0, method=2, log_level=0, log=None, max_evaluations=0,
        time_limit=0.0, history=None,
    )
    fitness = lambda x: np.array([np.sum((x - 0.25) ** 2)])  # noqa: E731
    seen = []

    def batch(points):
        seen.append(points.copy())
        return np.array([fitness(x) for x in points])

    report = _core.optimize(np.array([1.0, 2.0]), np.array([-1], np.intc), fitness, None,
                            dict(settings, batch_fitness=batch), {})
    assert np.allclose(report["x"], 0.25, atol=1e-6)
    x0, h = np.array([1.0, 2.0]), 0.01
    assert np.array_equal(seen[0], [x0 + [h, 0], x0 - [h, 0], x0 + [0, h], x0 - [0, h]])
    with pytest.raises(ValueError, match=r"batch fitness callback must return an array of shape \(4, 1\)"):
        _core.optimize(np.array([1.0, 2.0]), np.array([-1], np.intc), fitness, None,
                       dict(settings, batch_fitness=lambda points: np.zeros(4)), {})
    with pytest.raises(KeyError, match="mine"):
        _core.optimize(np.array([1.0, 2.0]), np.array([-1], np.intc), fitness, None,
                       dict(settings, batch_fitness=lambda points: {}["mine"]), {})
    serial = _core.optimize(np.array([1.0, 2.0]), np.array([-1], np.intc), fitness, None, settings, {})
    assert np.array_equal(serial["x"], report["x"]) and serial["fitness_calls"] == report["fitness_calls"]


@pytest.mark.parametrize("value", ["x", 3, object(), [pygmo.thread_bfe()]])
def test_bfe_must_be_an_evaluator(value):
    with pytest.raises(TypeError, match="bfe"):
        pyoptgra.optgra(bfe=value)


def test_bfe_accepts_an_evaluator_or_a_udbfe():
    assert pyoptgra.optgra().bfe is None
    assert pyoptgra.optgra(bfe=pygmo.thread_bfe()).bfe.get_name() == pygmo.bfe(pygmo.thread_bfe()).get_name()
    wrapped = pygmo.bfe(pygmo.member_bfe())
    assert pyoptgra.optgra(bfe=wrapped).bfe is wrapped
    with pytest.raises(TypeError):
        pyoptgra.optgra(1, 2, 3, 4, (), (), (), True, 1e-6, 1e-6, False, False, 2, 0, None, pygmo.thread_bfe())


def test_algorithm_with_bfe_pickles_and_reports_it():
    algo = pygmo.algorithm(pyoptgra.optgra(bfe=pygmo.thread_bfe(), max_iterations=40))
    assert "bfe = Multi-threaded batch fitness evaluator" in algo.get_extra_info()
    assert "bfe = None" in pygmo.algorithm(pyoptgra.optgra()).get_extra_info()
    copy = pickle.loads(pickle.dumps(algo))
    assert repr(copy) == repr(algo)
    uda = copy.extract(pyoptgra.optgra)
    assert isinstance(uda.bfe, pygmo.bfe)
    serial = pygmo.algorithm(pyoptgra.optgra(max_iterations=40)).evolve(pygmo.population(cec2006_g7()[0], 1, seed=3))
    evolved = copy.evolve(pygmo.population(cec2006_g7()[0], 1, seed=3))
    assert np.array_equal(evolved.get_x(), serial.get_x())
    assert evolved.problem.get_fevals() == serial.problem.get_fevals() > 40


@pytest.fixture(scope="module")
def mp_pool():
    pygmo.mp_bfe.init_pool(2)
    yield
    pygmo.mp_bfe.shutdown_pool()


@pytest.mark.timeout(120)
def test_mp_bfe_is_identical_to_serial_and_propagates_errors(mp_pool):
    serial = run(hs71_batched, max_iterations=5)
    batched = run(hs71_batched, bfe=pygmo.mp_bfe(), max_iterations=5)
    assert_same_run(serial, batched)
    with pytest.raises(KeyError, match="from a worker"):
        pyoptgra.optgra(bfe=pygmo.mp_bfe()).solve(
            pygmo.problem(Batched(Failing(fail_fitness_at=2, exception=KeyError("from a worker")))), [0.5, 0.5]
        )


@pytest.mark.timeout(120)
def test_mp_island_archipelago_with_bfe():
    algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=20, bfe=pygmo.thread_bfe()))
    problem = cec2006_g7()[0]
    # pygmo's champion counts a constraint at +1e-14 as violated under a zero c_tol
    problem.c_tol = [1e-6] * problem.get_nc()
    archi = pygmo.archipelago(1, udi=pygmo.mp_island(), algo=algo, prob=problem, pop_size=1, seed=5)
    before = archi[0].get_population().champion_f
    archi.evolve()
    archi.wait_check()
    after = archi[0].get_population().champion_f
    assert pygmo.compare_fc(after, before, 0, np.full(len(after) - 1, 1e-6))
