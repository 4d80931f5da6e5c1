"""What a run of pyoptgra returns: :class:`Result`, its :class:`Status` and :class:`StopReason`, and
:class:`ForcedStop`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

__all__ = ["Status", "StopReason", "ForcedStop", "IterationRecord", "Result"]


class Status(enum.IntEnum):
    """How a run ended.  Values 1-5 are the reference's ``finopt`` codes."""

    #: Constraints matched and no step gains more than ``merit_function_threshold``.
    OPTIMAL = 1
    #: Constraints matched, but the iteration or evaluation budget ran out first.
    MATCHED = 2
    #: The constraints were never matched within the budget.
    NOT_MATCHED = 3
    #: The distance to feasibility kept growing, so the problem looks infeasible.
    INFEASIBLE = 4
    #: ``timeout_seconds`` ran out; the best point found so far is returned.
    TIMEOUT = 5
    #: The problem raised :class:`ForcedStop`.
    FORCED_STOP = 6
    #: The problem raised another exception, which reached the caller.
    EXCEPTION = 7


class StopReason(enum.IntEnum):
    """Why a run ended: a finer reading of its :class:`Status` (``MATCHED`` and ``NOT_MATCHED``
    each have several reasons)."""

    #: No run was made, or the problem raised an exception (``FORCED_STOP``, ``EXCEPTION``).
    NONE = 0
    #: No step gains more than ``merit_function_threshold`` (``OPTIMAL``).
    CONVERGED = 1
    #: ``max_iterations`` ran out.
    ITERATIONS = 2
    #: ``max_correction_iterations`` ran out before the constraints were matched.
    CORRECTIONS = 3
    #: ``max_evaluations`` ran out.
    EVALUATIONS = 4
    #: ``timeout_seconds`` ran out (``TIMEOUT``).
    TIMEOUT = 5
    #: The best objective stopped improving over the recent iterations.
    STAGNATION = 6
    #: The steps ended at a constraint with less than one tolerance of gain left short of it.
    WALL = 7
    #: A correction could not move: the constraints may have no common solution nearby, or their
    #: linearisation is degenerate there; or the next point was beyond the floating-point range
    #: (derivatives some 1e-150 of their tolerances), and the run stopped where it stood.
    STUCK = 8
    #: The distance to feasibility kept growing (``INFEASIBLE``).
    DIVERGING = 9


MESSAGES = {
    Status.OPTIMAL: "Optimal Solution Found: constraints matched and no further improvement within tolerance.",
    Status.MATCHED: "Constraints matched, but not optimal: the iteration or evaluation budget was exhausted, or the run stopped gaining.",
    Status.NOT_MATCHED: "Not converged: the constraints could not be matched within the correction budget.",
    Status.INFEASIBLE: "Problem appears infeasible: the correction error was diverging.",
    Status.TIMEOUT: "Timeout reached: the best point found so far was returned.",
    Status.FORCED_STOP: "Stopped by the problem (ForcedStop): the best point evaluated so far was returned.",
    Status.EXCEPTION: "Stopped by an exception in the problem: the best point evaluated so far was kept.",
}


#: The status sentence where the reason says more than the status alone.
_SPECIFIC_MESSAGES = {
    (Status.MATCHED, StopReason.ITERATIONS): "Constraints matched, but not optimal: max_iterations ran out.",
    (Status.MATCHED, StopReason.EVALUATIONS): "Constraints matched, but not optimal: max_evaluations ran out.",
    (Status.MATCHED, StopReason.STAGNATION): "Constraints matched, but not optimal: the objective stopped improving.",
    (Status.MATCHED, StopReason.WALL): (
        "Constraints matched, but not optimal: the steps stopped at a constraint with less than one "
        "tolerance of gain left short of it."
    ),
    (Status.MATCHED, StopReason.STUCK): (
        "Constraints matched, but not optimal: the run could not move on from here (a correction "
        "back onto the constraints that could not move, or a step beyond the floating-point range)."
    ),
    (Status.NOT_MATCHED, StopReason.ITERATIONS): "Not converged: the constraints were not matched within max_iterations.",
    (Status.NOT_MATCHED, StopReason.CORRECTIONS): (
        "Not converged: the constraints could not be matched within max_correction_iterations."
    ),
    (Status.NOT_MATCHED, StopReason.EVALUATIONS): "Not converged: the constraints were not matched within max_evaluations.",
    (Status.NOT_MATCHED, StopReason.STUCK): (
        "Not converged: the correction cannot reduce the constraint violation from here (the "
        "constraints may have no common solution nearby, or their linearisation is degenerate here)."
    ),
}


class ForcedStop(Exception):
    """Raise from a problem's fitness or gradient to end the run cleanly.

    The run stops at once; ``solve`` returns (and ``evolve`` writes back) the best point evaluated
    so far, with status :attr:`Status.FORCED_STOP`.  The exception does not propagate.
    """


@dataclass(frozen=True)
class IterationRecord:
    """One iteration: the point where the problem was linearised.

    Attributes:
        iteration: 1, 2, ...
        evaluations: fitness evaluations made when the problem was linearised there (the point
            itself may have been evaluated before: one returned to is not evaluated again).
        objective: the objective there.
        max_violation: the largest constraint violation there (raw units, box bounds included).
        x: the point (problem space).
    """

    iteration: int
    evaluations: int
    objective: float
    max_violation: float
    x: np.ndarray


@dataclass(frozen=True)
class Result:
    """The outcome of one run.

    Attributes:
        x: ``(nx,)`` the returned point.
        fitness: ``(1 + nc,)`` the problem's fitness at ``x``, pygmo order ``[f, eq..., ineq...]``.
        objective: ``fitness[0]``.
        status: how the run ended (:class:`Status`).
        message: a sentence describing the status.
        feasible: every constraint within its tolerance (``c_tol``, a zero entry read as 1e-6) and
            ``x`` inside the box within ``bound_constraints_tolerance``.
        max_violation: the largest violation (raw units): ``|h|`` for equalities, ``max(g, 0)``
            for inequalities, the distance outside the box.
        iterations: linearisations made.
        evaluations: ``{"fitness": ..., "gradient": ...}`` calls made by the engine.
        elapsed: wall-clock seconds of the run.
        history: one :class:`IterationRecord` per iteration.
        multipliers: ``(nc,)`` Lagrange multipliers, pygmo order, with
            :math:`\\nabla f + \\sum_k \\lambda_k \\nabla c_k = 0` over the free variables
            (inequalities ``g <= 0`` get :math:`\\lambda \\ge 0`); from the active set at an
            optimal solution, NaN after any other outcome.
        active: ``(nc,)`` booleans: the constraints in that active set (after a non-optimal
            outcome: the equalities and the inequalities within tolerance of their boundary).
        reason: why the run ended (:class:`StopReason`).
        note: a hint that follows the status sentence in :attr:`message`, or "": after a run
            that ran out of a budget while at least 8 of its last 10 moves were
            ``max_distance_per_iteration`` long, that the radius held it back.
    """

    x: np.ndarray
    fitness: np.ndarray
    status: Status
    feasible: bool
    max_violation: float
    iterations: int
    evaluations: Dict[str, int]
    elapsed: float
    history: List[IterationRecord] = field(default_factory=list)
    multipliers: np.ndarray = field(default_factory=lambda: np.empty(0))
    active: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    reason: StopReason = StopReason.NONE
    note: str = ""

    @property
    def objective(self) -> float:
        return float(self.fitness[0])

    @property
    def message(self) -> str:
        """The status sentence (specific to the reason where it can be), then the note."""
        sentence = _SPECIFIC_MESSAGES.get((self.status, self.reason), MESSAGES[self.status])
        return f"{sentence} {self.note}" if self.note else sentence

    @property
    def success(self) -> bool:
        """True for an optimal, feasible result."""
        return self.status == Status.OPTIMAL and self.feasible

    def __str__(self) -> str:
        lines = [
            f"status:        {self.status.name} ({int(self.status)}): {self.message}",
            f"objective:     {self.objective:.10g}",
            f"feasible:      {self.feasible} (max violation {self.max_violation:.3g})",
            f"x:             {np.array2string(np.asarray(self.x), precision=8, threshold=12)}",
            f"iterations:    {self.iterations}",
            f"evaluations:   {self.evaluations['fitness']} fitness, {self.evaluations['gradient']} gradient",
            f"elapsed:       {self.elapsed:.4g} s",
        ]
        if self.active.size:
            active = np.nonzero(self.active)[0]
            shown = ", ".join(map(str, active[:12])) + (", ..." if active.size > 12 else "")
            lines.append(f"active:        {active.size} of {self.active.size} constraints [{shown}]")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Result(status={self.status.name}, objective={self.objective:.10g}, feasible={self.feasible}, "
            f"max_violation={self.max_violation:.3g}, iterations={self.iterations}, "
            f"evaluations={self.evaluations}, elapsed={self.elapsed:.3g})"
        )
