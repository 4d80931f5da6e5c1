"""The pygmo user-defined algorithm ``optgra``."""

from __future__ import annotations

import collections
import functools
import logging
import numbers
import time
from collections.abc import Iterable, Mapping, Set as AbstractSet
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pygmo

from . import _blas, _core
from .result import ForcedStop, IterationRecord, Result, Status, StopReason
from .sensitivity import SensitivityMatrices, SensitivityState
from ._mapping import EngineProblem, EvaluationLog, finite_bound_mask, make_khan_function, parse_khan_option

_logger = logging.getLogger("pyoptgra")

_ENGINE_LOG_LEVELS = {1: logging.INFO}
# Default central-difference step per unit of variable scale: the error is about
# h^2 |f'''| / 6 (truncation) + eps |f| / h (rounding), least near h = (3 eps)^(1/3) ~ 1e-5 for
# functions and variables of order one.
DEFAULT_DIFFERENCE_STEP = 1e-5
# Each finite_differences scheme: the engine's derivative mode, and its words in get_extra_info.
_DIFFERENCE_SCHEMES = {
    "adaptive": (4, "forward differencing, then double differencing from the converged point on"),
    "central": (2, "double differencing"),
    "forward": (3, "forward differencing"),
}
# A run that ran out of a budget (_BUDGET_REASONS) with at least _RADIUS_SHARE of its last
# _RADIUS_WINDOW moves at the full max_distance_per_iteration was held back by that radius.
_BUDGET_REASONS = frozenset({StopReason.ITERATIONS, StopReason.CORRECTIONS, StopReason.EVALUATIONS, StopReason.TIMEOUT})
_RADIUS_WINDOW = 10
_RADIUS_SHARE = 0.8


def _radius_note(engine_points: Sequence[np.ndarray], scales: np.ndarray, max_distance: float, reason: StopReason) -> str:
    """After a run that ran out of a budget: whether its last moves were held back by
    ``max_distance_per_iteration``, as a sentence for :attr:`Result.note` (or "").  A move is the
    distance between successive linearisation points in the engine's scaled variables,
    ``|(x_{k+1} - x_k) / s|``, the one the radius bounds; at least ``_RADIUS_SHARE`` of the last
    ``_RADIUS_WINDOW`` moves at the full radius (to rounding) make the note."""
    if reason not in _BUDGET_REASONS or max_distance <= 0 or len(engine_points) < 3:
        return ""
    moves = np.linalg.norm(np.diff(np.asarray(engine_points), axis=0) / scales, axis=1)
    full = int(np.count_nonzero(moves >= (1.0 - 1e-6) * max_distance))
    if full < _RADIUS_SHARE * moves.size:
        return ""
    share = f"The last {full}" if full == moves.size else f"{full} of the last {moves.size}"
    return (
        f"{share} moves were max_distance_per_iteration ({max_distance:g}) long: the radius held the run "
        "back. Raise max_distance_per_iteration or the budget, or scale the variables "
        "(variable_scaling_factors) so that a move of that length is large in the problem's units."
    )


def _engine_log(level: int, message: str) -> None:
    _logger.log(_ENGINE_LOG_LEVELS.get(level, logging.DEBUG), message)


def _require_int(name: str, value: Any, minimum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _require_float(name: str, value: Any, minimum: float = 0.0, strict: bool = False) -> float:
    value = _real_entry(name, value)
    if not np.isfinite(value) or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be finite and {relation} {minimum}, got {value}")
    return value


def _require_flag(name: str, value: Any) -> bool:
    """A boolean option: True, False (numpy booleans and the integers 0 and 1 too)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def _require_list(name: str, value: Any, entry: Callable[[str, Any], Any]) -> list:
    """A list option: a sequence (list, tuple, 1-D array) whose entries pass ``entry``; None is []."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping, AbstractSet)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of numbers (or None), got {value!r}")
    try:
        items = list(value)
    except TypeError:  # a 0-d numpy array
        raise TypeError(f"{name} must be a list of numbers (or None), got {value!r}") from None
    return [entry(f"{name} entry", item) for item in items]


def _real_entry(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return _to_float(name, value)


def _to_float(name: str, value: numbers.Real) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond the double range
        raise ValueError(f"{name} must be finite, got {value!r}") from None


def _require_bfe(value: Any) -> Optional[pygmo.bfe]:
    """None, a ``pygmo.bfe``, or a user-defined batch fitness evaluator wrapped in one."""
    if value is None or isinstance(value, pygmo.bfe):
        return value
    try:
        return pygmo.bfe(value)
    except Exception as exc:  # pygmo says NotImplementedError for an object it cannot call
        raise TypeError(
            "bfe must be None, a pygmo.bfe or a user-defined batch fitness evaluator such as "
            f"pygmo.thread_bfe(), pygmo.mp_bfe() or pygmo.member_bfe(); got {value!r}"
        ) from exc


class optgra:
    r"""OPTGRA: a constrained gradient-based optimizer for near-linear problems.

    Each iteration linearises the problem at the current point (one derivative evaluation),
    restores feasibility of the linearised constraints (correction phase, honouring
    ``constraint_priorities``), then takes one step that improves the objective while keeping the
    active constraints (optimisation phase): along the projected gradient or a conjugate direction,
    with a second-order correction from one curvature probe, within
    ``max_distance_per_iteration``.  All quantities are scaled: variables by
    ``variable_scaling_factors``, constraints by their tolerance (pygmo's ``c_tol``; a zero entry
    means 1e-6), bound rows by ``bound_constraints_tolerance`` and the objective by
    ``merit_function_threshold``.  The run has converged when an iteration needs no correction
    and the best step gains less than one ``merit_function_threshold``, together with the gains
    still to come if the steps kept converging at their recent rate :math:`r` (the step's gain
    must be below :math:`(1 - r)` thresholds, :math:`r \le 0.95` the larger of the last two
    ratios of successive gains).

    Args:
        max_iterations: total number of iterations (one derivative evaluation each).
        max_correction_iterations: iterations allowed to reach feasibility.
        max_distance_per_iteration: trust radius per iteration, in scaled variables.
        perturbation_for_snd_order_derivatives: step of the curvature probe, in scaled variables
            (0: linear model); the largest, since later probes are placed at twice the step the
            last step's curvature predicts when that is shorter.
        variable_scaling_factors: positive scale per variable (empty or None: all 1).
        variable_types: 0 free, 1 fixed per variable (empty or None: all free).  A fixed
            variable is evaluated and returned exactly at its start value.
        constraint_priorities: priority per engine output [constraints, bound rows, objective];
            lower numbers are corrected first (empty or None: all 1).
        bounds_to_constraints: turn finite box bounds into inequality constraints.
        bound_constraints_tolerance: tolerance of those bound constraints.
        merit_function_threshold: objective change below which the run has converged.
        force_bounds: evaluate the problem only inside its box (points are clipped).
        khan_bounds: bound transform: False, True or "sin", "tanh", "triangleN" (N >= 1).
        optimization_method: 0 steepest descent, 1 modified spectral CG, 2 limited-memory
            quasi-Newton (L-BFGS from the last ten steps, the spectral CG direction until the
            first), 3 Fletcher-Reeves CG.
        log_level: detail of the engine log sent to the ``logging`` logger "pyoptgra" (0-4).
        timeout_seconds: wall-clock limit of one run, or None.  Checked by the engine before every
            evaluation; when it passes, the run returns its best point with status 5 (TIMEOUT).
        max_evaluations: at most this many fitness evaluations per run, or None (keyword-only);
            when spent, the run ends as if out of iterations (status 2 or 3).
        finite_difference_step: raw step of the finite differences used when the problem has
            no gradient, a number or one per variable, or None for 1e-5 times each variable's
            scaling factor (keyword-only).
        finite_differences: the differences used when the problem has no gradient
            (keyword-only): ``"adaptive"`` (forward differences until the run converges, then
            central ones at that point and from there on), ``"central"`` or ``"forward"``; see
            below.
        check_gradient: compare the problem's gradient with central differences at every
            iteration and log the mismatches (keyword-only).
        bfe: a ``pygmo.bfe``, or a user-defined batch fitness evaluator (``pygmo.thread_bfe()``,
            ``pygmo.mp_bfe()``, ``pygmo.member_bfe()``, ``pygmo.default_bfe()``, ...) that is
            wrapped in one, or None (keyword-only).  It evaluates the finite-difference stencil
            of each linearisation as one batch, ``bfe(problem, dvs)``; see below.

    **Finite differences and batch evaluation.**  Without a problem gradient the derivatives at
    the raw point :math:`X` are finite differences over the free variables :math:`i` (fixed ones
    are not perturbed), with :math:`h_i` the ``finite_difference_step`` and :math:`e_i` the unit
    vector, forward or central:

    .. math::

        \frac{\partial f}{\partial X_i}(X) \approx \frac{f(X + h_i e_i) - f(X)}{h_i},
        \qquad
        \frac{\partial f}{\partial X_i}(X) \approx
        \frac{f(X + h_i e_i) - f(X - h_i e_i)}{(X_i + h_i) - (X_i - h_i)}

    for every output :math:`f` (objective and constraints), each denominator being the step
    actually taken in floating point.  A forward linearisation evaluates the stencil of
    :math:`n_{free}` points :math:`X + h_1 e_1, X + h_2 e_2, \ldots`; a central one the
    :math:`2 n_{free}` points :math:`X + h_1 e_1, X - h_1 e_1, X + h_2 e_2, X - h_2 e_2, \ldots`
    and is far more accurate (error about :math:`h^2 |f'''| / 6` instead of
    :math:`h |f''| / 2`), which matters only near a solution, where the gradient is small.  The
    default ``finite_differences="adaptive"`` therefore takes forward differences until the run
    converges at a point, then completes them there to central ones (the
    :math:`n_{free}` points :math:`X - h_i e_i` only) and judges again, and takes central ones
    from there on, at nearly half the cost of central differences throughout (a run that ends
    otherwise ends on forward ones, and one whose corrections are taken back until their
    radius collapses turns central there); the sensitivity methods, whose answers rest on one
    linearisation, take central ones unless ``finite_differences="forward"``.  ``check_gradient``
    compares with central differences.  Within :math:`h_i` of a bound a difference is one-sided,
    towards the interior.  With ``bfe``, each stencil goes to the evaluator in one call, in that
    order (``dvs`` flattened as pygmo expects), so that a slow fitness is evaluated in parallel.
    The results are bitwise the same as without it: each point is checked, logged
    and counted as one fitness evaluation in stencil order, and an error names the first bad
    point.  When fewer than the stencil's points are left of ``max_evaluations`` the stencil is
    evaluated point by point, so that the budget is spent exactly as without ``bfe``.  The
    evaluator is unused when the problem's gradient is used.  It must suit the problem:
    ``thread_bfe`` needs a thread-safe (C++) problem, ``member_bfe`` a problem with
    ``batch_fitness``, ``mp_bfe`` a problem that pickles and imports in a new process.

    Raises:
        TypeError: an argument of the wrong type (a string, None or a list where a number is
            expected, a bool where a number is expected, a non-list where a list is expected).
        ValueError: a value out of range (negative, zero where it must be positive, NaN or
            infinite, an unknown ``optimization_method`` or ``khan_bounds``).  Either message
            names the argument.
    """

    def __init__(
        self,
        max_iterations: int = 150,
        max_correction_iterations: int = 90,
        max_distance_per_iteration: float = 10,
        perturbation_for_snd_order_derivatives: float = 1,
        variable_scaling_factors: Sequence[float] = (),
        variable_types: Sequence[int] = (),
        constraint_priorities: Sequence[int] = (),
        bounds_to_constraints: bool = True,
        bound_constraints_tolerance: float = 1e-6,
        merit_function_threshold: float = 1e-6,
        force_bounds: bool = False,
        khan_bounds: Union[bool, str] = False,
        optimization_method: int = 2,
        log_level: int = 0,
        timeout_seconds: Optional[float] = None,
        *,
        max_evaluations: Optional[int] = None,
        finite_difference_step: Union[None, float, Sequence[float]] = None,
        finite_differences: str = "adaptive",
        check_gradient: bool = False,
        bfe: Any = None,
    ) -> None:
        self.max_iterations = _require_int("max_iterations", max_iterations, 0)
        self.max_correction_iterations = _require_int("max_correction_iterations", max_correction_iterations, 0)
        self.max_distance_per_iteration = _require_float("max_distance_per_iteration", max_distance_per_iteration)
        self.perturbation_for_snd_order_derivatives = _require_float(
            "perturbation_for_snd_order_derivatives", perturbation_for_snd_order_derivatives
        )
        self.variable_scaling_factors = _require_list("variable_scaling_factors", variable_scaling_factors, _real_entry)
        if not all(np.isfinite(s) and s > 0 for s in self.variable_scaling_factors):
            raise ValueError(f"variable_scaling_factors must be finite and > 0, got {self.variable_scaling_factors}")
        self.variable_types = _require_list("variable_types", variable_types, _require_int)
        if not all(t in (0, 1) for t in self.variable_types):
            raise ValueError(f"variable_types entries must be 0 (free) or 1 (fixed), got {self.variable_types}")
        self.constraint_priorities = _require_list("constraint_priorities", constraint_priorities, _require_int)
        self.bounds_to_constraints = _require_flag("bounds_to_constraints", bounds_to_constraints)
        self.bound_constraints_tolerance = _require_float(
            "bound_constraints_tolerance", bound_constraints_tolerance, strict=True
        )
        self.merit_function_threshold = _require_float("merit_function_threshold", merit_function_threshold, strict=True)
        self.force_bounds = _require_flag("force_bounds", force_bounds)
        parse_khan_option(khan_bounds)  # the problem's bounds are checked in evolve
        self.khan_bounds = khan_bounds
        self.optimization_method = _require_int("optimization_method", optimization_method)
        if self.optimization_method not in (0, 1, 2, 3):
            raise ValueError(f"optimization_method must be 0, 1, 2 or 3, got {optimization_method}")
        self.log_level = _require_int("log_level", log_level, 0)
        self.timeout_seconds = None if timeout_seconds is None else _require_float("timeout_seconds", timeout_seconds)
        self.max_evaluations = None if max_evaluations is None else _require_int("max_evaluations", max_evaluations, 1)
        steps = finite_difference_step
        if isinstance(steps, np.ndarray) and steps.ndim == 0:
            steps = steps.item()
        if steps is None:
            steps = []
        elif isinstance(steps, (numbers.Number, np.bool_)):
            steps = [_real_entry("finite_difference_step", steps)]
        else:
            steps = _require_list("finite_difference_step", steps, _real_entry)
        if (finite_difference_step is not None and not steps) or not all(np.isfinite(h) and h > 0 for h in steps):
            raise ValueError(
                "finite_difference_step must be a positive finite number or a non-empty list of them, "
                f"got {finite_difference_step!r}"
            )
        self.finite_difference_step = None if finite_difference_step is None else np.array(steps, dtype=float)
        if not isinstance(finite_differences, str):
            raise TypeError(f"finite_differences must be a string, got {type(finite_differences).__name__}")
        if finite_differences not in _DIFFERENCE_SCHEMES:
            raise ValueError(
                f"finite_differences must be one of {', '.join(map(repr, _DIFFERENCE_SCHEMES))}, got {finite_differences!r}"
            )
        self.finite_differences = finite_differences
        self.check_gradient = _require_flag("check_gradient", check_gradient)
        self.bfe = _require_bfe(bfe)
        self.verbosity = 0
        self.selection = pygmo.s_policy(pygmo.select_best(rate=1))
        self._log: List[tuple] = []
        #: The :class:`Result` of the last ``solve`` or ``evolve`` (None before the first).
        self.last_result: Optional[Result] = None
        self._has_gradient = False
        self._sens_state: Optional[SensitivityState] = None

    # -- pygmo interface --------------------------------------------------------------------
    def get_name(self) -> str:
        """The algorithm's name for pygmo: ``"Optgra"``."""
        return "Optgra"

    def set_verbosity(self, verbosity: int) -> None:
        """Print a log row to ``sys.stdout`` every ``verbosity`` fitness evaluations (0: never)."""
        verbosity = _require_int("verbosity", verbosity, 0)
        if verbosity and self.log_level:
            raise ValueError("set_verbosity needs log_level == 0: use one of the two logs, not both")
        self.verbosity = verbosity

    def get_log(self) -> List[tuple]:
        """Rows (fevals, objective, violated count, violation norm, feasible) of the last run."""
        return list(self._log)

    def get_extra_info(self) -> str:
        """A readable report for pygmo: the settings and, after a run, its outcome and status sentence."""
        settings = [
            "max_iterations", "max_correction_iterations", "max_distance_per_iteration",
            "perturbation_for_snd_order_derivatives", "variable_scaling_factors", "variable_types",
            "constraint_priorities", "bounds_to_constraints", "bound_constraints_tolerance",
            "merit_function_threshold", "force_bounds", "khan_bounds", "optimization_method",
            "log_level", "verbosity", "timeout_seconds",
        ]
        lines = ["Optgra: constrained gradient-based optimisation (pyoptgra)"]
        result = self.last_result
        if result is not None:
            words = _DIFFERENCE_SCHEMES[self.finite_differences][1]
            gradient = "user-defined gradients" if self._has_gradient else f"numerical gradients by {words}"
            lines.append(f"\tUsing {gradient}")
        lines += [f"\t{name} = {getattr(self, name)}" for name in settings]
        lines.append(f"\tfinite_differences = {self.finite_differences}")
        lines.append(f"\tbfe = {None if self.bfe is None else self.bfe.get_name()}")
        if result is None:
            lines.append("No optimisation has been run yet: no result to report.")
            return "\n".join(lines)
        lines += [
            "Last optimisation result:",
            f"\tobjective = {result.objective}",
            f"\tmax constraint violation = {result.max_violation}",
            f"\tfeasible = {result.feasible}",
            f"\titerations = {result.iterations}",
            f"\tfitness evaluations = {result.evaluations['fitness']}, gradient evaluations = {result.evaluations['gradient']}",
            f"\t{result.message}",
        ]
        return "\n".join(lines)

    def evolve(self, population: pygmo.population) -> pygmo.population:
        """Optimise from the population's best individual and write the result back.

        The result replaces that individual when it is at least as good under pygmo's
        feasibility-first comparison (with zero ``c_tol`` entries taken as 1e-6); the population
        never gets worse.  The individual's fitness, known to the population, is not evaluated
        again.  The run's :class:`Result` is kept as :attr:`last_result`.
        """
        problem = population.problem
        self._validate(population, problem)
        index = population.best_idx()
        x0 = np.asarray(population.get_x()[index], dtype=float)
        f0 = np.asarray(population.get_f()[index], dtype=float)
        result, mapping = self._run(problem, x0, known_fitness=f0)
        if mapping.is_at_least_as_good(result.x, result.fitness, x0, f0):
            population.set_xf(index, result.x, result.fitness)
        return population

    def solve(self, problem: Any, x0: Sequence[float]) -> Result:
        """Optimise ``problem`` (a ``pygmo.problem`` or a user-defined problem) from ``x0``.

        Returns the :class:`Result` (also kept as :attr:`last_result`).  An exception raised by the
        problem propagates unchanged after the engine has stopped, with :attr:`last_result` holding
        the best point evaluated so far; :class:`ForcedStop` ends the run the same way but is
        not raised: its result has status ``FORCED_STOP``.
        """
        problem = problem if isinstance(problem, pygmo.problem) else pygmo.problem(problem)
        self._validate_problem(problem)
        x0 = np.asarray(x0, dtype=float)
        if x0.shape != (problem.get_nx(),):
            raise ValueError(f"x0 must have shape ({problem.get_nx()},) (one entry per variable), got {x0.shape}")
        return self._run(problem, x0)[0]

    def _run(
        self, problem: pygmo.problem, x0: np.ndarray, known_fitness: Optional[np.ndarray] = None
    ) -> Tuple[Result, EngineProblem]:
        """One engine session from problem-space point x0; sets last_result and the log.

        ``known_fitness``: the pygmo fitness at x0, when known (an evolve's individual); the engine
        takes it instead of evaluating its start, unless its start reaches the user at another
        point (a Khan transform's round trip or ``force_bounds`` clipping x0 into the box, checked
        here; variable scaling's rounding, checked by the engine)."""
        khan = self._khan_function(problem)
        log = EvaluationLog(interval=self.verbosity)
        mapping = EngineProblem(
            problem, self.bounds_to_constraints, self.force_bounds, khan,
            self.bound_constraints_tolerance, self.merit_function_threshold, log,
        )
        bad = np.nonzero(~np.isfinite(x0))[0]
        if bad.size:
            raise ValueError(f"the start point is not finite at variable indices {bad.tolist()}: x0 = {x0.tolist()}")
        has_gradient = problem.has_gradient()
        history: List[IterationRecord] = []
        # the last linearisation points in the engine's variables, for the radius note
        engine_points: Deque[np.ndarray] = collections.deque(maxlen=_RADIUS_WINDOW + 1)

        def record(iteration: int, xe: np.ndarray, y: np.ndarray) -> None:
            engine_points.append(xe)
            x = mapping.problem_point(xe)
            f = mapping.pygmo_fitness(y)
            history.append(IterationRecord(iteration, log.count, float(f[0]), mapping.max_violation(x, f), x))

        settings = self._engine_settings(mapping)
        settings["history"] = record
        engine_start = mapping.engine_point(x0)
        if known_fitness is not None:
            known = mapping.known_start(engine_start, x0, known_fitness)
            if known is not None:
                settings["known_point"] = (engine_start, known)
        report: Dict[str, Any] = {}
        start = time.perf_counter()
        error: Optional[BaseException] = None
        try:
            _core.optimize(engine_start, mapping.output_types, mapping.fitness,
                           mapping.gradient if has_gradient else None, settings, report)
        except BaseException as exc:  # noqa: B902 - re-raised below, after the result is kept
            error = exc
        elapsed = time.perf_counter() - start
        self._log = log.rows
        self._has_gradient = has_gradient
        if "x" not in report:  # rejected before the engine ran
            raise error
        reason = StopReason(report.get("reason", 0))
        if error is None:
            xe, y, status = report["x"], report["y"], Status(report["result"])
        else:
            status = Status.FORCED_STOP if isinstance(error, ForcedStop) else Status.EXCEPTION
            reason = StopReason.NONE
            xe, y = report["best_x"], report["best_y"]
            if xe is None:
                xe, y = engine_start, np.full(mapping.m + 1, np.nan)
        x = mapping.problem_point(xe)
        f = mapping.pygmo_fitness(y)
        nc = mapping.m_user
        multipliers = np.full(nc, np.nan)
        if report.get("multipliers") is not None:
            multipliers = np.asarray(report["multipliers"][:nc], dtype=float)
            active = np.asarray(report["active"][:nc], dtype=bool) | (np.arange(nc) < mapping.nec)
        else:
            active = mapping.on_boundary(f)
        self.last_result = Result(
            x=x, fitness=f, status=status, feasible=mapping.is_feasible(x, f),
            max_violation=mapping.max_violation(x, f), iterations=int(report["iterations"]),
            evaluations={"fitness": int(report["fitness_calls"]), "gradient": int(report["gradient_calls"])},
            elapsed=elapsed, history=history, multipliers=multipliers, active=active, reason=reason,
            note=_radius_note(engine_points, settings["variable_scales"], settings["max_distance"], reason),
        )
        if error is not None and not isinstance(error, ForcedStop):
            try:
                raise error
            finally:  # break the cycle exception -> traceback -> this frame -> exception
                del error
        return self.last_result, mapping

    def _algorithm_settings(self, n: int, has_gradient: bool) -> Dict[str, Any]:
        """The algorithm's part of the engine configuration (the ``settings`` of ``pyoptgra._core``)."""
        if self.variable_scaling_factors and len(self.variable_scaling_factors) != n:
            raise ValueError(
                f"variable_scaling_factors has {len(self.variable_scaling_factors)} entries, expected {n} (one per variable)"
            )
        scales = np.asarray(self.variable_scaling_factors or np.ones(n), dtype=float)
        steps = self.finite_difference_step
        if steps is None:
            steps = DEFAULT_DIFFERENCE_STEP * scales
        elif steps.size not in (1, n):
            raise ValueError(f"finite_difference_step must be a number or have {n} entries, got {steps.size}")
        derivative_mode = 1 if has_gradient else _DIFFERENCE_SCHEMES[self.finite_differences][0]
        if self.check_gradient and has_gradient:
            derivative_mode = -1
        # integers beyond 64 bits would not reach the engine (which clamps budgets to 32 bits)
        big = 2**62
        return {
            "max_evaluations": min(self.max_evaluations or 0, big),
            # the engine reads 0 as no limit; a zero timeout means stop at the first check
            "time_limit": 0.0 if self.timeout_seconds is None else max(self.timeout_seconds, 1e-9),
            "history": None,
            "variable_scales": scales,
            "variable_types": np.asarray(self.variable_types or np.zeros(n), dtype=np.intc),
            "derivative_mode": derivative_mode,
            "difference_steps": np.broadcast_to(steps, (n,)).astype(float),
            "max_iterations": min(self.max_iterations, big),
            "max_correction_iterations": min(self.max_correction_iterations, big),
            "max_distance": self.max_distance_per_iteration,
            "probe_distance": self.perturbation_for_snd_order_derivatives,
            "method": self.optimization_method,
            "log_level": min(self.log_level, 2**31 - 1),
            "log": _engine_log if self.log_level else None,
            "blas": _blas.KERNELS,
        }

    def _engine_settings(self, mapping: EngineProblem, priorities: bool = True) -> Dict[str, Any]:
        """The engine configuration of one call on a mapped problem."""
        settings = self._algorithm_settings(mapping.n, mapping.problem.has_gradient())
        if self.bfe is not None and settings["derivative_mode"] != 1:
            settings["batch_fitness"] = functools.partial(mapping.batch_fitness, self.bfe)
        settings.update(
            lower=mapping.engine_lower,
            upper=mapping.engine_upper,
            tolerances=mapping.tolerances,
            priorities=mapping.engine_priorities(self.constraint_priorities if priorities else ()),
        )
        return settings

    # -- sensitivity analysis ---------------------------------------------------------------
    def prepare_sensitivity(self, problem: Any, x: Sequence[float]) -> None:
        """Linearise ``problem`` at ``x`` and find its active set, for the sensitivity methods.

        One evaluation of the fitness and its gradient (or central differences, parameters
        included; forward ones with ``finite_differences="forward"``); ``x`` does not move.
        ``bounds_to_constraints``, ``variable_types`` (1 marks a parameter), the problem's
        ``c_tol`` and ``bound_constraints_tolerance`` are honoured;
        ``khan_bounds``, ``force_bounds`` and ``constraint_priorities`` play no part.  The result
        is kept as :attr:`sensitivity_state`.  See :mod:`pyoptgra.sensitivity`.

        Args:
            problem: a ``pygmo.problem`` or a user-defined problem.
            x: the point, ``(n,)``, usually an optimum.
        """
        problem = problem if isinstance(problem, pygmo.problem) else pygmo.problem(problem)
        self._validate_problem(problem)
        mapping = self._sensitivity_mapping(problem)
        point = np.asarray(x, dtype=float)
        if point.shape != (mapping.n,):
            raise ValueError(f"x must have shape ({mapping.n},) (one entry per variable), got {point.shape}")
        bad = np.nonzero(~np.isfinite(point))[0]
        if bad.size:
            raise ValueError(f"x is not finite at variable indices {bad.tolist()}: x = {point.tolist()}")
        settings = self._engine_settings(mapping, priorities=False)
        (point, values, gradients, status), _, feasible, _, _ = _core.prepare_sensitivity(
            point, mapping.output_types, mapping.fitness,
            mapping.gradient if problem.has_gradient() else None, settings,
        )
        self._sens_state = SensitivityState(
            point=point, values=values, gradients=gradients, status=np.asarray(status, dtype=int),
            output_types=mapping.output_types.copy(), variable_types=settings["variable_types"].astype(int),
            nec=mapping.nec, nic=mapping.nic, lower=mapping.engine_lower.copy(),
            upper=mapping.engine_upper.copy(), tolerances=mapping.tolerances.copy(), feasible=bool(feasible),
        )

    @property
    def sensitivity_state(self) -> Optional[SensitivityState]:
        """The state made by :meth:`prepare_sensitivity` (None before); assignable, e.g. to hand a
        pickled state to another optimizer object or process."""
        return self._sens_state

    @sensitivity_state.setter
    def sensitivity_state(self, state: Optional[SensitivityState]) -> None:
        if state is not None and not isinstance(state, SensitivityState):
            raise TypeError(f"sensitivity_state must be a SensitivityState or None, got {type(state).__name__}")
        self._sens_state = state

    def sensitivity(self) -> SensitivityMatrices:
        """The sensitivity matrices of the prepared state as named numpy arrays (no evaluation)."""
        state = self._prepared_state()
        active, cc, cp, vc, vp = _core.sensitivity_matrices(
            state.engine_state(), state.output_types, self._state_settings(state)
        )
        return SensitivityMatrices(active.astype(bool), cc, cp, vc, vp)

    def sensitivity_matrices(self) -> Tuple[list, list, list, list, list]:
        """``(active, CC, CP, VC, VP)`` as lists: see :class:`~pyoptgra.sensitivity.SensitivityMatrices`.

        ``active`` has one 0/1 entry per constraint row (m); CC is (m+1) x m, CP (m+1) x n,
        VC n x m, VP n x n, in raw units and the engine's output order (objective last).
        """
        return self.sensitivity().as_lists()

    def linear_update_delta(self, constraint_delta: Sequence[float]) -> Tuple[List[float], List[float], int]:
        """Linear update with constraint ``j`` read as ``C_j(x) - constraint_delta[j]``.

        No evaluation.  Returns ``(x, y, flag)``: the new point, the linear model's outputs there
        (engine order, objective last) and 1, or 0 when the model cannot be made feasible within
        ``max_distance_per_iteration`` (then ``x`` is the prepared point).
        """
        state = self._prepared_state()
        delta = np.asarray(constraint_delta, dtype=float)
        if delta.shape != (state.m,):
            raise ValueError(
                f"constraint_delta must hold {state.m} values (one per constraint row, bound rows "
                f"included), got shape {delta.shape}"
            )
        if not np.all(np.isfinite(delta)):
            raise ValueError(f"constraint_delta must be finite, got {delta.tolist()}")
        x, y, flag, _ = _core.linear_update(
            state.engine_state(), state.output_types, self._state_settings(state), deltas=delta
        )
        return x.tolist(), y.tolist(), int(flag)

    def linear_update_new_callable(self, problem: Any) -> Tuple[List[float], List[float], int]:
        """Linear update with the constraints of ``problem``, evaluated once at the prepared point.

        ``problem`` must have the prepared problem's variables, constraint types and bounds.  The
        saved gradients are used (the new problem's gradient is never called).  Returns
        ``(x, y, flag)`` as :meth:`linear_update_delta`.
        """
        state = self._prepared_state()
        problem = problem if isinstance(problem, pygmo.problem) else pygmo.problem(problem)
        mapping = self._sensitivity_mapping(problem)
        layout = (mapping.n, mapping.output_types.tolist(), np.isfinite(mapping.engine_lower).tolist(),
                  np.isfinite(mapping.engine_upper).tolist())
        prepared = (state.n, state.output_types.tolist(), np.isfinite(state.lower).tolist(),
                    np.isfinite(state.upper).tolist())
        if layout != prepared:
            raise ValueError(
                "the new problem's variables, constraint types or bound rows differ from the prepared "
                f"problem's: prepared n={prepared[0]}, types {prepared[1]}; new n={layout[0]}, types {layout[1]}"
            )
        x, y, flag, _ = _core.linear_update(
            state.engine_state(), state.output_types, self._state_settings(state), fitness=mapping.fitness
        )
        return x.tolist(), y.tolist(), int(flag)

    def _prepared_state(self) -> SensitivityState:
        if self._sens_state is None:
            raise RuntimeError("no sensitivity state: call prepare_sensitivity(problem, x) first")
        return self._sens_state

    def _sensitivity_mapping(self, problem: pygmo.problem) -> EngineProblem:
        return EngineProblem(
            problem, self.bounds_to_constraints, False, None,
            self.bound_constraints_tolerance, self.merit_function_threshold,
        )

    def _state_settings(self, state: SensitivityState) -> Dict[str, Any]:
        settings = self._algorithm_settings(state.n, False)
        settings.update(
            lower=state.lower, upper=state.upper, tolerances=state.tolerances,
            priorities=np.ones(state.m + 1, dtype=np.intc), variable_types=state.variable_types.astype(np.intc),
        )
        return settings

    def _khan_function(self, problem: pygmo.problem):
        """The Khan transform of ``khan_bounds`` for this problem (None without one).  Fixed variables
        are left untransformed: they never move, and eval(eval_inv(x)) could differ from x."""
        lower, upper = (np.asarray(b, dtype=float) for b in problem.get_bounds())
        if self.variable_types:
            fixed = np.asarray(self.variable_types) == 1
            lower, upper = np.where(fixed, -np.inf, lower), np.where(fixed, np.inf, upper)
        return make_khan_function(self.khan_bounds, lower, upper)

    # -- validation -------------------------------------------------------------------------
    def _validate(self, population: pygmo.population, problem: pygmo.problem) -> None:
        if len(population) == 0:
            raise ValueError("the population is empty: optgra needs at least one individual to start from")
        self._validate_problem(problem)

    def _validate_problem(self, problem: pygmo.problem) -> None:
        n = problem.get_nx()
        if problem.get_nobj() > 1:
            raise ValueError(f"optgra solves single-objective problems; this one has {problem.get_nobj()} objectives")
        if problem.is_stochastic():
            raise ValueError("optgra cannot optimise a stochastic problem")
        if self.variable_scaling_factors and len(self.variable_scaling_factors) != n:
            raise ValueError(
                f"variable_scaling_factors has {len(self.variable_scaling_factors)} entries, expected {n} (one per variable)"
            )
        if self.variable_types and len(self.variable_types) != n:
            raise ValueError(f"variable_types has {len(self.variable_types)} entries, expected {n} (one per variable)")
        if self.constraint_priorities:
            lower, upper = (np.asarray(b, dtype=float) for b in problem.get_bounds())
            n_bounds = int(finite_bound_mask(lower).sum() + finite_bound_mask(upper).sum()) if self.bounds_to_constraints else 0
            expected = 1 + problem.get_nc() + n_bounds
            if len(self.constraint_priorities) != expected:
                raise ValueError(
                    f"constraint_priorities has {len(self.constraint_priorities)} entries, expected {expected} "
                    f"(the {problem.get_nc()} constraints, {n_bounds} bound constraints and the objective)"
                )
        self._khan_function(problem)
        nix = problem.get_nix()
        if nix:
            types = self.variable_types or [0] * n
            free_integers = [i for i in range(n - nix, n) if types[i] != 1]
            if free_integers:
                raise ValueError(
                    f"optgra does not handle integer variables; variables {free_integers} are integer and "
                    "free (fix them with variable_types)"
                )


optimize = optgra
