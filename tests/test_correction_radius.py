"""Feasibility from far away: the correction's moves are judged like optimisation steps.

From these starts (the benchmark's seeded random starts of HS 104 and HS 93), a full-radius
correction overshot: the violation at the point it reaches is larger than where it started, and
without a judgement the correction wandered for all 90 correction iterations (HS 104) or stopped
where a constraint's gradient vanished after an optimisation step (HS 93).  (From HS 104's
second start no correction overshoots any more since slow chord passes are cut for a new
linearisation; the start stays as a case that must be solved.)  Now the corrections
before the first feasible point are judged like trust-region steps on the total violation (taken
back when it grows, the radius shrunk when the violation falls short of the linear model's
prediction and grown back when it matches), and an optimisation step after which the correction
cannot move at all is taken back.
"""

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra

STARTS = {
    "hs104": [
        [6.675569571419706, 1.5471014034609945, 0.1, 0.5578900645411249, 3.4571918056068855,
         4.206541466672545, 1.1301009993730666, 0.1],
        [5.284926956898696, 2.5715680130128407, 0.6476123170681911, 0.1, 5.02278712079722,
         6.329367177177744, 0.6872184016645808, 0.11965237903687864],
    ],
    "hs093": [
        [4.879749223536463, 3.7716330857521667, 14.996300051159656, 10.513794483820055,
         0.5391311867995366, 0.906894529529624],
    ],
}
CASES = [(name, i) for name, starts in STARTS.items() for i in range(len(starts))]


def violation(cls, f):
    return max([0.0, *np.abs(f[1 : 1 + cls.nec]), *np.maximum(f[1 + cls.nec :], 0.0)])


@pytest.mark.parametrize("name, start", CASES)
def test_an_overshooting_correction_is_taken_back_and_the_optimum_reached(name, start):
    udp = H.get_problem(name)
    cls = type(udp)
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-6] * problem.get_nc()
    result = pyoptgra.optgra().solve(problem, STARTS[name][start])
    assert result.status == pyoptgra.Status.OPTIMAL, result.message
    assert violation(cls, result.fitness) <= 1e-6
    assert result.fitness[0] == pytest.approx(cls.f_star, rel=1e-6)


def test_corrections_are_judged_and_logged_with_the_radius(caplog):
    """The log (level 2) states each judgement: the violation reached, from which, the agreement
    with the linear model's prediction, the radius.  From this start one correction overshoots
    (the violation grows): it is taken back with a shrunk radius."""
    import logging

    udp = H.get_problem("hs104")
    problem = pygmo.problem(udp)
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        pyoptgra.optgra(log_level=2).solve(problem, STARTS["hs104"][0])
    judged = [r.getMessage().split() for r in caplog.records if r.getMessage().startswith("correction violation")]
    rejected = [words for words in judged if words[words.index("accepted") + 1] == "F"]
    assert rejected, "a correction from this start overshoots and must be taken back"
    for words in rejected:
        reached, origin, agreement, radius = (float(words[words.index(k) + 1])
                                              for k in ("violation", "from", "agreement", "radius"))
        assert reached > origin and agreement < 0.0
        assert radius < pyoptgra.optgra().max_distance_per_iteration  # shrunk


class _CurvedThenStraight:
    """minimise x1 + x2^2 subject to 50 - x1 + (x2 - 1)^2 <= 0 (optimum x = (50.25, 0.5), f = 50.5).

    From (0, 0) the first full-radius correction overshoots in x2 (the constraint is curved there),
    but the feasible region lies 50 units away along x1, where the constraint is nearly linear.
    """

    def fitness(self, x):
        x1, x2 = x
        return [x1 + x2**2, 50.0 - x1 + (x2 - 1.0) ** 2]

    def gradient(self, x):
        x1, x2 = x
        return [1.0, 2.0 * x2, -1.0, 2.0 * (x2 - 1.0)]

    def get_bounds(self):
        return ([-1000.0, -1000.0], [1000.0, 1000.0])

    def get_nic(self):
        return 1


def test_the_correction_radius_grows_back_where_the_linear_model_holds(caplog):
    """A shrunk correction radius doubles again after a full-radius move whose violation matches
    the linear model's prediction: one overshoot near the start must not leave every later move
    short (before, the radius stayed a quarter of the first move for the whole run)."""
    import logging

    problem = pygmo.problem(_CurvedThenStraight())
    problem.c_tol = [1e-6]
    max_distance = pyoptgra.optgra().max_distance_per_iteration
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        result = pyoptgra.optgra(log_level=2).solve(problem, [0.0, 0.0])
    radii = [float(r.getMessage().split("radius")[1]) for r in caplog.records
             if r.getMessage().startswith("correction violation")]
    first_shrink = next(i for i, r in enumerate(radii) if r < max_distance)
    assert max(radii[first_shrink:]) == max_distance, radii
    assert result.status == pyoptgra.Status.OPTIMAL, result.message
    assert result.fitness[1] <= 1e-6
    assert result.fitness[0] == pytest.approx(50.5, rel=1e-6)
    assert result.x == pytest.approx([50.25, 0.5], abs=1e-3)


HS074_STARTS = [
    [0.1125949285699509, 0.0, -0.31231042311807033, 0.35789006454112493],
    [0.0, 0.0, 0.2476123170681911, -0.11050808089508846],
]


@pytest.mark.parametrize("start", HS074_STARTS)
def test_nonlinear_equalities_far_away_are_reached_by_minimum_norm_moves(start):
    """HS 74 from the benchmark's seeded starts: its equalities c ~ 1000 sin(x3, x4) + 900 - x1,2
    are 1e3 times as steep in x3, x4 as in x1, x2, and feasibility lies about 1000 units away
    along x1, x2.  The steepest descent of the summed violation (the reference's walk) moved
    mostly in x3, x4, shrank the correction radius to 3e-3 and then crept by 1e-3 per iteration:
    not feasible after 1000 iterations.  The minimum-norm moves keep the full radius and are
    feasible at iteration 121 (the default 90 correction iterations are too few: the radius is a
    hard limit)."""
    udp = H.get_problem("hs074")
    cls = type(udp)
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-6] * problem.get_nc()
    result = pyoptgra.optgra(max_iterations=300, max_correction_iterations=300).solve(problem, start)
    assert result.status == pyoptgra.Status.OPTIMAL, result.message
    assert violation(cls, result.fitness) <= 1e-6
    assert result.fitness[0] == pytest.approx(cls.f_star, rel=1e-6)
    assert result.evaluations["gradient"] <= 200


@pytest.mark.parametrize("with_gradient", [True, False], ids=["gradient", "differences"])
def test_a_correction_that_cannot_move_steps_off_a_degenerate_point(with_gradient, caplog):
    """HS 61 from x0 = 0: its equalities 3 x1 - 2 x2^2 = 7 and 4 x1 - x3^2 = 11 have parallel
    gradients wherever x2 = x3 = 0, so after one correction onto the first the second cannot be
    reached in the linear model (by differences the correction moved by rounding only, and was
    taken back at the smallest radius until the iterations ran out).  The run used to stop there
    as NOT_MATCHED; one optimisation step on the objective moves x2, x3 off zero, and the
    correction then reaches the optimum.  (Central differences: forward ones see a slope h at
    x2 = x3 = 0, and the degenerate point is then not seen as one.)"""
    import logging

    udp = H.get_problem("hs061", with_gradient=with_gradient)
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-6] * problem.get_nc()
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        result = pyoptgra.optgra(log_level=2, finite_differences="central").solve(problem, [0.0, 0.0, 0.0])
    assert any(r.getMessage().startswith("correction cannot move") for r in caplog.records)
    assert result.status == pyoptgra.Status.OPTIMAL, result.message
    assert violation(type(H.get_problem("hs061")), result.fitness) <= 1e-6
    assert result.fitness[0] == pytest.approx(H.f_star("hs061"), rel=1e-6)
