"""Feasibility from far away: the correction's moves are judged like optimisation steps.

From these starts (the benchmark's seeded random starts of HS 104 and HS 93), a full-radius
correction overshoots: the violation at the point it reaches is larger than where it started, and
without a judgement the correction wandered for all 90 correction iterations (HS 104) or stopped
where a constraint's gradient vanished after an optimisation step (HS 93).  Now a correction that
increases the total violation before the first feasible point is taken back with a smaller
radius, and an optimisation step after which the correction cannot move at all is taken back.
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


def test_rejected_corrections_are_logged_with_the_radius(caplog):
    """The log (level 2) states each judgement: the violation reached, from which, the radius."""
    import logging

    udp = H.get_problem("hs104")
    problem = pygmo.problem(udp)
    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        pyoptgra.optgra(log_level=2).solve(problem, STARTS["hs104"][1])
    judged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("correction violation")]
    rejected = [line for line in judged if "accepted F" in line]
    assert rejected, "the first correction from this start overshoots and must be taken back"
    radii = [float(line.split("radius")[1]) for line in rejected]
    assert all(r < pyoptgra.optgra().max_distance_per_iteration for r in radii)  # shrunk
