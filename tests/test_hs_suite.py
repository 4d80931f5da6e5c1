"""The Hock-Schittkowski suite (tests/hs_problems.py), each problem from its published start.

Success: every constraint satisfied to 1e-6 and the objective at most 1e-6 above the optimum
reachable from the start (relative to max(1, |f*|)); it may lie below it by at most 1e-5, which the
1e-6 constraint tolerance allows.  Default settings unless SETTINGS names a
problem, with the reason.  NOT_YET_SOLVED lists the problems pyoptgra does not solve yet, with
what goes wrong; its test fails as soon as one of them is solved, so the list stays true.
"""

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra

SETTINGS = {
    # Variables of order 1e3 and 1e2: the problem needs variable scaling.
    "hs106": dict(variable_scaling_factors=[1000, 1000, 1000, 100, 100, 100, 100, 100]),
    # A flat minimum at f* = 0: a merit tolerance of 1e-6 stops within 4e-6 of f*.
    "hs046": dict(merit_function_threshold=1e-9),
    # Equality constraints of magnitude 1e3 in sin/cos: feasibility needs longer correction moves.
    "hs074": dict(max_correction_iterations=150, max_distance_per_iteration=1000),
    "hs075": dict(max_correction_iterations=150, max_distance_per_iteration=1000),
}

NOT_YET_SOLVED = {
    "hs033": "stops at the stationary point (0, 0, 2), f = -4, like SLSQP",
}


def evaluate(cls, **settings):
    """(solved, objective, violation) of one run from the published start."""
    problem = pygmo.problem(H.get_problem(cls.name))
    population = pygmo.population(problem)
    population.push_back(np.clip(cls.x0, *problem.get_bounds()))
    f = pyoptgra.optgra(**settings).evolve(population).get_f()[0]
    violation = max([0.0, *np.abs(f[1 : 1 + cls.nec]), *np.maximum(f[1 + cls.nec :], 0.0)])
    target = getattr(cls, "x0_local_f", None) or cls.f_star
    scale = max(1.0, abs(target))
    solved = violation <= 1e-6 and -1e-5 * scale <= f[0] - target <= 1e-6 * scale
    return solved, f[0], violation


@pytest.mark.parametrize("cls", [c for c in H.ALL_PROBLEMS if c.name not in NOT_YET_SOLVED], ids=lambda c: c.name)
def test_reaches_the_published_optimum(cls):
    solved, objective, violation = evaluate(cls, **SETTINGS.get(cls.name, {}))
    assert solved, f"{cls.name}: f = {objective!r}, f* = {cls.f_star!r}, violation = {violation:.2e}"


@pytest.mark.parametrize("name", sorted(NOT_YET_SOLVED))
def test_not_yet_solved_list_is_true(name):
    cls = type(H.get_problem(name))
    try:
        solved, _, _ = evaluate(cls, **SETTINGS.get(name, {}))
    except ValueError:  # a non-finite output is reported, not hidden
        return
    assert not solved, f"{name} is solved now: remove it from NOT_YET_SOLVED"


def test_pass_count_without_tuning():
    """Report and guard the number solved with default settings."""
    solved = 0
    for cls in H.ALL_PROBLEMS:
        try:
            solved += evaluate(cls)[0]
        except ValueError:
            pass
    print(f"\nHock-Schittkowski: {solved}/{len(H.ALL_PROBLEMS)} solved with default settings")
    assert solved >= 72


def test_an_optimum_is_returned_on_its_constraints_not_within_their_tolerance():
    """The optimisation step keeps the active constraints to second order only, and a merit
    profits from the tolerance's slack: at an optimum one more correction puts every constraint
    within 1e-3 of its tolerance (1e-6, as c_tol is 0), rather than anywhere within it."""
    violations = {}
    for cls in H.ALL_PROBLEMS:
        problem = pygmo.problem(H.get_problem(cls.name))
        result = pyoptgra.optgra(**SETTINGS.get(cls.name, {})).solve(problem, np.clip(cls.x0, *problem.get_bounds()))
        if result.status == pyoptgra.Status.OPTIMAL:
            violations[cls.name] = result.max_violation
    assert len(violations) >= 70
    loose = {name: v for name, v in violations.items() if v > 1e-3 * 1e-6 * (1 + 1e-9)}
    assert not loose, f"optima within the tolerance but off their constraints: {loose}"


@pytest.mark.parametrize("name, x0", [
    ("hs026", [-2.9098649853438987, 1.714378675341894, 2.495224634136382]),
    ("hs027", [2.2251898571399016, 1.031400935640663, 1.3753791537638593]),
])
def test_a_slowly_converging_run_is_not_stopped_by_one_small_gain(name, x0):
    """From these starts the steps gain less and less slowly: a step's predicted gain falls
    below merit_function_threshold while the gains still to come add up to more.  The
    convergence test counts their geometric tail, so the run goes on to within 1e-6 of f*."""
    cls = type(H.get_problem(name))
    result = pyoptgra.optgra().solve(pygmo.problem(H.get_problem(name)), x0)
    assert result.status == pyoptgra.Status.OPTIMAL
    assert result.objective == pytest.approx(cls.f_star, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name, x0", [("hs023", [3.337784785709853, 0.5157004678203315]),
                                      ("hs017", [-0.5, 0.5157004678203315])])
def test_active_inequalities_end_on_their_boundary(name, x0):
    """From these starts the steps hold the active inequalities where they met them, less than
    one tolerance inside their boundary (f was 2.0000033 for hs023's 2).  At the optimum the
    last correction moves them onto the boundary the objective pushes them to."""
    cls = type(H.get_problem(name))
    result = pyoptgra.optgra().solve(pygmo.problem(H.get_problem(name)), x0)
    assert result.status == pyoptgra.Status.OPTIMAL
    assert result.objective == pytest.approx(cls.f_star, rel=1e-9, abs=1e-9)
