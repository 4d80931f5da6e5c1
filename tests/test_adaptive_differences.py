"""Adaptive finite differences (``finite_differences="adaptive"``, the default without a gradient):
forward differences until the run would end at a point, then central ones there, completed from
the forward ones with the backward points only, and central ones to the end."""

import logging

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra
from problems import Forwarding

SWITCH = "converged on forward differences: again on central ones"


class Recording(Forwarding):
    """A problem without gradient that records every point its fitness is called at."""

    def __init__(self, udp):
        super().__init__(udp)
        self.points = []

    def fitness(self, x):
        self.points.append(np.array(x, dtype=float))
        return self.udp.fitness(x)


def solve(name, scheme, caplog=None, **options):
    problem = pygmo.problem(H.get_problem(name, with_gradient=False))
    problem.c_tol = [1e-6] * problem.get_nc()
    algo = pyoptgra.optgra(finite_differences=scheme, log_level=2, **options)
    if caplog is None:
        return algo.solve(problem, type(H.get_problem(name)).x0), []
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        result = algo.solve(problem, type(H.get_problem(name)).x0)
    return result, [r.getMessage() for r in caplog.records]


def test_forward_differences_stop_short_where_adaptive_ones_do_not(caplog):
    """Rosenbrock's function (HS 1): forward differences err by h f'' / 2 ~ 1e-5 x 1000, as much
    as the gradient within 1e-5 of the optimum, and the run stops there (f ~ 7e-6).  Adaptive
    ones converge on forward differences at that point too, then judge it on central ones and
    go on to f < 1e-6, for fewer evaluations than central differences throughout."""
    forward, forward_log = solve("hs001", "forward", caplog)
    central, central_log = solve("hs001", "central", caplog)
    adaptive, adaptive_log = solve("hs001", "adaptive", caplog)
    for result in (forward, central, adaptive):
        assert result.status == pyoptgra.Status.OPTIMAL
    assert forward.objective > 1e-6
    assert central.objective < 1e-6 and adaptive.objective < 1e-6
    assert adaptive.evaluations["fitness"] < central.evaluations["fitness"]
    assert adaptive_log.count(SWITCH) == 1
    assert SWITCH not in forward_log and SWITCH not in central_log
    # after the switch, the run did not stop at once: the central gradient showed the way on
    switch = adaptive_log.index(SWITCH)
    assert any(line.startswith("step gain") for line in adaptive_log[switch:])


def test_the_switch_completes_the_forward_stencil_with_the_backward_points():
    """At the converged point the forward stencil X + h e_i is known: the central differences
    there evaluate X - h e_i only, one point per free variable not at a bound (HS 71: the run
    ends with x1 at its lower bound, where the difference stays one-sided, and x3 fixed)."""
    udp = Recording(H.get_problem("hs071", with_gradient=False))
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-6] * problem.get_nc()
    result = pyoptgra.optgra(finite_differences="adaptive", variable_types=[0, 0, 1, 0]).solve(
        problem, [1.5, 4.5, 4.0, 1.5])
    assert result.status == pyoptgra.Status.OPTIMAL
    points = np.array(problem.extract(Recording).points)
    offsets = points[:, None, :] - points[None, :, :]   # offsets[a, b] = point a - point b
    # each point of a difference stencil is one coordinate away from its base point
    backward = [(a, b) for a in range(len(points)) for b in range(a)
                if np.count_nonzero(offsets[a, b]) == 1 and -1.1e-5 < offsets[a, b].sum() < -0.9e-5]
    forward = [(a, b) for a in range(len(points)) for b in range(a)
               if np.count_nonzero(offsets[a, b]) == 1 and 0.9e-5 < offsets[a, b].sum() < 1.1e-5]
    bases_back = {b for _, b in backward}
    assert len(bases_back) == 1, "backward points around one point only: the converged one"
    base = bases_back.pop()
    assert sorted(np.flatnonzero(offsets[a, base])[0] for a, _ in backward) == [1, 3]
    assert result.x[0] == 1.0
    # ... whose forward points were evaluated before it, once each, and not again after
    assert sorted(np.flatnonzero(offsets[a, b])[0] for a, b in forward if b == base) == [0, 1, 3]
    assert all(a < min(a2 for a2, _ in backward) for a, b in forward if b == base)


@pytest.mark.parametrize("limit", ["max_iterations", "max_evaluations"])
def test_no_switch_without_room_in_the_budget(caplog, limit):
    """A run that converges on forward differences with no iteration left, or fewer
    evaluations left than the backward side of a stencil, ends OPTIMAL there, as forward
    differences would."""
    forward, _ = solve("hs071", "forward")
    budget = forward.iterations if limit == "max_iterations" else forward.evaluations["fitness"] + 1
    adaptive, log = solve("hs071", "adaptive", caplog, **{limit: budget})
    assert adaptive.status == pyoptgra.Status.OPTIMAL
    assert SWITCH not in log
    np.testing.assert_array_equal(adaptive.x, forward.x)
    assert adaptive.evaluations == forward.evaluations
    # with room, the same run switches
    adaptive, log = solve("hs071", "adaptive", caplog)
    assert SWITCH in log and adaptive.iterations > forward.iterations


@pytest.mark.parametrize("name", ["hs071", "hs001", "hs035"])
def test_a_budget_spent_while_confirming_keeps_the_forward_verdict(name):
    """A run that converged on forward differences and spends max_evaluations during the
    confirming iteration (its probes, beyond the backward points the switch reserves) ends
    OPTIMAL at the point it converged at, unless it found a better one before the budget ran
    out (then MATCHED there): more budget never makes the result worse."""
    forward, _ = solve(name, "forward")
    n = len(forward.x)
    statuses = set()
    for extra in range(1, 2 * n + 8):
        adaptive, _ = solve(name, "adaptive", max_evaluations=forward.evaluations["fitness"] + extra)
        statuses.add(adaptive.status)
        if adaptive.status == pyoptgra.Status.OPTIMAL:
            assert adaptive.objective <= forward.objective + 1e-12 * max(1.0, abs(forward.objective))
            assert adaptive.multipliers is not None and np.all(np.isfinite(adaptive.multipliers))
        else:
            assert adaptive.status == pyoptgra.Status.MATCHED, (extra, adaptive.message)
            assert adaptive.objective < forward.objective, (extra, adaptive.message)
    assert pyoptgra.Status.OPTIMAL in statuses


def test_the_completed_central_differences_are_central_ones():
    """Started at HS 71's optimum, a run converges at once on forward differences, completes
    them there to central ones and converges again: its multipliers (from the completed
    Jacobian) are those of central differences throughout, not those of forward ones."""
    x_star = [1.0, 4.74299963, 3.82114998, 1.37940829]
    runs = {}
    for scheme in ("adaptive", "central", "forward"):
        problem = pygmo.problem(H.get_problem("hs071", with_gradient=False))
        problem.c_tol = [1e-6] * problem.get_nc()
        runs[scheme] = pyoptgra.optgra(finite_differences=scheme).solve(problem, x_star)
        assert runs[scheme].status == pyoptgra.Status.OPTIMAL
    np.testing.assert_allclose(runs["adaptive"].multipliers, runs["central"].multipliers, rtol=1e-10)
    assert not np.allclose(runs["forward"].multipliers, runs["central"].multipliers, rtol=1e-8)


def test_sensitivity_takes_central_differences():
    """prepare_sensitivity linearises once, and its answers rest on that: adaptive differences
    take central ones there (the state is the central one, bit for bit; forward ones differ)."""
    x = [1.0, 4.743, 3.821, 1.379]
    states = {}
    for scheme in ("adaptive", "central", "forward"):
        algo = pyoptgra.optgra(finite_differences=scheme)
        algo.prepare_sensitivity(pygmo.problem(H.get_problem("hs071", with_gradient=False)), x)
        states[scheme] = algo.sensitivity_state.gradients
    np.testing.assert_array_equal(states["adaptive"], states["central"])
    assert not np.array_equal(states["forward"], states["central"])


def test_the_scheme_is_named_in_the_extra_info():
    problem = pygmo.problem(H.get_problem("hs071", with_gradient=False))
    problem.c_tol = [1e-6] * problem.get_nc()
    pop = pygmo.population(problem)
    pop.push_back([1.0, 5.0, 5.0, 1.0])
    for scheme, words in [("adaptive", "forward differencing, then double differencing"),
                          ("central", "numerical gradients by double differencing"),
                          ("forward", "numerical gradients by forward differencing")]:
        algo = pygmo.algorithm(pyoptgra.optgra(finite_differences=scheme))
        algo.evolve(pop)
        info = algo.get_extra_info()
        assert words in info and f"finite_differences = {scheme}" in info


def test_bad_schemes_are_refused():
    with pytest.raises(ValueError, match="finite_differences must be one of 'adaptive', 'central', 'forward'"):
        pyoptgra.optgra(finite_differences="backward")
    with pytest.raises(TypeError, match="finite_differences must be a string"):
        pyoptgra.optgra(finite_differences=2)


def test_corrections_taken_back_on_forward_differences_switch_to_central_ones(caplog):
    """HS 61 from x = 0: 3 x1 - 2 x2^2 = 7 and 4 x1 - x3^2 = 11 have parallel gradients where
    x2 = x3 = 0, but forward differences give x2^2 and x3^2 the slope h there, and the corrections
    they steer are taken back until their radius collapses (the run then ended at another
    stationary point, f = -81.9).  Adaptive differences turn central there, which see the
    degenerate point as it is, and the run reaches the optimum as central ones do."""
    result, log = solve("hs061", "adaptive", caplog)
    assert "corrections taken back on forward differences: central ones from here" in log
    assert result.status == pyoptgra.Status.OPTIMAL, result.message
    assert result.objective == pytest.approx(H.f_star("hs061"), rel=1e-6)
    assert result.max_violation <= 1e-6
