"""Why a run ended (Result.reason) and what Result.message then says: one run per reason the
engine reports, and the note on a run that its radius held back, with and without variable
scaling."""

import re
import sys
from pathlib import Path

import numpy as np
import pygmo
import pytest

import pyoptgra
from pyoptgra import Status, StopReason
from problems import Hs71

HS71_START = [1.0, 5.0, 5.0, 1.0]


class FarEquality:
    """min x1^2 + x2^2 subject to x1 = target: the correction needs about target / radius
    iterations, each a move of the full radius."""

    def __init__(self, target: float = 100.0) -> None:
        self.target = target

    def fitness(self, x):
        return [x[0] ** 2 + x[1] ** 2, x[0] - self.target]

    def gradient(self, x):
        return [2.0 * x[0], 2.0 * x[1], 1.0, 0.0]

    def get_bounds(self):
        return [-1e4, -1e4], [1e4, 1e4]

    def get_nec(self):
        return 1


class FarMinimum:
    """min (x - target)^2, unconstrained: every step is cut at the radius until the end."""

    def __init__(self, target: float = 1000.0) -> None:
        self.target = target

    def fitness(self, x):
        return [(x[0] - self.target) ** 2]

    def gradient(self, x):
        return [2.0 * (x[0] - self.target)]

    def get_bounds(self):
        return [-1e5], [1e5]


class Conflict:
    """x >= 2 and x <= 1: no point satisfies both."""

    def fitness(self, x):
        return [x[0] ** 2, 2.0 - x[0], x[0] - 1.0]

    def get_bounds(self):
        return [-10.0], [10.0]

    def get_nic(self):
        return 2


def solve(udp, x0, **settings):
    return pyoptgra.optgra(**settings).solve(pygmo.problem(udp), x0)


def test_the_codes_are_those_of_the_engine_and_its_c_header():
    """StopReason mirrors the engine's STOP_* codes (optgra_kinds.f90) and the C header's
    OG_STOP_* ones (optgra.h), name for name."""
    root = Path(__file__).parents[1]
    kinds = (root / "fortran" / "optgra_kinds.f90").read_text()
    header = (root / "cpp_wrapper" / "optgra.h").read_text()
    engine = {name: int(value) for name, value in re.findall(r"\bSTOP_(\w+) = (\d+)", kinds)}
    c_codes = {name: int(value) for name, value in re.findall(r"OG_STOP_(\w+) = (\d+)", header)}
    ours = {reason.name: int(reason) for reason in StopReason}
    assert len(ours) >= 10
    assert engine == ours
    assert c_codes == ours


def test_iteration_budget():
    result = solve(FarMinimum(), [0.0], max_iterations=5)
    assert (result.status, result.reason) == (Status.MATCHED, StopReason.ITERATIONS)
    assert result.message.startswith("Constraints matched, but not optimal: max_iterations ran out.")


def test_correction_budget_and_the_radius_note():
    result = solve(FarEquality(), [0.0, 0.0], max_distance_per_iteration=1.0, max_correction_iterations=6)
    assert (result.status, result.reason) == (Status.NOT_MATCHED, StopReason.CORRECTIONS)
    assert "within max_correction_iterations" in result.message
    # six linearisations, each followed by a correction of one unit: the last point is x1 = 6
    assert result.iterations == 6 and result.x[0] == pytest.approx(6.0)
    assert result.note.startswith("The last 5 moves were max_distance_per_iteration (1) long")
    assert result.message.endswith(result.note)


def test_iteration_budget_before_feasibility():
    result = solve(FarEquality(), [0.0, 0.0], max_distance_per_iteration=1.0, max_iterations=4)
    assert (result.status, result.reason) == (Status.NOT_MATCHED, StopReason.ITERATIONS)
    assert "within max_iterations" in result.message and "held the run back" in result.message


def test_the_note_measures_moves_in_scaled_variables():
    """With scale 0.1 a move of max_distance 1 is 0.1 units of x: still a full-radius move (a
    measure in x would see moves of a tenth of the radius, and make no note)."""
    result = solve(FarEquality(10.0), [0.0, 0.0], max_distance_per_iteration=1.0, max_correction_iterations=6,
                   variable_scaling_factors=[0.1, 0.1])
    assert result.reason is StopReason.CORRECTIONS and result.x[0] == pytest.approx(0.6)
    moves = np.linalg.norm(np.diff([r.x for r in result.history], axis=0), axis=1)
    assert moves == pytest.approx(0.1)
    assert result.note.startswith("The last 5 moves were max_distance_per_iteration (1) long")


def test_no_note_when_the_moves_are_short():
    """Out of iterations, but not because of the radius: Rosenbrock's valley, steps well inside it."""
    result = solve(pygmo.rosenbrock(2), [-1.2, 1.0], max_iterations=6)
    assert result.reason is StopReason.ITERATIONS
    moves = np.linalg.norm(np.diff([r.x for r in result.history], axis=0), axis=1)
    assert moves.max() < 10.0 * (1 - 1e-6)
    assert result.note == ""


def test_a_correction_that_cannot_move():
    result = solve(Conflict(), [0.5])
    assert (result.status, result.reason) == (Status.NOT_MATCHED, StopReason.STUCK)
    assert "cannot reduce the constraint violation" in result.message


def test_diverging():
    """With a one-iteration correction budget the divergence test is what ends the run."""
    result = solve(Conflict(), [0.5], max_correction_iterations=1)
    assert (result.status, result.reason) == (Status.INFEASIBLE, StopReason.DIVERGING)
    assert "infeasible" in result.message


def test_converged_and_through_evolve():
    algorithm = pygmo.algorithm(pyoptgra.optgra())
    population = pygmo.population(pygmo.problem(Hs71()))
    population.push_back(HS71_START)
    algorithm.evolve(population)
    result = algorithm.extract(pyoptgra.optgra).last_result
    assert (result.status, result.reason, result.note) == (Status.OPTIMAL, StopReason.CONVERGED, "")
    assert result.message in algorithm.get_extra_info()


@pytest.mark.parametrize("full, note", [(10, "The last 10 moves"), (8, "8 of the last 10 moves"), (7, "")])
def test_the_note_needs_eight_of_the_last_ten_moves_at_the_radius(full, note):
    """The rule itself, on made-up linearisation points: moves of the radius 2 (scaled by 0.5,
    so 1 unit of x) and shorter ones, the short ones first."""
    radius_note = sys.modules["pyoptgra.optgra"]._radius_note
    steps = [0.3] * (10 - full) + [1.0] * full
    points = [np.zeros(3)] + [np.array([x, 0.0, 0.0]) for x in np.cumsum(steps)]
    scales = np.full(3, 0.5)
    made = radius_note(points, scales, 2.0, StopReason.ITERATIONS)
    assert made.startswith(note) if note else made == ""
    # never after a run that converged, or was stopped by its problem
    assert radius_note(points, scales, 2.0, StopReason.CONVERGED) == ""
    assert radius_note(points, scales, 2.0, StopReason.NONE) == ""
