r"""Sensitivity analysis and linear updates at a point.

``optgra.prepare_sensitivity(problem, x)`` linearises the problem at ``x`` (one evaluation of the
fitness and its gradient, or central differences unless ``finite_differences="forward"``) and finds the *active set*: every equality
constraint, and the inequality constraints (bound constraints included) that are on or beyond
their boundary, within their tolerance, and against which the objective pushes (a Lagrange
multiplier of the right sign).  Nothing moves.  The result is a :class:`SensitivityState`, a plain
picklable object of numpy arrays that later calls read without evaluating anything.

All quantities use the engine's output order: the problem's equality constraints, its inequality
constraints, one row ``x_i - lb_i >= 0`` per finite lower bound and one row ``ub_i - x_i >= 0`` per
finite upper bound (with ``bounds_to_constraints``), then the objective (the *merit*) last; ``m``
counts the constraint rows.  Variables with ``variable_types`` 1 are *parameters*: they never move,
and the matrices say how the optimum follows them.

With the active constraint gradients :math:`A` (over the free variables, in the scaled space
:math:`x_i = X_i / s_i` of ``variable_scaling_factors``) and its minimum-norm right inverse
:math:`A^+ = A^T (A A^T)^{-1}`, shifting active constraint :math:`k` to :math:`C_k + \delta_k = 0`
while the other active constraints stay on their boundary moves the free variables by
:math:`dX/d\delta_k = -A^+ e_k` (the minimum-norm move; it is the true derivative of the optimum
when the active constraints determine the free variables).  The matrices, in raw units, are

- ``constraint_vs_active`` (CC, ``(m+1, m)``): :math:`dC_j/d\delta_k` for every output ``j`` and
  active ``k``; an active row holds 1 on its diagonal.  Its last row (the merit) holds the Lagrange
  multipliers :math:`\lambda_k`, with :math:`\nabla F + \sum_k \lambda_k \nabla C_k = 0` over the
  free variables;
- ``constraint_vs_parameter`` (CP, ``(m+1, n)``): :math:`dC_j/dP_p`, the total derivative when
  parameter ``p`` moves and the free variables keep the active constraints on their boundary
  (zero for active rows and for free-variable columns);
- ``variable_vs_active`` (VC, ``(n, m)``): :math:`dX_v/d\delta_k` (zero rows for parameters);
- ``variable_vs_parameter`` (VP, ``(n, n)``): :math:`dX_v/dP_p`, with 1 on the diagonal.

A *linear update* uses the saved linear model :math:`C(X) + \nabla C\,(X' - X)` with the
constraints shifted (:math:`C - \Delta`) or replaced by a new problem's values at ``X``: the free
variables move by the minimum-norm step that puts the active constraints back on their boundary
(so :math:`X' = X - VC\,\Delta` when nothing else binds), then by one linearised correction pass if
another constraint is violated in the model.  It returns the new point and the model's
prediction of every output there, the merit included; it fails (flag 0, the saved point returned)
when the model cannot be made feasible within ``max_distance_per_iteration``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

__all__ = ["SensitivityState", "SensitivityMatrices"]


@dataclass(frozen=True, eq=False)
class SensitivityState:
    """A linearisation at a point, as ``prepare_sensitivity`` leaves it (raw units, engine order).

    Attributes:
        point: ``(n,)`` the point X.
        values: ``(m+1,)`` the outputs C(X): constraints, bound rows, then the objective.
        gradients: ``(m+1, n)`` their gradients, row ``j`` is :math:`\\nabla C_j(X)`.
        status: ``(m,)`` per constraint: ``k > 0`` active at position ``k`` of the active list,
            0 near its boundary but not active, -1 clearly satisfied, -2 ignored.
        output_types: ``(m+1,)`` engine types: 0 equality, -1 ``<= 0``, +1 ``>= 0``; objective -1.
        variable_types: ``(n,)`` 0 free, 1 parameter.
        nec: the problem's number of equality constraints.
        nic: the problem's number of inequality constraints.
        lower: ``(n,)`` the lower bounds that became constraint rows (``-inf`` where none).
        upper: ``(n,)`` the upper bounds that became constraint rows (``inf`` where none).
        tolerances: ``(m+1,)`` the tolerance of every output (the problem's ``c_tol``, zero
            entries read 1e-6; the bound tolerance; the merit threshold).
        feasible: whether every constraint was within its tolerance at X.
    """

    point: np.ndarray
    values: np.ndarray
    gradients: np.ndarray
    status: np.ndarray
    output_types: np.ndarray
    variable_types: np.ndarray
    nec: int
    nic: int
    lower: np.ndarray
    upper: np.ndarray
    tolerances: np.ndarray
    feasible: bool

    @property
    def n(self) -> int:
        """Number of variables."""
        return int(self.point.size)

    @property
    def m(self) -> int:
        """Number of constraint rows (problem constraints and bound rows)."""
        return int(self.status.size)

    @property
    def active(self) -> np.ndarray:
        """The active constraints, a boolean ``(m,)`` array."""
        return self.status > 0

    def engine_state(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The (point, values, gradients, status) arrays the engine takes back."""
        return (self.point, self.values, self.gradients, self.status.astype(np.intc))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SensitivityState):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, name), getattr(other, name)) for name in self.__dataclass_fields__
        )

    def __repr__(self) -> str:
        return (
            f"SensitivityState(n={self.n}, m={self.m}, active={np.nonzero(self.active)[0].tolist()}, "
            f"feasible={self.feasible})"
        )


@dataclass(frozen=True)
class SensitivityMatrices:
    """Sensitivity of the linearised optimum, raw units (see :mod:`pyoptgra.sensitivity`).

    Attributes:
        active: ``(m,)`` boolean, the active constraints.
        constraint_vs_active: ``(m+1, m)`` CC, :math:`dC_j/d\\delta_k` (merit row last).
        constraint_vs_parameter: ``(m+1, n)`` CP, :math:`dC_j/dP_p`.
        variable_vs_active: ``(n, m)`` VC, :math:`dX_v/d\\delta_k`.
        variable_vs_parameter: ``(n, n)`` VP, :math:`dX_v/dP_p`.
    """

    active: np.ndarray
    constraint_vs_active: np.ndarray
    constraint_vs_parameter: np.ndarray
    variable_vs_active: np.ndarray
    variable_vs_parameter: np.ndarray

    @property
    def multipliers(self) -> np.ndarray:
        """The ``(m,)`` Lagrange multipliers, i.e. the merit row of CC (zero for inactive
        constraints), with :math:`\\nabla F + \\sum_k \\lambda_k \\nabla C_k = 0` over the free
        variables."""
        return self.constraint_vs_active[-1]

    def as_lists(self) -> Tuple[List[int], List[List[float]], List[List[float]], List[List[float]], List[List[float]]]:
        """The reference's 5-tuple of lists (active as 0/1)."""
        return (
            self.active.astype(int).tolist(),
            self.constraint_vs_active.tolist(),
            self.constraint_vs_parameter.tolist(),
            self.variable_vs_active.tolist(),
            self.variable_vs_parameter.tolist(),
        )
