"""The correction's chord passes (re-evaluations with the derivatives of the last linearisation)
are cut short when they converge too slowly to be worth more than a new linearisation.

minimise x2^2 subject to x1 + 0.4 x1^2 - 1.4 = 0, from x = (0, 1): the constraint's slope is 1 at
the start and 1.8 at the solution x1 = 1, so chord passes on the starting slope converge only
linearly (ultimately by 0.8 per pass), dozens of passes from a residual of 1.4 down to one
tolerance (1e-6), while passes on fresh slopes (Newton) need a handful."""

import logging

import numpy as np
import pygmo
import pytest

import pyoptgra


class _SlowChord:
    """The problem above, with ``extra`` variables that change nothing (a difference Jacobian
    costs two evaluations per variable)."""

    def __init__(self, with_gradient: bool, extra: int = 0) -> None:
        self.calls = []  # "F" / "G" in order
        self.with_gradient = with_gradient
        self.n = 2 + extra

    def fitness(self, x):
        self.calls.append("F")
        return [x[1] ** 2, x[0] + 0.4 * x[0] ** 2 - 1.4]

    def _gradient(self, x):
        self.calls.append("G")
        return np.concatenate([[0.0, 2.0 * x[1]], np.zeros(self.n - 2), [1.0 + 0.8 * x[0], 0.0], np.zeros(self.n - 2)])

    def get_bounds(self):
        return ([-10.0] * self.n, [10.0] * self.n)

    def get_nec(self):
        return 1

    def has_gradient(self):
        return self.with_gradient

    def gradient(self, x):
        return self._gradient(x)


def _solve(with_gradient: bool, caplog, extra: int = 0, finite_differences: str = "adaptive"):
    udp = _SlowChord(with_gradient, extra)
    problem = pygmo.problem(udp)
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        result = pyoptgra.optgra(log_level=3, finite_differences=finite_differences).solve(
            problem, np.concatenate([[0.0, 1.0], np.zeros(extra)]))
    udp = problem.extract(_SlowChord)
    cut = [r.getMessage() for r in caplog.records if r.getMessage().startswith("chord passes too slow")]
    return result, udp.calls, cut


def test_a_slow_chord_is_cut_short_for_a_new_linearisation(caplog):
    result, calls, cut = _solve(True, caplog)
    assert result.status.name == "OPTIMAL"
    assert abs(result.x[0] - 1.0) < 1e-6 and abs(result.fitness[1]) <= 1e-6
    assert cut, "the chord passes contract by 0.8 each: they must be cut short"
    # One pass on the starting slope (residual 1.4 -> 0.784, a contraction of 0.56: some 24 more
    # passes to one tolerance), then a new linearisation; without the cut the first correction
    # re-evaluates 10 times on the starting slope (17 fitness and 3 gradient calls in all).
    assert calls[:4] == ["F", "G", "F", "G"], calls
    assert len(calls) < 20, calls


@pytest.mark.parametrize("scheme", ["adaptive", "central"])
def test_with_few_variables_differences_cut_the_chord_too(caplog, scheme):
    """Differences on two variables cost 2 or 4 evaluations, fewer than the 8 passes a
    linearisation is worth at least: the passes are cut as with a user gradient."""
    result, calls, cut = _solve(False, caplog, finite_differences=scheme)
    assert result.status.name == "OPTIMAL"
    assert abs(result.x[0] - 1.0) < 1e-6 and abs(result.fitness[1]) <= 1e-6
    assert cut


def test_with_many_variables_differences_let_the_chord_go_on(caplog):
    """With 32 variables a central-difference Jacobian costs 64 evaluations: the passes (some 62
    more at the first pass's rate) are cheaper, and are not cut."""
    result, calls, cut = _solve(False, caplog, extra=30, finite_differences="central")
    assert result.status.name == "OPTIMAL"
    assert abs(result.x[0] - 1.0) < 1e-6 and abs(result.fitness[1]) <= 1e-6
    assert not cut


def test_a_forward_stencil_is_worth_as_many_passes_as_its_evaluations(caplog):
    """The same run on adaptive differences, which start forward: a linearisation on 32
    variables then costs 32 evaluations, fewer than the passes the first pass's rate asks for
    (6.3e5 tolerances at a contraction of 0.81: some 62), so they are cut; the 64 of central
    differences are more, and they go on (the test above)."""
    result, calls, cut = _solve(False, caplog, extra=30)
    assert result.status.name == "OPTIMAL"
    assert abs(result.x[0] - 1.0) < 1e-6 and abs(result.fitness[1]) <= 1e-6
    assert cut


def test_no_cut_on_the_first_reduction_after_an_overshoot():
    """HS 63 from the benchmark's third start: the first chord pass grows the violation (1.3e7 ->
    2.0e7), the second reduces it (-> 1.2e7).  That one reduction says little of the rate; cut
    there, the driver kept the full radius at a point whose linear model predicted no gain, and
    the next correction walked into the box corner (0, 4, 0), a local minimum of the violation
    (NOT_MATCHED after 7 evaluations)."""
    import hs_problems as H

    problem = pygmo.problem(H.get_problem("hs063"))
    problem.c_tol = [1e-6] * problem.get_nc()
    start = [1.7616423189662318, 1.714378675341894, 2.495224634136382]
    result = pyoptgra.optgra().solve(problem, start)
    assert result.status.name == "OPTIMAL", result.message
    assert result.max_violation <= 1e-6
    assert result.objective == pytest.approx(961.7151721, rel=1e-6)
