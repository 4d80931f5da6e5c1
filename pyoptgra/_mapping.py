"""Mapping of a pygmo problem onto the engine's arrays and callbacks.

The engine sees one output vector of length ``m + 1``:

1. the problem's ``nec`` equality constraints (type 0, ``h(x) = 0``);
2. its ``nic`` inequality constraints (type -1, ``g(x) <= 0``);
3. with ``bounds_to_constraints``, one row ``x_i - lb_i >= 0`` per finite lower bound and then one
   row ``ub_i - x_i >= 0`` per finite upper bound, each in variable order (type +1).  The engine
   forms these rows itself from the bounds, so the callbacks only deliver items 1, 2 and 4;
4. the objective, last (type -1: minimise).

A bound counts as finite when ``|b| < 1e295``.  Tolerances are the problem's ``c_tol`` (a zero
entry means :data:`DEFAULT_CONSTRAINT_TOLERANCE`), then ``bound_constraints_tolerance`` for every
bound row, then ``merit_function_threshold``.

With a Khan transform the engine works on ``xe`` with ``x = khan.eval(xe)`` inside the box; the
bound rows are then formed here, in problem space (``x(xe) - lb`` with gradient ``dx/dxe``), and
the chain rule ``df/dxe = df/dx * dx/dxe`` is applied at ``xe``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pygmo

from .khan import (
    base_khan_function,
    khan_function_sin,
    khan_function_tanh,
    khan_function_triangle,
)

#: Bounds at or beyond this magnitude are treated as absent.
FINITE_BOUND_LIMIT = 1e295
#: Tolerance used for a constraint whose ``c_tol`` is zero (pygmo's default).
DEFAULT_CONSTRAINT_TOLERANCE = 1e-6


def effective_tolerances(problem: pygmo.problem) -> np.ndarray:
    """The problem's constraint tolerances, with zero entries replaced by the default 1e-6."""
    c_tol = np.asarray(problem.c_tol, dtype=float)
    return np.where(c_tol > 0.0, c_tol, DEFAULT_CONSTRAINT_TOLERANCE)


def finite_bound_mask(bounds: np.ndarray) -> np.ndarray:
    """True where a bound is a real bound: finite and of magnitude below 1e295."""
    return np.isfinite(bounds) & (np.abs(bounds) < FINITE_BOUND_LIMIT)


def parse_khan_option(option) -> Tuple[Optional[str], int]:
    """Check a ``khan_bounds`` value: (None, 0) for no transform, else the kind and triangle order.

    Accepted: False (or None), True or "sin", "tanh", and "triangleN" with an integer N >= 1.
    Anything else raises ``ValueError`` naming ``khan_bounds``."""
    if option is False or option is None:
        return None, 0
    if option is True or (isinstance(option, str) and option == "sin"):
        return "sin", 0
    if isinstance(option, str) and option == "tanh":
        return "tanh", 0
    if isinstance(option, str) and option.startswith("triangle"):
        order = option[len("triangle"):]
        if not (order.isascii() and order.isdigit()) or int(order) < 1:
            raise ValueError(
                f"Invalid option for Khan bounds (khan_bounds): {option!r}; expected 'triangle' "
                "followed by an integer order >= 1, e.g. 'triangle3'"
            )
        return "triangle", int(order)
    raise ValueError(
        f"Unrecognised option for khan_bounds: {option!r}; expected False, True, 'sin', 'tanh' "
        "or 'triangleN'"
    )


def make_khan_function(option, lower: np.ndarray, upper: np.ndarray) -> Optional[base_khan_function]:
    """The Khan transform named by ``khan_bounds`` (see :func:`parse_khan_option`)."""
    kind, order = parse_khan_option(option)
    if kind is None:
        return None
    if kind == "sin":
        return khan_function_sin(lower, upper)
    if kind == "tanh":
        return khan_function_tanh(lower, upper)
    return khan_function_triangle(lower, upper, order)


def output_name(index: int, nec: int) -> str:
    """Human name of entry ``index`` of a pygmo fitness vector."""
    if index == 0:
        return "objective (fitness[0])"
    if index <= nec:
        return f"equality constraint {index - 1} (fitness[{index}])"
    return f"inequality constraint {index - 1 - nec} (fitness[{index}])"


def constraint_excess(c: np.ndarray, nec: int) -> np.ndarray:
    """Violation of each pygmo constraint: |h| for the nec equalities, max(g, 0) for the rest."""
    c = np.asarray(c, dtype=float)
    return np.concatenate([np.abs(c[:nec]), np.maximum(c[nec:], 0.0)])


def violation_summary(f: np.ndarray, nec: int, tolerances: np.ndarray) -> Tuple[int, float]:
    """Number of violated constraints and the Euclidean norm of their violations."""
    excess = constraint_excess(f[1:], nec)
    violated = excess > tolerances
    return int(violated.sum()), float(np.linalg.norm(excess[violated]))


@dataclass
class EvaluationLog:
    """pygmo-style log: a row every ``interval`` fitness evaluations."""

    interval: int = 0
    rows: List[tuple] = field(default_factory=list)
    count: int = 0

    def record(self, f: np.ndarray, nec: int, tolerances: np.ndarray) -> None:
        self.count += 1
        if self.interval <= 0 or self.count % self.interval:
            return
        violated, norm = violation_summary(f, nec, tolerances)
        row = (self.count, float(f[0]), violated, norm, violated == 0)
        if not self.rows:
            print(f"{'fevals:':>10}{'fitness:':>16}{'violated:':>11}{'viol. norm:':>14}", file=sys.stdout)
        self.rows.append(row)
        print(f"{row[0]:>10}{row[1]:>16.8g}{row[2]:>11}{row[3]:>14.6g}{'' if row[4] else ' i'}", file=sys.stdout)


def _merit_last(rows: np.ndarray) -> np.ndarray:
    """pygmo order [objective, constraints] to engine order [constraints, objective] (first axis);
    np.roll does the same five times slower, which shows on a cheap fitness."""
    return np.concatenate((rows[1:], rows[:1]))


class EngineProblem:
    """A pygmo problem as the engine sees it: arrays, callbacks and the way back."""

    def __init__(
        self,
        problem: pygmo.problem,
        bounds_to_constraints: bool,
        force_bounds: bool,
        khan: Optional[base_khan_function],
        bound_tolerance: float,
        merit_tolerance: float,
        log: Optional[EvaluationLog] = None,
    ) -> None:
        self.problem = problem
        self.n = problem.get_nx()
        self.nec = problem.get_nec()
        self.nic = problem.get_nic()
        self.m_user = self.nec + self.nic
        lower, upper = (np.asarray(b, dtype=float) for b in problem.get_bounds())
        self.lower, self.upper = lower, upper
        self.force_bounds = force_bounds
        self.khan = khan
        self.log = log if log is not None else EvaluationLog()
        self._last_jacobian: Optional[np.ndarray] = None  # see gradient()
        self.constraint_tolerances = effective_tolerances(problem)

        lower_rows = finite_bound_mask(lower) & bounds_to_constraints
        upper_rows = finite_bound_mask(upper) & bounds_to_constraints
        self.n_bound_rows = int(lower_rows.sum() + upper_rows.sum())
        # Without Khan the engine forms the bound rows from the bounds it is given; with Khan they
        # are delivered by the callbacks, after the problem's constraints.
        engine_rows = khan is None
        self.engine_lower = np.where(lower_rows & engine_rows, lower, -np.inf)
        self.engine_upper = np.where(upper_rows & engine_rows, upper, np.inf)
        self._khan_lower = np.nonzero(lower_rows)[0] if khan is not None else np.empty(0, dtype=np.intp)
        self._khan_upper = np.nonzero(upper_rows)[0] if khan is not None else np.empty(0, dtype=np.intp)
        self.m = self.m_user + self.n_bound_rows
        self.output_types = np.array(
            [0] * self.nec + [-1] * self.nic + [1] * self.n_bound_rows + [-1], dtype=np.intc
        )
        self.tolerances = np.concatenate(
            [self.constraint_tolerances, np.full(self.n_bound_rows, bound_tolerance), [merit_tolerance]]
        )
        # A problem without a sparsity pattern has pygmo's dense row-major one: its gradient is
        # the Jacobian itself, reshaped, with no scatter (1.5 ms per gradient at nx = 800, m = 400).
        self._dense_gradient = not problem.has_gradient_sparsity()
        if not self._dense_gradient:
            sparsity = np.asarray(problem.gradient_sparsity(), dtype=np.intp).reshape(-1, 2)
            self._gradient_rows, self._gradient_cols = sparsity[:, 0], sparsity[:, 1]
            flat = self._gradient_rows * self.n + self._gradient_cols
            self._dense_gradient = flat.size == (1 + self.m_user) * self.n and bool(np.all(flat == np.arange(flat.size)))

    # -- points -----------------------------------------------------------------------------
    def problem_point(self, xe: np.ndarray) -> np.ndarray:
        """The problem-space point where the user is evaluated for engine point ``xe``."""
        if self.khan is not None:  # tanh's image is 0.1% wider than the box: clip it
            return np.clip(self.khan.eval(xe), self.lower, self.upper)
        # the callback already owns xe (a fresh float64 array from the C++ layer): no copy
        x = np.asarray(xe, dtype=float)
        return np.clip(x, self.lower, self.upper) if self.force_bounds else x

    def engine_point(self, x: np.ndarray) -> np.ndarray:
        """The engine point of problem-space start ``x``."""
        return self.khan.eval_inv(x) if self.khan is not None else np.array(x, dtype=float)

    # -- callbacks ---------------------------------------------------------------------------
    def fitness(self, xe: np.ndarray) -> np.ndarray:
        """Engine-order outputs [constraints, objective] at engine point ``xe``."""
        x = self.problem_point(xe)
        return self._engine_outputs(xe, x, self.problem.fitness(x))

    def batch_fitness(self, bfe: pygmo.bfe, points: np.ndarray) -> np.ndarray:
        """Engine-order outputs at the engine points ``points`` (one per row), evaluated by ``bfe``.

        Row for row the same as :meth:`fitness`: the same problem-space points, checks and log
        records, taken in row order, so that an error names the first bad point of the batch."""
        points = np.asarray(points, dtype=float).reshape(-1, self.n)
        xs = np.array([self.problem_point(xe) for xe in points]).reshape(points.shape)
        fs = np.asarray(bfe(self.problem, xs.ravel()), dtype=float).reshape(points.shape[0], -1)
        return np.array([self._engine_outputs(xe, x, f) for xe, x, f in zip(points, xs, fs)])

    def known_start(self, xe: np.ndarray, x: np.ndarray, f: np.ndarray) -> Optional[np.ndarray]:
        """The fitness callback's outputs at engine start ``xe`` from the known pygmo fitness ``f``
        at problem point ``x``, or None when they may differ from a call's: ``xe`` reaches the
        user at another point than ``x``, or ``f`` is not a finite fitness vector."""
        f = np.asarray(f, dtype=float)
        if f.shape != (1 + self.m_user,) or not np.all(np.isfinite(f)):
            return None
        if not np.array_equal(self.problem_point(xe), x):
            return None
        return self._engine_order(xe, f)

    def _engine_outputs(self, xe: np.ndarray, x: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Check and log the pygmo fitness ``f`` at problem point ``x`` of engine point ``xe``, and
        put it into engine order (with the Khan bound rows)."""
        self._check_finite(f, x, "fitness")
        self.log.record(f, self.nec, self.constraint_tolerances)
        return self._engine_order(xe, f)

    def _engine_order(self, xe: np.ndarray, f: np.ndarray) -> np.ndarray:
        """The pygmo fitness ``f`` at engine point ``xe`` in engine order (with the Khan bound rows)."""
        if self.khan is None:
            return _merit_last(f)
        x = self.khan.eval(xe)
        bounds = [x[self._khan_lower] - self.lower[self._khan_lower], self.upper[self._khan_upper] - x[self._khan_upper]]
        return np.concatenate([f[1:], *bounds, f[:1]])

    def gradient(self, xe: np.ndarray) -> np.ndarray:
        """Engine-order Jacobian, shape (m_user + 1, n), at engine point ``xe``."""
        x = self.problem_point(xe)
        if self._dense_gradient:
            jacobian = np.asarray(self.problem.gradient(x), dtype=float).reshape(1 + self.m_user, self.n)
        else:
            jacobian = np.zeros((1 + self.m_user, self.n))
            jacobian[self._gradient_rows, self._gradient_cols] = self.problem.gradient(x)
        self._check_finite(jacobian, x, "gradient")
        if self.khan is None:
            engine = _merit_last(jacobian)
        else:
            dx = np.diag(self.khan.eval_grad(xe))
            bound_rows = np.zeros((self.n_bound_rows, self.n))
            n_lower = self._khan_lower.size
            bound_rows[np.arange(n_lower), self._khan_lower] = dx[self._khan_lower]
            bound_rows[n_lower + np.arange(self._khan_upper.size), self._khan_upper] = -dx[self._khan_upper]
            engine = np.concatenate([jacobian[1:] * dx, bound_rows, jacobian[:1] * dx])
        # Kept until the next call (the engine has copied it): a large Jacobian freed at the top
        # of the heap is handed back to the system by glibc's malloc, and the next one (pygmo's
        # two copies, the user's array, this one) is then mapped afresh and page faulted in;
        # held, the freed copies are reused (benchmarks/overhead.py, lineq800: nx = 800,
        # m = 400, 91 -> 72 ms per run).
        self._last_jacobian = engine
        return engine

    def _check_finite(self, values: np.ndarray, x: np.ndarray, what: str) -> None:
        finite = np.isfinite(values)
        if finite.all():
            return
        bad = np.nonzero(~finite.reshape(finite.shape[0], -1).all(axis=1))[0]
        names = ", ".join(output_name(int(i), self.nec) for i in bad)
        raise ValueError(f"the problem's {what} is not finite for {names} at x = {x.tolist()}")

    # -- results -----------------------------------------------------------------------------
    def pygmo_fitness(self, y: np.ndarray) -> np.ndarray:
        """The pygmo fitness vector [objective, eq, ineq] from the engine's outputs ``y``."""
        return np.concatenate([[y[self.m]], y[: self.m_user]])

    def _box_rows(self, x: np.ndarray) -> np.ndarray:
        """The box bounds as pygmo inequalities ``lb - x <= 0`` and ``x - ub <= 0`` (finite ones)."""
        lower = finite_bound_mask(self.lower)
        upper = finite_bound_mask(self.upper)
        return np.concatenate([self.lower[lower] - x[lower], x[upper] - self.upper[upper]])

    def _extended(self, x: np.ndarray, f: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Fitness with the box rows appended as inequalities, and the tolerance of every constraint.

        A point outside the box is not a solution, whether or not bounds become constraints."""
        box = self._box_rows(x)
        bound_tolerance = self.tolerances[self.m_user] if self.n_bound_rows else DEFAULT_CONSTRAINT_TOLERANCE
        return np.concatenate([f, box]), np.concatenate([self.constraint_tolerances, np.full(box.size, bound_tolerance)])

    def _excess(self, x: np.ndarray, f: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        extended, tolerances = self._extended(x, f)
        return constraint_excess(extended[1:], self.nec), tolerances

    def max_violation(self, x: np.ndarray, f: np.ndarray) -> float:
        """Largest violation (raw units) of the constraints and the box at (x, f)."""
        excess, _ = self._excess(x, f)
        return float(excess.max()) if excess.size else 0.0

    def is_feasible(self, x: np.ndarray, f: np.ndarray) -> bool:
        """Every constraint and box bound within its tolerance at (x, f)."""
        excess, tolerances = self._excess(x, f)
        return bool(np.all(excess <= tolerances))

    def on_boundary(self, f: np.ndarray) -> np.ndarray:
        """Per constraint: an equality, or an inequality within its tolerance of its boundary."""
        c = np.asarray(f[1:], dtype=float)
        near = np.abs(c) <= self.constraint_tolerances
        near[: self.nec] = True
        return near

    def is_at_least_as_good(self, x_new: np.ndarray, f_new: np.ndarray, x_old: np.ndarray, f_old: np.ndarray) -> bool:
        """pygmo's feasibility-first comparison, with the box bounds counted as inequalities."""
        new, tolerances = self._extended(x_new, f_new)
        old, _ = self._extended(x_old, f_old)
        if np.any(np.isnan(new)):
            return False
        return not pygmo.compare_fc(old, new, self.nec, tolerances)

    def engine_priorities(self, priorities: Sequence[int]) -> np.ndarray:
        """Engine priorities (reference layout: constraints, bound rows, merit); default all 1.

        Only their order matters, so they are passed as dense ranks 1, 2, ...: the engine walks
        through every integer level between the lowest and the highest priority (priorities 1 and
        10**9 would take hours), and Python integers need not fit the engine's 32 bits."""
        if len(priorities) == 0:
            return np.ones(self.m + 1, dtype=np.intc)
        levels = sorted(set(int(p) for p in priorities))
        rank = {level: i + 1 for i, level in enumerate(levels)}
        return np.array([rank[int(p)] for p in priorities], dtype=np.intc)
