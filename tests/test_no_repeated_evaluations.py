"""Evaluations are not repeated: a point asked for again is answered from memory.

A step that is taken back returns to its origin, a linearisation point whose values and
derivatives are known; a probe repeated from the same linearisation asks for the same points.
The engine remembers the last eight points it evaluated and the derivatives at its last two
linearisation points, and judges a move by its values before taking any derivative
where it ended.  A probe or step end that differs from a recently evaluated point by rounding only is moved
onto it.
"""

import numpy as np
import pygmo
import pytest

import hs_problems as H
import pyoptgra

RECENT_POINTS = 8


class Recording:
    """A UDP forwarding to ``udp`` that records every point it is asked about."""

    def __init__(self, udp) -> None:
        self.udp = udp
        self.calls: list[tuple[str, bytes]] = []

    def fitness(self, x):
        self.calls.append(("f", np.asarray(x, dtype=float).tobytes()))
        return self.udp.fitness(x)

    def gradient(self, x):
        self.calls.append(("g", np.asarray(x, dtype=float).tobytes()))
        return self.udp.gradient(x)

    def get_bounds(self):
        return self.udp.get_bounds()

    def get_nec(self):
        return self.udp.nec

    def get_nic(self):
        return self.udp.nic


def record(name, **settings):
    udp = H.get_problem(name)
    recording = Recording(udp)
    problem = pygmo.problem(recording)
    problem.c_tol = [1e-6] * problem.get_nc()
    x0 = np.clip(type(udp).x0, *problem.get_bounds())
    result = pyoptgra.optgra(**settings).solve(problem, x0)
    # solve works on a copy of the problem: read the calls from it
    return problem.extract(Recording).calls, result


@pytest.mark.parametrize("name", [c.name for c in H.ALL_PROBLEMS])
def test_no_point_is_evaluated_twice_in_a_row(name):
    calls, result = record(name)
    fitness = [x for kind, x in calls if kind == "f"]
    gradient = [x for kind, x in calls if kind == "g"]
    assert len(fitness) == result.evaluations["fitness"]
    for i, x in enumerate(fitness):
        assert x not in fitness[max(0, i - RECENT_POINTS) : i], f"fitness call {i + 1} repeats a recent point"
    for i in range(1, len(gradient)):
        assert gradient[i] not in gradient[max(0, i - 2) : i], f"gradient call {i + 1} repeats one of the last two"


@pytest.mark.parametrize("name", [c.name for c in H.ALL_PROBLEMS])
def test_no_point_is_evaluated_again_but_for_rounding(name):
    """A probe that the box cuts to where an earlier probe of the same linearisation was, a
    step to the model's maximum after a probe there, and a quasi-Newton probe back to where its
    secant came from (HS 23: the previous linearisation point; HS 112: a probe made from it)
    differ from that point by rounding only: they are moved onto it, and its values are
    remembered."""
    calls, _ = record(name)
    fitness = [np.frombuffer(x) for kind, x in calls if kind == "f"]
    # the repeats were ~1e-14 apart; a genuine small move (hs012's final polish) is ~3e-11
    for i, x in enumerate(fitness):
        for y in fitness[max(0, i - RECENT_POINTS) : i]:
            assert np.max(np.abs(x - y) / (1.0 + np.abs(y))) > 1e-12, f"fitness call {i + 1} is a recent point"


@pytest.mark.parametrize("name", [c.name for c in H.ALL_PROBLEMS])
def test_the_last_linearisation_points_are_not_evaluated_again(name):
    """A return to one of the last two points where derivatives were taken (a run that ends
    where it last linearised, after its probes and a restart's) is answered from memory; with
    four points remembered, HS 71 evaluated its last linearisation point again."""
    calls, _ = record(name)
    linearised: list[bytes] = []  # the last two gradient points, the newest first
    for i, (kind, x) in enumerate(calls):
        if kind == "g":
            linearised = ([x] + [y for y in linearised if y != x])[:2]
        else:
            assert x not in linearised, f"call {i + 1} evaluates one of the last two linearisation points"


@pytest.mark.parametrize("name", ["hs001", "hs038", "hs112"])
def test_a_step_taken_back_costs_no_derivatives(name, caplog):
    """From their published starts these runs take optimisation steps back (the step's gain
    falls short of its model's); the gradient is taken only at the linearisation points kept,
    each once."""
    import logging

    with caplog.at_level(logging.DEBUG, logger="pyoptgra"):
        calls, result = record(name, log_level=2)
    taken_back = [r for r in caplog.records if r.getMessage().startswith("step gain") and "accepted F" in r.getMessage()]
    assert taken_back, "the run must take a step back for this test to mean anything"
    gradient = [x for kind, x in calls if kind == "g"]
    assert len(set(gradient)) == len(gradient)
    assert result.evaluations["gradient"] == len(gradient)


class _Wall:
    """maximise x1 + 0.1 x2 subject to c(x) = [x1 > 1] <= 0: the constraint jumps from 0 to 1 at
    x1 = 1, and its gradient is zero everywhere, so no correction can undo a step across it."""

    nec, nic = 0, 1

    def fitness(self, x):
        return [-x[0] - 0.1 * x[1], 1.0 if x[0] > 1.0 else 0.0]

    def gradient(self, x):
        return [-1.0, -0.1, 0.0, 0.0]

    def get_bounds(self):
        return ([-5.0, -5.0], [50.0, 5.0])


def test_steps_into_a_wall_are_taken_back_reusing_derivatives_and_the_run_ends():
    """Each step across the wall is taken back with a quarter of its length, without new
    derivatives at its origin; the run ends (feasible, about as close to the wall as the merit
    can resolve) once the step's predicted gain, scaled to the shorter length, is at most one
    tolerance, not at max_iterations."""
    recording = Recording(_Wall())
    problem = pygmo.problem(recording)
    problem.c_tol = [1e-6]
    algorithm = pyoptgra.optgra()
    result = algorithm.solve(problem, [0.0, 0.0])
    gradient = [x for kind, x in problem.extract(Recording).calls if kind == "g"]
    assert result.status == pyoptgra.Status.MATCHED, result.message
    assert result.reason is pyoptgra.StopReason.WALL and "short of it" in result.message
    assert result.fitness[1] == 0.0
    assert 1.0 - 1e-5 < result.x[0] <= 1.0
    assert result.iterations < algorithm.max_iterations
    # a step's origin is linearised again after each take-back, its derivatives reused
    assert len(gradient) == result.evaluations["gradient"] < result.iterations
    for i in range(1, len(gradient)):
        assert gradient[i] not in gradient[max(0, i - 2) : i]
