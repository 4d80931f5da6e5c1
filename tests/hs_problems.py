"""Hock–Schittkowski test problems as pygmo user-defined problems (UDPs).

Sources: W. Hock, K. Schittkowski, *Test Examples for Nonlinear Programming
Codes* (1981) and K. Schittkowski, *More Test Examples for Nonlinear
Programming Codes* (1987).  Problem numbers, start points and optima follow
those publications.

Conventions
-----------
* ``fitness(x)`` returns ``[f, h_1..h_nec, g_1..g_nic]`` following pygmo:
  equalities are ``h(x) = 0`` and inequalities ``g(x) <= 0``.  The collection
  writes inequalities as ``c(x) >= 0``; each problem below is written in the
  published ``>= 0`` form (``_fun``/``_jac``) and the base class negates them.
  Two-sided published constraints ``a <= c(x) <= b`` become ``c - a >= 0`` and
  ``b - c >= 0`` (lower first).
* ``gradient(x)`` returns the exact analytic Jacobian of the fitness vector,
  dense and flattened row-major (rows ``f, h.., g..``; ``n`` entries per row),
  i.e. pygmo's default dense gradient sparsity.
* Bounds are ``(lb, ub)`` lists with ``±inf`` where unbounded.  Some published
  start points ``x0`` lie outside the bounds (hs016, hs021, hs041, hs045,
  hs065, ...); they are kept as published, clip them if the solver requires.
* Every problem class has metadata ``name``, ``n``, ``x0``, ``f_star``,
  ``x_star`` (``None`` if not published), ``nec``, ``nic`` and ``notes``.
* ``get_problem(name, with_gradient=False)`` (or ``udp.without_gradient()``)
  returns a :class:`NoGradient` wrapper that genuinely lacks a ``gradient``
  attribute, so ``pygmo.problem(...).has_gradient()`` is False.
* All classes live at module level and hold no callables, so instances are
  picklable (needed for multiprocessing islands).
"""

from __future__ import annotations

import math
from typing import ClassVar, Sequence

import numpy as np

INF = math.inf
_S2 = math.sqrt(2.0)
_S3 = math.sqrt(3.0)

Rows = Sequence[Sequence[float]]


class HSProblem:
    """Base class: subclasses define metadata, ``_fun`` and ``_jac``."""

    name: ClassVar[str]
    n: ClassVar[int]
    lb: ClassVar[Sequence[float]]
    ub: ClassVar[Sequence[float]]
    x0: ClassVar[Sequence[float]]
    f_star: ClassVar[float]
    x_star: ClassVar[Sequence[float] | None] = None
    nec: ClassVar[int] = 0
    nic: ClassVar[int] = 0
    notes: ClassVar[str] = ""
    # tolerances for checking the (rounded) published x_star
    x_star_ftol: ClassVar[float] = 1e-6  # relative on f (w.r.t. max(1, |f_star|))
    x_star_ctol: ClassVar[float] = 1e-5  # absolute on constraints
    # objective of a non-global local minimum that local solvers reach from x0
    x0_local_f: ClassVar[float | None] = None

    # --- to be implemented by problems (inequalities in HS ">= 0" form) ---
    def _fun(self, x: np.ndarray) -> tuple[float, Sequence[float], Sequence[float]]:
        raise NotImplementedError

    def _jac(self, x: np.ndarray) -> tuple[Sequence[float], Rows, Rows]:
        raise NotImplementedError

    # --- pygmo UDP interface ---
    def fitness(self, x: Sequence[float]) -> np.ndarray:
        f, h, g = self._fun(np.asarray(x, dtype=float))
        return np.array([f, *h, *(-gi for gi in g)], dtype=float)

    def gradient(self, x: Sequence[float]) -> np.ndarray:
        df, dh, dg = self._jac(np.asarray(x, dtype=float))
        rows = [np.asarray(df, dtype=float)]
        rows += [np.asarray(r, dtype=float) for r in dh]
        rows += [-np.asarray(r, dtype=float) for r in dg]
        return np.vstack(rows).ravel()

    def get_bounds(self) -> tuple[list[float], list[float]]:
        return list(self.lb), list(self.ub)

    def get_nec(self) -> int:
        return self.nec

    def get_nic(self) -> int:
        return self.nic

    def get_name(self) -> str:
        return self.name

    def get_extra_info(self) -> str:
        return f"f_star={self.f_star!r}" + (f"; notes: {self.notes}" if self.notes else "")

    def without_gradient(self) -> "NoGradient":
        return NoGradient(self)


class NoGradient:
    """Same problem as the wrapped :class:`HSProblem` but without ``gradient``."""

    def __init__(self, prob: HSProblem) -> None:
        self.prob = prob

    def fitness(self, x: Sequence[float]) -> np.ndarray:
        return self.prob.fitness(x)

    def get_bounds(self) -> tuple[list[float], list[float]]:
        return self.prob.get_bounds()

    def get_nec(self) -> int:
        return self.prob.nec

    def get_nic(self) -> int:
        return self.prob.nic

    def get_name(self) -> str:
        return self.prob.name

    def get_extra_info(self) -> str:
        return self.prob.get_extra_info() + "; no gradient"

    # metadata (explicit properties; no __getattr__ so `gradient` stays absent)
    name = property(lambda self: self.prob.name)
    n = property(lambda self: self.prob.n)
    nec = property(lambda self: self.prob.nec)
    nic = property(lambda self: self.prob.nic)
    x0 = property(lambda self: self.prob.x0)
    f_star = property(lambda self: self.prob.f_star)
    x_star = property(lambda self: self.prob.x_star)
    notes = property(lambda self: self.prob.notes)


# ---------------------------------------------------------------- helpers
def _rosen(x1: float, x2: float) -> float:
    return 100.0 * (x2 - x1**2) ** 2 + (1.0 - x1) ** 2


def _rosen_grad(x1: float, x2: float) -> list[float]:
    return [-400.0 * x1 * (x2 - x1**2) - 2.0 * (1.0 - x1), 200.0 * (x2 - x1**2)]


def _prod_grad(x: np.ndarray) -> np.ndarray:
    """Gradient of prod(x) (valid also when some x_i == 0)."""
    return np.array([np.prod(np.delete(x, i)) for i in range(len(x))])


# ================================================================ problems
class HS001(HSProblem):
    name, n = "hs001", 2
    lb, ub = [-INF, -1.5], [INF, INF]
    x0, x_star, f_star = [-2.0, 1.0], [1.0, 1.0], 0.0

    def _fun(self, x):
        return _rosen(*x), [], []

    def _jac(self, x):
        return _rosen_grad(*x), [], []


class HS002(HS001):
    name = "hs002"
    lb = [-INF, 1.5]
    x_star = [1.224370749, 1.5]
    f_star = 0.0504261879
    x0_local_f = 4.941229318
    notes = ("from x0, SLSQP and trust-constr converge to the local minimum "
             "(-1.2210262, 1.5), f=4.941229318; f_star is reached from near x_star")


class HS003(HSProblem):
    name, n = "hs003", 2
    lb, ub = [-INF, 0.0], [INF, INF]
    x0, x_star, f_star = [10.0, 1.0], [0.0, 0.0], 0.0

    def _fun(self, x):
        x1, x2 = x
        return x2 + 1e-5 * (x2 - x1) ** 2, [], []

    def _jac(self, x):
        x1, x2 = x
        return [-2e-5 * (x2 - x1), 1.0 + 2e-5 * (x2 - x1)], [], []


class HS004(HSProblem):
    name, n = "hs004", 2
    lb, ub = [1.0, 0.0], [INF, INF]
    x0, x_star, f_star = [1.125, 0.125], [1.0, 0.0], 8.0 / 3.0

    def _fun(self, x):
        x1, x2 = x
        return (x1 + 1.0) ** 3 / 3.0 + x2, [], []

    def _jac(self, x):
        return [(x[0] + 1.0) ** 2, 1.0], [], []


class HS005(HSProblem):
    name, n = "hs005", 2
    lb, ub = [-1.5, -3.0], [4.0, 3.0]
    x0 = [0.0, 0.0]
    x_star = [0.5 - math.pi / 3.0, -0.5 - math.pi / 3.0]
    f_star = -0.5 * _S3 - math.pi / 3.0

    def _fun(self, x):
        x1, x2 = x
        return math.sin(x1 + x2) + (x1 - x2) ** 2 - 1.5 * x1 + 2.5 * x2 + 1.0, [], []

    def _jac(self, x):
        x1, x2 = x
        c = math.cos(x1 + x2)
        return [c + 2 * (x1 - x2) - 1.5, c - 2 * (x1 - x2) + 2.5], [], []


class HS006(HSProblem):
    name, n, nec = "hs006", 2, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0, x_star, f_star = [-1.2, 1.0], [1.0, 1.0], 0.0

    def _fun(self, x):
        x1, x2 = x
        return (1.0 - x1) ** 2, [10.0 * (x2 - x1**2)], []

    def _jac(self, x):
        x1, _ = x
        return [-2.0 * (1.0 - x1), 0.0], [[-20.0 * x1, 10.0]], []


class HS007(HSProblem):
    name, n, nec = "hs007", 2, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0, x_star, f_star = [2.0, 2.0], [0.0, _S3], -_S3

    def _fun(self, x):
        x1, x2 = x
        return math.log(1 + x1**2) - x2, [(1 + x1**2) ** 2 + x2**2 - 4.0], []

    def _jac(self, x):
        x1, x2 = x
        return [2 * x1 / (1 + x1**2), -1.0], [[4 * x1 * (1 + x1**2), 2 * x2]], []


class HS008(HSProblem):
    name, n, nec = "hs008", 2, 2
    lb, ub = [-INF] * 2, [INF] * 2
    x0 = [2.0, 1.0]
    x_star = [math.sqrt((25 + math.sqrt(301)) / 2), math.sqrt((25 - math.sqrt(301)) / 2)]
    f_star = -1.0

    def _fun(self, x):
        x1, x2 = x
        return -1.0, [x1**2 + x2**2 - 25.0, x1 * x2 - 9.0], []

    def _jac(self, x):
        x1, x2 = x
        return [0.0, 0.0], [[2 * x1, 2 * x2], [x2, x1]], []


class HS009(HSProblem):
    name, n, nec = "hs009", 2, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0, x_star, f_star = [0.0, 0.0], [-3.0, -4.0], -0.5
    notes = "infinitely many minimizers (12k-3, 16k-4); all with f=-0.5"

    def _fun(self, x):
        x1, x2 = x
        a, b = math.pi * x1 / 12, math.pi * x2 / 16
        return math.sin(a) * math.cos(b), [4 * x1 - 3 * x2], []

    def _jac(self, x):
        x1, x2 = x
        a, b = math.pi * x1 / 12, math.pi * x2 / 16
        df = [math.pi / 12 * math.cos(a) * math.cos(b), -math.pi / 16 * math.sin(a) * math.sin(b)]
        return df, [[4.0, -3.0]], []


class HS010(HSProblem):
    name, n, nic = "hs010", 2, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0, x_star, f_star = [-10.0, 10.0], [0.0, 1.0], -1.0

    def _fun(self, x):
        x1, x2 = x
        return x1 - x2, [], [-3 * x1**2 + 2 * x1 * x2 - x2**2 + 1]

    def _jac(self, x):
        x1, x2 = x
        return [1.0, -1.0], [], [[-6 * x1 + 2 * x2, 2 * x1 - 2 * x2]]


class HS011(HSProblem):
    name, n, nic = "hs011", 2, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0 = [4.9, 0.1]
    _a = (7.5 * math.sqrt(6) + math.sqrt(338.5)) ** (1 / 3)
    x_star = [(_a - 1 / _a) / math.sqrt(6), (_a**2 - 2 + _a**-2) / 6]
    f_star = -8.498464223

    def _fun(self, x):
        x1, x2 = x
        return (x1 - 5) ** 2 + x2**2 - 25, [], [-(x1**2) + x2]

    def _jac(self, x):
        x1, x2 = x
        return [2 * (x1 - 5), 2 * x2], [], [[-2 * x1, 1.0]]


class HS012(HSProblem):
    name, n, nic = "hs012", 2, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0, x_star, f_star = [0.0, 0.0], [2.0, 3.0], -30.0

    def _fun(self, x):
        x1, x2 = x
        f = 0.5 * x1**2 + x2**2 - x1 * x2 - 7 * x1 - 7 * x2
        return f, [], [25 - 4 * x1**2 - x2**2]

    def _jac(self, x):
        x1, x2 = x
        return [x1 - x2 - 7, 2 * x2 - x1 - 7], [], [[-8 * x1, -2 * x2]]


class HS014(HSProblem):
    name, n, nec, nic = "hs014", 2, 1, 1
    lb, ub = [-INF] * 2, [INF] * 2
    x0 = [2.0, 2.0]
    x_star = [0.5 * (math.sqrt(7) - 1), 0.25 * (math.sqrt(7) + 1)]
    f_star = 9 - 2.875 * math.sqrt(7)

    def _fun(self, x):
        x1, x2 = x
        return (x1 - 2) ** 2 + (x2 - 1) ** 2, [x1 - 2 * x2 + 1], [1 - 0.25 * x1**2 - x2**2]

    def _jac(self, x):
        x1, x2 = x
        return [2 * (x1 - 2), 2 * (x2 - 1)], [[1.0, -2.0]], [[-0.5 * x1, -2 * x2]]


class HS015(HSProblem):
    name, n, nic = "hs015", 2, 2
    lb, ub = [-INF, -INF], [0.5, INF]
    x0, x_star, f_star = [-2.0, 1.0], [0.5, 2.0], 306.5

    def _fun(self, x):
        x1, x2 = x
        return _rosen(x1, x2), [], [x1 * x2 - 1, x1 + x2**2]

    def _jac(self, x):
        x1, x2 = x
        return _rosen_grad(x1, x2), [], [[x2, x1], [1.0, 2 * x2]]


class HS016(HSProblem):
    name, n, nic = "hs016", 2, 2
    lb, ub = [-0.5, -INF], [0.5, 1.0]
    x0, x_star, f_star = [-2.0, 1.0], [0.5, 0.25], 0.25
    x0_local_f = 23.14466094
    notes = ("x0 violates the bounds; from clipped x0, SLSQP and trust-constr converge to "
             "the local minimum (-0.5, 1/sqrt(2)), f=23.14466094")

    def _fun(self, x):
        x1, x2 = x
        return _rosen(x1, x2), [], [x1 + x2**2, x1**2 + x2]

    def _jac(self, x):
        x1, x2 = x
        return _rosen_grad(x1, x2), [], [[1.0, 2 * x2], [2 * x1, 1.0]]


class HS017(HSProblem):
    name, n, nic = "hs017", 2, 2
    lb, ub = [-0.5, -INF], [0.5, 1.0]
    x0, x_star, f_star = [-2.0, 1.0], [0.0, 0.0], 1.0

    def _fun(self, x):
        x1, x2 = x
        return _rosen(x1, x2), [], [x2**2 - x1, x1**2 - x2]

    def _jac(self, x):
        x1, x2 = x
        return _rosen_grad(x1, x2), [], [[-1.0, 2 * x2], [2 * x1, -1.0]]


class HS018(HSProblem):
    name, n, nic = "hs018", 2, 2
    lb, ub = [2.0, 0.0], [50.0, 50.0]
    x0, x_star, f_star = [2.0, 2.0], [math.sqrt(250), math.sqrt(2.5)], 5.0

    def _fun(self, x):
        x1, x2 = x
        return 0.01 * x1**2 + x2**2, [], [x1 * x2 - 25, x1**2 + x2**2 - 25]

    def _jac(self, x):
        x1, x2 = x
        return [0.02 * x1, 2 * x2], [], [[x2, x1], [2 * x1, 2 * x2]]


class HS019(HSProblem):
    name, n, nic = "hs019", 2, 2
    lb, ub = [13.0, 0.0], [100.0, 100.0]
    x0 = [20.1, 5.84]
    x_star = [14.095, 5 - math.sqrt(100 - 9.095**2)]
    f_star = -6961.81381

    def _fun(self, x):
        x1, x2 = x
        g = [(x1 - 5) ** 2 + (x2 - 5) ** 2 - 100, -((x2 - 5) ** 2) - (x1 - 6) ** 2 + 82.81]
        return (x1 - 10) ** 3 + (x2 - 20) ** 3, [], g

    def _jac(self, x):
        x1, x2 = x
        dg = [[2 * (x1 - 5), 2 * (x2 - 5)], [-2 * (x1 - 6), -2 * (x2 - 5)]]
        return [3 * (x1 - 10) ** 2, 3 * (x2 - 20) ** 2], [], dg


class HS020(HSProblem):
    name, n, nic = "hs020", 2, 3
    lb, ub = [-0.5, -INF], [0.5, INF]
    x0, x_star, f_star = [-2.0, 1.0], [0.5, 0.5 * _S3], 81.5 - 25 * _S3
    x0_local_f = 40.19872981
    notes = ("x0 violates the bounds; from clipped x0, SLSQP and trust-constr converge to "
             "the local minimum (-0.5, sqrt(3)/2), f=40.19872981")

    def _fun(self, x):
        x1, x2 = x
        return _rosen(x1, x2), [], [x1 + x2**2, x1**2 + x2, x1**2 + x2**2 - 1]

    def _jac(self, x):
        x1, x2 = x
        return _rosen_grad(x1, x2), [], [[1.0, 2 * x2], [2 * x1, 1.0], [2 * x1, 2 * x2]]


class HS021(HSProblem):
    name, n, nic = "hs021", 2, 1
    lb, ub = [2.0, -50.0], [50.0, 50.0]
    x0, x_star, f_star = [-1.0, -1.0], [2.0, 0.0], -99.96

    def _fun(self, x):
        x1, x2 = x
        return 0.01 * x1**2 + x2**2 - 100, [], [10 * x1 - x2 - 10]

    def _jac(self, x):
        x1, x2 = x
        return [0.02 * x1, 2 * x2], [], [[10.0, -1.0]]


class HS022(HSProblem):
    name, n, nic = "hs022", 2, 2
    lb, ub = [-INF] * 2, [INF] * 2
    x0, x_star, f_star = [2.0, 2.0], [1.0, 1.0], 1.0

    def _fun(self, x):
        x1, x2 = x
        return (x1 - 2) ** 2 + (x2 - 1) ** 2, [], [2 - x1 - x2, x2 - x1**2]

    def _jac(self, x):
        x1, x2 = x
        return [2 * (x1 - 2), 2 * (x2 - 1)], [], [[-1.0, -1.0], [-2 * x1, 1.0]]


class HS023(HSProblem):
    name, n, nic = "hs023", 2, 5
    lb, ub = [-50.0] * 2, [50.0] * 2
    x0, x_star, f_star = [3.0, 1.0], [1.0, 1.0], 2.0

    def _fun(self, x):
        x1, x2 = x
        g = [x1 + x2 - 1, x1**2 + x2**2 - 1, 9 * x1**2 + x2**2 - 9, x1**2 - x2, x2**2 - x1]
        return x1**2 + x2**2, [], g

    def _jac(self, x):
        x1, x2 = x
        dg = [[1.0, 1.0], [2 * x1, 2 * x2], [18 * x1, 2 * x2], [2 * x1, -1.0], [-1.0, 2 * x2]]
        return [2 * x1, 2 * x2], [], dg


class HS024(HSProblem):
    name, n, nic = "hs024", 2, 3
    lb, ub = [0.0, 0.0], [INF, INF]
    x0, x_star, f_star = [1.0, 0.5], [3.0, _S3], -1.0
    _c = 1.0 / (27.0 * _S3)

    def _fun(self, x):
        x1, x2 = x
        f = self._c * ((x1 - 3) ** 2 - 9) * x2**3
        return f, [], [x1 / _S3 - x2, x1 + _S3 * x2, 6 - x1 - _S3 * x2]

    def _jac(self, x):
        x1, x2 = x
        df = [self._c * 2 * (x1 - 3) * x2**3, self._c * 3 * ((x1 - 3) ** 2 - 9) * x2**2]
        return df, [], [[1 / _S3, -1.0], [1.0, _S3], [-1.0, -_S3]]


class HS026(HSProblem):
    name, n, nec = "hs026", 3, 1
    lb, ub = [-INF] * 3, [INF] * 3
    x0, x_star, f_star = [-2.6, 2.0, 2.0], [1.0, 1.0, 1.0], 0.0

    def _fun(self, x):
        x1, x2, x3 = x
        return (x1 - x2) ** 2 + (x2 - x3) ** 4, [(1 + x2**2) * x1 + x3**4 - 3], []

    def _jac(self, x):
        x1, x2, x3 = x
        a, b = 2 * (x1 - x2), 4 * (x2 - x3) ** 3
        return [a, -a + b, -b], [[1 + x2**2, 2 * x1 * x2, 4 * x3**3]], []


class HS027(HSProblem):
    name, n, nec = "hs027", 3, 1
    lb, ub = [-INF] * 3, [INF] * 3
    x0, x_star, f_star = [2.0, 2.0, 2.0], [-1.0, 1.0, 0.0], 0.04

    def _fun(self, x):
        x1, x2, x3 = x
        return 0.01 * (x1 - 1) ** 2 + (x2 - x1**2) ** 2, [x1 + x3**2 + 1], []

    def _jac(self, x):
        x1, x2, x3 = x
        df = [0.02 * (x1 - 1) - 4 * x1 * (x2 - x1**2), 2 * (x2 - x1**2), 0.0]
        return df, [[1.0, 0.0, 2 * x3]], []


class HS028(HSProblem):
    name, n, nec = "hs028", 3, 1
    lb, ub = [-INF] * 3, [INF] * 3
    x0, x_star, f_star = [-4.0, 1.0, 1.0], [0.5, -0.5, 0.5], 0.0

    def _fun(self, x):
        x1, x2, x3 = x
        return (x1 + x2) ** 2 + (x2 + x3) ** 2, [x1 + 2 * x2 + 3 * x3 - 1], []

    def _jac(self, x):
        x1, x2, x3 = x
        a, b = 2 * (x1 + x2), 2 * (x2 + x3)
        return [a, a + b, b], [[1.0, 2.0, 3.0]], []


class HS029(HSProblem):
    name, n, nic = "hs029", 3, 1
    lb, ub = [-INF] * 3, [INF] * 3
    x0, x_star, f_star = [1.0, 1.0, 1.0], [4.0, 2 * _S2, 2.0], -16 * _S2

    def _fun(self, x):
        x1, x2, x3 = x
        return -x1 * x2 * x3, [], [48 - x1**2 - 2 * x2**2 - 4 * x3**2]

    def _jac(self, x):
        x1, x2, x3 = x
        return [-x2 * x3, -x1 * x3, -x1 * x2], [], [[-2 * x1, -4 * x2, -8 * x3]]


class HS030(HSProblem):
    name, n, nic = "hs030", 3, 1
    lb, ub = [1.0, -10.0, -10.0], [10.0, 10.0, 10.0]
    x0, x_star, f_star = [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], 1.0

    def _fun(self, x):
        x1, x2, x3 = x
        return x1**2 + x2**2 + x3**2, [], [x1**2 + x2**2 - 1]

    def _jac(self, x):
        x1, x2, x3 = x
        return [2 * x1, 2 * x2, 2 * x3], [], [[2 * x1, 2 * x2, 0.0]]


class HS031(HSProblem):
    name, n, nic = "hs031", 3, 1
    lb, ub = [-10.0, 1.0, -10.0], [10.0, 10.0, 1.0]
    x0, x_star, f_star = [1.0, 1.0, 1.0], [1 / _S3, _S3, 0.0], 6.0

    def _fun(self, x):
        x1, x2, x3 = x
        return 9 * x1**2 + x2**2 + 9 * x3**2, [], [x1 * x2 - 1]

    def _jac(self, x):
        x1, x2, x3 = x
        return [18 * x1, 2 * x2, 18 * x3], [], [[x2, x1, 0.0]]


class HS032(HSProblem):
    name, n, nec, nic = "hs032", 3, 1, 1
    lb, ub = [0.0] * 3, [INF] * 3
    x0, x_star, f_star = [0.1, 0.7, 0.2], [0.0, 0.0, 1.0], 1.0

    def _fun(self, x):
        x1, x2, x3 = x
        f = (x1 + 3 * x2 + x3) ** 2 + 4 * (x1 - x2) ** 2
        return f, [1 - x1 - x2 - x3], [6 * x2 + 4 * x3 - x1**3 - 3]

    def _jac(self, x):
        x1, x2, x3 = x
        s, d = 2 * (x1 + 3 * x2 + x3), 8 * (x1 - x2)
        return [s + d, 3 * s - d, s], [[-1.0, -1.0, -1.0]], [[-3 * x1**2, 6.0, 4.0]]


class HS033(HSProblem):
    name, n, nic = "hs033", 3, 2
    lb, ub = [0.0] * 3, [INF, INF, 5.0]
    x0, x_star, f_star = [0.0, 0.0, 3.0], [0.0, _S2, _S2], _S2 - 6
    notes = ("SLSQP from x0 stops at the KKT point (0, 0, 2), f=-4 (not a minimum); "
             "trust-constr from x0 reaches f_star to 4e-6, SLSQP from (0, 0.1, 3) to 1e-15")

    def _fun(self, x):
        x1, x2, x3 = x
        f = (x1 - 1) * (x1 - 2) * (x1 - 3) + x3
        return f, [], [x3**2 - x1**2 - x2**2, x1**2 + x2**2 + x3**2 - 4]

    def _jac(self, x):
        x1, x2, x3 = x
        dg = [[-2 * x1, -2 * x2, 2 * x3], [2 * x1, 2 * x2, 2 * x3]]
        return [3 * x1**2 - 12 * x1 + 11, 0.0, 1.0], [], dg


class HS034(HSProblem):
    name, n, nic = "hs034", 3, 2
    lb, ub = [0.0] * 3, [100.0, 100.0, 10.0]
    x0 = [0.0, 1.05, 2.9]
    x_star = [math.log(math.log(10)), math.log(10), 10.0]
    f_star = -math.log(math.log(10))

    def _fun(self, x):
        x1, x2, x3 = x
        return -x1, [], [x2 - math.exp(x1), x3 - math.exp(x2)]

    def _jac(self, x):
        x1, x2, _ = x
        return [-1.0, 0.0, 0.0], [], [[-math.exp(x1), 1.0, 0.0], [0.0, -math.exp(x2), 1.0]]


class HS035(HSProblem):
    name, n, nic = "hs035", 3, 1
    lb, ub = [0.0] * 3, [INF] * 3
    x0, x_star, f_star = [0.5] * 3, [4 / 3, 7 / 9, 4 / 9], 1 / 9

    def _fun(self, x):
        x1, x2, x3 = x
        f = (9 - 8 * x1 - 6 * x2 - 4 * x3 + 2 * x1**2 + 2 * x2**2 + x3**2
             + 2 * x1 * x2 + 2 * x1 * x3)
        return f, [], [3 - x1 - x2 - 2 * x3]

    def _jac(self, x):
        x1, x2, x3 = x
        df = [-8 + 4 * x1 + 2 * x2 + 2 * x3, -6 + 4 * x2 + 2 * x1, -4 + 2 * x3 + 2 * x1]
        return df, [], [[-1.0, -1.0, -2.0]]


class HS036(HSProblem):
    name, n, nic = "hs036", 3, 1
    lb, ub = [0.0] * 3, [20.0, 11.0, 42.0]
    x0, x_star, f_star = [10.0] * 3, [20.0, 11.0, 15.0], -3300.0

    def _fun(self, x):
        x1, x2, x3 = x
        return -x1 * x2 * x3, [], [72 - x1 - 2 * x2 - 2 * x3]

    def _jac(self, x):
        x1, x2, x3 = x
        return [-x2 * x3, -x1 * x3, -x1 * x2], [], [[-1.0, -2.0, -2.0]]


class HS037(HSProblem):
    name, n, nic = "hs037", 3, 2
    lb, ub = [0.0] * 3, [42.0] * 3
    x0, x_star, f_star = [10.0] * 3, [24.0, 12.0, 12.0], -3456.0

    def _fun(self, x):
        x1, x2, x3 = x
        s = x1 + 2 * x2 + 2 * x3
        return -x1 * x2 * x3, [], [72 - s, s]

    def _jac(self, x):
        x1, x2, x3 = x
        return [-x2 * x3, -x1 * x3, -x1 * x2], [], [[-1.0, -2.0, -2.0], [1.0, 2.0, 2.0]]


class HS038(HSProblem):
    name, n = "hs038", 4
    lb, ub = [-10.0] * 4, [10.0] * 4
    x0, x_star, f_star = [-3.0, -1.0, -3.0, -1.0], [1.0] * 4, 0.0

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = (100 * (x2 - x1**2) ** 2 + (1 - x1) ** 2 + 90 * (x4 - x3**2) ** 2 + (1 - x3) ** 2
             + 10.1 * ((x2 - 1) ** 2 + (x4 - 1) ** 2) + 19.8 * (x2 - 1) * (x4 - 1))
        return f, [], []

    def _jac(self, x):
        x1, x2, x3, x4 = x
        df = [-400 * x1 * (x2 - x1**2) - 2 * (1 - x1),
              200 * (x2 - x1**2) + 20.2 * (x2 - 1) + 19.8 * (x4 - 1),
              -360 * x3 * (x4 - x3**2) - 2 * (1 - x3),
              180 * (x4 - x3**2) + 20.2 * (x4 - 1) + 19.8 * (x2 - 1)]
        return df, [], []


class HS039(HSProblem):
    name, n, nec = "hs039", 4, 2
    lb, ub = [-INF] * 4, [INF] * 4
    x0, x_star, f_star = [2.0] * 4, [1.0, 1.0, 0.0, 0.0], -1.0

    def _fun(self, x):
        x1, x2, x3, x4 = x
        return -x1, [x2 - x1**3 - x3**2, x1**2 - x2 - x4**2], []

    def _jac(self, x):
        x1, x2, x3, x4 = x
        dh = [[-3 * x1**2, 1.0, -2 * x3, 0.0], [2 * x1, -1.0, 0.0, -2 * x4]]
        return [-1.0, 0.0, 0.0, 0.0], dh, []


class HS040(HSProblem):
    name, n, nec = "hs040", 4, 3
    lb, ub = [-INF] * 4, [INF] * 4
    x0 = [0.8] * 4
    x_star = [2 ** (-1 / 3), 2 ** (-1 / 2), 2 ** (-11 / 12), 2 ** (-1 / 4)]
    f_star = -0.25

    def _fun(self, x):
        x1, x2, x3, x4 = x
        return -x1 * x2 * x3 * x4, [x1**3 + x2**2 - 1, x1**2 * x4 - x3, x4**2 - x2], []

    def _jac(self, x):
        x1, x2, x3, x4 = x
        dh = [[3 * x1**2, 2 * x2, 0.0, 0.0], [2 * x1 * x4, 0.0, -1.0, x1**2], [0.0, -1.0, 0.0, 2 * x4]]
        return -_prod_grad(x), dh, []


class HS041(HSProblem):
    name, n, nec = "hs041", 4, 1
    lb, ub = [0.0] * 4, [1.0, 1.0, 1.0, 2.0]
    x0, x_star, f_star = [2.0] * 4, [2 / 3, 1 / 3, 1 / 3, 2.0], 52 / 27

    def _fun(self, x):
        x1, x2, x3, x4 = x
        return 2 - x1 * x2 * x3, [x1 + 2 * x2 + 2 * x3 - x4], []

    def _jac(self, x):
        x1, x2, x3, _ = x
        return [-x2 * x3, -x1 * x3, -x1 * x2, 0.0], [[1.0, 2.0, 2.0, -1.0]], []


class HS042(HSProblem):
    name, n, nec = "hs042", 4, 2
    lb, ub = [-INF] * 4, [INF] * 4
    x0, x_star, f_star = [1.0] * 4, [2.0, 2.0, 0.6 * _S2, 0.8 * _S2], 28 - 10 * _S2

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = (x1 - 1) ** 2 + (x2 - 2) ** 2 + (x3 - 3) ** 2 + (x4 - 4) ** 2
        return f, [x1 - 2, x3**2 + x4**2 - 2], []

    def _jac(self, x):
        x1, x2, x3, x4 = x
        df = [2 * (x1 - 1), 2 * (x2 - 2), 2 * (x3 - 3), 2 * (x4 - 4)]
        return df, [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2 * x3, 2 * x4]], []


class HS043(HSProblem):
    name, n, nic = "hs043", 4, 3
    lb, ub = [-INF] * 4, [INF] * 4
    x0, x_star, f_star = [0.0] * 4, [0.0, 1.0, 2.0, -1.0], -44.0

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = x1**2 + x2**2 + 2 * x3**2 + x4**2 - 5 * x1 - 5 * x2 - 21 * x3 + 7 * x4
        g = [8 - x1**2 - x2**2 - x3**2 - x4**2 - x1 + x2 - x3 + x4,
             10 - x1**2 - 2 * x2**2 - x3**2 - 2 * x4**2 + x1 + x4,
             5 - 2 * x1**2 - x2**2 - x3**2 - 2 * x1 + x2 + x4]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4 = x
        df = [2 * x1 - 5, 2 * x2 - 5, 4 * x3 - 21, 2 * x4 + 7]
        dg = [[-2 * x1 - 1, -2 * x2 + 1, -2 * x3 - 1, -2 * x4 + 1],
              [-2 * x1 + 1, -4 * x2, -2 * x3, -4 * x4 + 1],
              [-4 * x1 - 2, -2 * x2 + 1, -2 * x3, 1.0]]
        return df, [], dg


class HS044(HSProblem):
    name, n, nic = "hs044", 4, 6
    lb, ub = [0.0] * 4, [INF] * 4
    x0, x_star, f_star = [0.0] * 4, [0.0, 3.0, 0.0, 4.0], -15.0

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = x1 - x2 - x3 - x1 * x3 + x1 * x4 + x2 * x3 - x2 * x4
        g = [8 - x1 - 2 * x2, 12 - 4 * x1 - x2, 12 - 3 * x1 - 4 * x2,
             8 - 2 * x3 - x4, 8 - x3 - 2 * x4, 5 - x3 - x4]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4 = x
        df = [1 - x3 + x4, -1 + x3 - x4, -1 - x1 + x2, x1 - x2]
        dg = [[-1.0, -2.0, 0.0, 0.0], [-4.0, -1.0, 0.0, 0.0], [-3.0, -4.0, 0.0, 0.0],
              [0.0, 0.0, -2.0, -1.0], [0.0, 0.0, -1.0, -2.0], [0.0, 0.0, -1.0, -1.0]]
        return df, [], dg


class HS045(HSProblem):
    name, n = "hs045", 5
    lb, ub = [0.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0]
    x0, x_star, f_star = [2.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0], 1.0

    def _fun(self, x):
        return 2 - np.prod(x) / 120, [], []

    def _jac(self, x):
        return -_prod_grad(x) / 120, [], []


class HS046(HSProblem):
    name, n, nec = "hs046", 5, 2
    lb, ub = [-INF] * 5, [INF] * 5
    x0, x_star, f_star = [0.5 * _S2, 1.75, 0.5, 2.0, 2.0], [1.0] * 5, 0.0
    _c1, _c2 = 1.0, 2.0  # right-hand sides (hs077 reuses the structure)

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        f = (x1 - x2) ** 2 + (x3 - 1) ** 2 + (x4 - 1) ** 4 + (x5 - 1) ** 6
        h = [x1**2 * x4 + math.sin(x4 - x5) - self._c1, x2 + x3**4 * x4**2 - self._c2]
        return f, h, []

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        df = [2 * (x1 - x2), -2 * (x1 - x2), 2 * (x3 - 1), 4 * (x4 - 1) ** 3, 6 * (x5 - 1) ** 5]
        c = math.cos(x4 - x5)
        dh = [[2 * x1 * x4, 0.0, 0.0, x1**2 + c, -c],
              [0.0, 1.0, 4 * x3**3 * x4**2, 2 * x3**4 * x4, 0.0]]
        return df, dh, []


class HS048(HSProblem):
    name, n, nec = "hs048", 5, 2
    lb, ub = [-INF] * 5, [INF] * 5
    x0, x_star, f_star = [3.0, 5.0, -3.0, 2.0, -2.0], [1.0] * 5, 0.0

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        f = (x1 - 1) ** 2 + (x2 - x3) ** 2 + (x4 - x5) ** 2
        return f, [x1 + x2 + x3 + x4 + x5 - 5, x3 - 2 * (x4 + x5) + 3], []

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        a, b = 2 * (x2 - x3), 2 * (x4 - x5)
        dh = [[1.0] * 5, [0.0, 0.0, 1.0, -2.0, -2.0]]
        return [2 * (x1 - 1), a, -a, b, -b], dh, []


class HS049(HSProblem):
    name, n, nec = "hs049", 5, 2
    lb, ub = [-INF] * 5, [INF] * 5
    x0, x_star, f_star = [10.0, 7.0, 2.0, -3.0, 0.8], [1.0] * 5, 0.0

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        f = (x1 - x2) ** 2 + (x3 - 1) ** 2 + (x4 - 1) ** 4 + (x5 - 1) ** 6
        return f, [x1 + x2 + x3 + 4 * x4 - 7, x3 + 5 * x5 - 6], []

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        df = [2 * (x1 - x2), -2 * (x1 - x2), 2 * (x3 - 1), 4 * (x4 - 1) ** 3, 6 * (x5 - 1) ** 5]
        return df, [[1.0, 1.0, 1.0, 4.0, 0.0], [0.0, 0.0, 1.0, 0.0, 5.0]], []


class HS050(HSProblem):
    name, n, nec = "hs050", 5, 3
    lb, ub = [-INF] * 5, [INF] * 5
    x0, x_star, f_star = [35.0, -31.0, 11.0, 5.0, -5.0], [1.0] * 5, 0.0

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        f = (x1 - x2) ** 2 + (x2 - x3) ** 2 + (x3 - x4) ** 4 + (x4 - x5) ** 2
        h = [x1 + 2 * x2 + 3 * x3 - 6, x2 + 2 * x3 + 3 * x4 - 6, x3 + 2 * x4 + 3 * x5 - 6]
        return f, h, []

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        a, b, c, d = 2 * (x1 - x2), 2 * (x2 - x3), 4 * (x3 - x4) ** 3, 2 * (x4 - x5)
        dh = [[1.0, 2.0, 3.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0, 0.0], [0.0, 0.0, 1.0, 2.0, 3.0]]
        return [a, -a + b, -b + c, -c + d, -d], dh, []


class HS051(HSProblem):
    name, n, nec = "hs051", 5, 3
    lb, ub = [-INF] * 5, [INF] * 5
    x0, x_star, f_star = [2.5, 0.5, 2.0, -1.0, 0.5], [1.0] * 5, 0.0
    _rhs1 = 4.0  # hs052/hs053 use x1 + 3 x2 = 0

    def _f_first(self, x1: float, x2: float) -> tuple[float, float, float]:
        """First objective term (x1 - x2)^2 and its partials."""
        return (x1 - x2) ** 2, 2 * (x1 - x2), -2 * (x1 - x2)

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        t = self._f_first(x1, x2)[0]
        f = t + (x2 + x3 - 2) ** 2 + (x4 - 1) ** 2 + (x5 - 1) ** 2
        return f, [x1 + 3 * x2 - self._rhs1, x3 + x4 - 2 * x5, x2 - x5], []

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        _, t1, t2 = self._f_first(x1, x2)
        s = 2 * (x2 + x3 - 2)
        dh = [[1.0, 3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, -2.0], [0.0, 1.0, 0.0, 0.0, -1.0]]
        return [t1, t2 + s, s, 2 * (x4 - 1), 2 * (x5 - 1)], dh, []


class HS052(HS051):
    name = "hs052"
    x0 = [2.0] * 5
    x_star = [-33 / 349, 11 / 349, 180 / 349, -158 / 349, 11 / 349]
    f_star = 1859 / 349
    _rhs1 = 0.0

    def _f_first(self, x1, x2):
        return (4 * x1 - x2) ** 2, 8 * (4 * x1 - x2), -2 * (4 * x1 - x2)


class HS053(HS051):
    name = "hs053"
    lb, ub = [-10.0] * 5, [10.0] * 5
    x0 = [2.0] * 5
    x_star = [-33 / 43, 11 / 43, 27 / 43, -5 / 43, 11 / 43]
    f_star = 176 / 43
    _rhs1 = 0.0


class HS056(HSProblem):
    name, n, nec = "hs056", 7, 4
    lb, ub = [-INF] * 7, [INF] * 7
    _a, _b = math.asin(math.sqrt(1 / 4.2)), math.asin(math.sqrt(5 / 7.2))
    x0 = [1.0, 1.0, 1.0, _a, _a, _a, _b]
    _c, _d = math.asin(math.sqrt(4 / 7)), math.asin(math.sqrt(2 / 7))
    x_star = [2.4, 1.2, 1.2, _c, _d, _d, 0.5 * math.pi]
    f_star = -3.456

    def _fun(self, x):
        x1, x2, x3, x4, x5, x6, x7 = x
        s = math.sin
        h = [x1 - 4.2 * s(x4) ** 2, x2 - 4.2 * s(x5) ** 2, x3 - 4.2 * s(x6) ** 2,
             x1 + 2 * x2 + 2 * x3 - 7.2 * s(x7) ** 2]
        return -x1 * x2 * x3, h, []

    def _jac(self, x):
        x1, x2, x3, x4, x5, x6, x7 = x
        dh = np.zeros((4, 7))
        for i in range(3):
            dh[i, i] = 1.0
            dh[i, 3 + i] = -4.2 * math.sin(2 * x[3 + i])
        dh[3, :3] = [1.0, 2.0, 2.0]
        dh[3, 6] = -7.2 * math.sin(2 * x7)
        return [-x2 * x3, -x1 * x3, -x1 * x2, 0.0, 0.0, 0.0, 0.0], dh, []


class HS060(HSProblem):
    name, n, nec = "hs060", 3, 1
    lb, ub = [-10.0] * 3, [10.0] * 3
    x0, x_star, f_star = [2.0] * 3, [1.104859024, 1.196674194, 1.535262257], 0.03256820025

    def _fun(self, x):
        x1, x2, x3 = x
        f = (x1 - 1) ** 2 + (x1 - x2) ** 2 + (x2 - x3) ** 4
        return f, [x1 * (1 + x2**2) + x3**4 - 4 - 3 * _S2], []

    def _jac(self, x):
        x1, x2, x3 = x
        a, b = 2 * (x1 - x2), 4 * (x2 - x3) ** 3
        return [2 * (x1 - 1) + a, -a + b, -b], [[1 + x2**2, 2 * x1 * x2, 4 * x3**3]], []


class HS061(HSProblem):
    name, n, nec = "hs061", 3, 2
    lb, ub = [-INF] * 3, [INF] * 3
    x0, x_star, f_star = [0.0] * 3, [5.326770157, -2.118998639, 3.210464239], -143.6461422
    notes = ("constraint Jacobian is rank deficient at x0=0: SLSQP fails at once "
             "('Singular matrix C in LSQ subproblem'); trust-constr from x0 reaches f_star")

    def _fun(self, x):
        x1, x2, x3 = x
        f = 4 * x1**2 + 2 * x2**2 + 2 * x3**2 - 33 * x1 + 16 * x2 - 24 * x3
        return f, [3 * x1 - 2 * x2**2 - 7, 4 * x1 - x3**2 - 11], []

    def _jac(self, x):
        x1, x2, x3 = x
        return [8 * x1 - 33, 4 * x2 + 16, 4 * x3 - 24], [[3.0, -4 * x2, 0.0], [4.0, 0.0, -2 * x3]], []


class HS063(HSProblem):
    name, n, nec = "hs063", 3, 2
    lb, ub = [0.0] * 3, [INF] * 3
    x0, x_star, f_star = [2.0] * 3, [3.512118414, 0.2169881741, 3.552174034], 961.7151721

    def _fun(self, x):
        x1, x2, x3 = x
        f = 1000 - x1**2 - 2 * x2**2 - x3**2 - x1 * x2 - x1 * x3
        return f, [8 * x1 + 14 * x2 + 7 * x3 - 56, x1**2 + x2**2 + x3**2 - 25], []

    def _jac(self, x):
        x1, x2, x3 = x
        df = [-2 * x1 - x2 - x3, -4 * x2 - x1, -2 * x3 - x1]
        return df, [[8.0, 14.0, 7.0], [2 * x1, 2 * x2, 2 * x3]], []


class HS064(HSProblem):
    name, n, nic = "hs064", 3, 1
    lb, ub = [1e-5] * 3, [INF] * 3
    x0, x_star, f_star = [1.0] * 3, [108.7347175, 85.12613942, 204.3247078], 6299.842428

    def _fun(self, x):
        x1, x2, x3 = x
        f = 5 * x1 + 50000 / x1 + 20 * x2 + 72000 / x2 + 10 * x3 + 144000 / x3
        return f, [], [1 - 4 / x1 - 32 / x2 - 120 / x3]

    def _jac(self, x):
        x1, x2, x3 = x
        df = [5 - 50000 / x1**2, 20 - 72000 / x2**2, 10 - 144000 / x3**2]
        return df, [], [[4 / x1**2, 32 / x2**2, 120 / x3**2]]


class HS065(HSProblem):
    name, n, nic = "hs065", 3, 1
    lb, ub = [-4.5, -4.5, -5.0], [4.5, 4.5, 5.0]
    x0, x_star, f_star = [-5.0, 5.0, 0.0], [3.650461821, 3.650461821, 4.620417555], 0.9535288567

    def _fun(self, x):
        x1, x2, x3 = x
        f = (x1 - x2) ** 2 + (x1 + x2 - 10) ** 2 / 9 + (x3 - 5) ** 2
        return f, [], [48 - x1**2 - x2**2 - x3**2]

    def _jac(self, x):
        x1, x2, x3 = x
        a, b = 2 * (x1 - x2), 2 * (x1 + x2 - 10) / 9
        return [a + b, -a + b, 2 * (x3 - 5)], [], [[-2 * x1, -2 * x2, -2 * x3]]


class HS066(HS034):
    name = "hs066"
    x_star, f_star = [0.1841264879, 1.202167873, 3.327322322], 0.5181632741

    def _fun(self, x):
        _, h, g = super()._fun(x)
        return 0.2 * x[2] - 0.8 * x[0], h, g

    def _jac(self, x):
        _, dh, dg = super()._jac(x)
        return [-0.8, 0.0, 0.2], dh, dg


class HS071(HSProblem):
    name, n, nec, nic = "hs071", 4, 1, 1
    lb, ub = [1.0] * 4, [5.0] * 4
    x0, x_star, f_star = [1.0, 5.0, 5.0, 1.0], [1.0, 4.742999643, 3.821149790, 1.379408293], 17.0140173

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = x1 * x4 * (x1 + x2 + x3) + x3
        return f, [x1**2 + x2**2 + x3**2 + x4**2 - 40], [x1 * x2 * x3 * x4 - 25]

    def _jac(self, x):
        x1, x2, x3, x4 = x
        df = [x4 * (2 * x1 + x2 + x3), x1 * x4, x1 * x4 + 1, x1 * (x1 + x2 + x3)]
        return df, [2 * x], [_prod_grad(x)]


class HS073(HSProblem):
    name, n, nec, nic = "hs073", 4, 1, 2
    lb, ub = [0.0] * 4, [INF] * 4
    x0, x_star, f_star = [1.0] * 4, [0.6355216, 0.0, 0.3127019, 0.05177655], 29.894378
    _q = np.array([0.28, 0.19, 20.5, 0.62])

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = 24.55 * x1 + 26.75 * x2 + 39 * x3 + 40.5 * x4
        q = math.sqrt(float(self._q @ x**2))
        g = [2.3 * x1 + 5.6 * x2 + 11.1 * x3 + 1.3 * x4 - 5,
             12 * x1 + 11.9 * x2 + 41.8 * x3 + 52.1 * x4 - 21 - 1.645 * q]
        return f, [x1 + x2 + x3 + x4 - 1], g

    def _jac(self, x):
        q = math.sqrt(float(self._q @ x**2))
        dg2 = np.array([12, 11.9, 41.8, 52.1]) - 1.645 * self._q * x / q
        return [24.55, 26.75, 39.0, 40.5], [[1.0] * 4], [[2.3, 5.6, 11.1, 1.3], dg2]


class HS074(HSProblem):
    name, n, nec, nic = "hs074", 4, 3, 2
    _a = 0.55
    lb, ub = [0.0, 0.0, -_a, -_a], [1200.0, 1200.0, _a, _a]
    x0, x_star, f_star = [0.0] * 4, [679.9453, 1026.067, 0.1188764, -0.3962336], 5126.4981
    x_star_ctol = 1e-3  # x_star rounded to 7 digits, constraints scaled by 1000

    def _fun(self, x):
        x1, x2, x3, x4 = x
        s = math.sin
        f = 3 * x1 + 1e-6 * x1**3 + 2 * x2 + (2e-6 / 3) * x2**3
        h = [1000 * s(-x3 - 0.25) + 1000 * s(-x4 - 0.25) + 894.8 - x1,
             1000 * s(x3 - 0.25) + 1000 * s(x3 - x4 - 0.25) + 894.8 - x2,
             1000 * s(x4 - 0.25) + 1000 * s(x4 - x3 - 0.25) + 1294.8]
        return f, h, [x4 - x3 + self._a, x3 - x4 + self._a]

    def _jac(self, x):
        x1, x2, x3, x4 = x
        c = math.cos
        df = [3 + 3e-6 * x1**2, 2 + 2e-6 * x2**2, 0.0, 0.0]
        dh = [[-1.0, 0.0, -1000 * c(-x3 - 0.25), -1000 * c(-x4 - 0.25)],
              [0.0, -1.0, 1000 * (c(x3 - 0.25) + c(x3 - x4 - 0.25)), -1000 * c(x3 - x4 - 0.25)],
              [0.0, 0.0, -1000 * c(x4 - x3 - 0.25), 1000 * (c(x4 - 0.25) + c(x4 - x3 - 0.25))]]
        return df, dh, [[0.0, 0.0, -1.0, 1.0], [0.0, 0.0, 1.0, -1.0]]


class HS075(HS074):
    name = "hs075"
    _a = 0.48
    lb, ub = [0.0, 0.0, -_a, -_a], [1200.0, 1200.0, _a, _a]
    x_star, f_star = [776.1592, 925.1949, 0.05110879, -0.4288911], 5174.4129


class HS076(HSProblem):
    name, n, nic = "hs076", 4, 3
    lb, ub = [0.0] * 4, [INF] * 4
    x0, x_star, f_star = [0.5] * 4, [3 / 11, 23 / 11, 0.0, 6 / 11], -4.681818181

    def _fun(self, x):
        x1, x2, x3, x4 = x
        f = (x1**2 + 0.5 * x2**2 + x3**2 + 0.5 * x4**2 - x1 * x3 + x3 * x4
             - x1 - 3 * x2 + x3 - x4)
        g = [5 - x1 - 2 * x2 - x3 - x4, 4 - 3 * x1 - x2 - 2 * x3 + x4, x2 + 4 * x3 - 1.5]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4 = x
        df = [2 * x1 - x3 - 1, x2 - 3, 2 * x3 - x1 + x4 + 1, x4 + x3 - 1]
        return df, [], [[-1.0, -2.0, -1.0, -1.0], [-3.0, -1.0, -2.0, 1.0], [0.0, 1.0, 4.0, 0.0]]


class HS077(HS046):
    name = "hs077"
    x0 = [2.0] * 5
    x_star, f_star = [1.166172, 1.182111, 1.380257, 1.506036, 0.6109203], 0.24150513
    _c1, _c2 = 2 * _S2, 8 + _S2

    def _fun(self, x):
        f, h, g = super()._fun(x)
        return f + (x[0] - 1) ** 2, h, g

    def _jac(self, x):
        df, dh, dg = super()._jac(x)
        df[0] += 2 * (x[0] - 1)
        return df, dh, dg


class HS078(HSProblem):
    name, n, nec = "hs078", 5, 3
    lb, ub = [-INF] * 5, [INF] * 5
    x0 = [-2.0, 1.5, 2.0, -1.0, -1.0]
    x_star = [-1.717142, 1.595708, 1.827248, -0.7636429, -0.7636435]
    f_star = -2.91970041

    def _h(self, x):
        x1, x2, x3, x4, x5 = x
        return [float(x @ x) - 10, x2 * x3 - 5 * x4 * x5, x1**3 + x2**3 + 1]

    def _dh(self, x):
        x1, x2, x3, x4, x5 = x
        return [2 * x, [0.0, x3, x2, -5 * x5, -5 * x4], [3 * x1**2, 3 * x2**2, 0.0, 0.0, 0.0]]

    def _fun(self, x):
        return float(np.prod(x)), self._h(x), []

    def _jac(self, x):
        return _prod_grad(x), self._dh(x), []


class HS079(HSProblem):
    name, n, nec = "hs079", 5, 3
    lb, ub = [-INF] * 5, [INF] * 5
    x0, x_star = [2.0] * 5, [1.191127, 1.362603, 1.472818, 1.635017, 1.679081]
    f_star = 0.0787768209

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        f = (x1 - 1) ** 2 + (x1 - x2) ** 2 + (x2 - x3) ** 2 + (x3 - x4) ** 4 + (x4 - x5) ** 4
        h = [x1 + x2**2 + x3**3 - 2 - 3 * _S2, x2 - x3**2 + x4 + 2 - 2 * _S2, x1 * x5 - 2]
        return f, h, []

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        a, b, c, d = 2 * (x1 - x2), 2 * (x2 - x3), 4 * (x3 - x4) ** 3, 4 * (x4 - x5) ** 3
        df = [2 * (x1 - 1) + a, -a + b, -b + c, -c + d, -d]
        dh = [[1.0, 2 * x2, 3 * x3**2, 0.0, 0.0], [0.0, 1.0, -2 * x3, 1.0, 0.0],
              [x5, 0.0, 0.0, 0.0, x1]]
        return df, dh, []


class HS080(HS078):
    name = "hs080"
    lb, ub = [-2.3, -2.3, -3.2, -3.2, -3.2], [2.3, 2.3, 3.2, 3.2, 3.2]
    x0 = [-2.0, 2.0, 2.0, -1.0, -1.0]
    x_star = [-1.717143, 1.595709, 1.827247, -0.7636413, -0.7636450]
    f_star = 0.0539498478

    def _fun(self, x):
        return math.exp(np.prod(x)), self._h(x), []

    def _jac(self, x):
        return math.exp(np.prod(x)) * _prod_grad(x), self._dh(x), []


class HS081(HS080):
    name = "hs081"
    x_star = [-1.717142, 1.595708, 1.827248, -0.7636429, -0.7636435]

    def _fun(self, x):
        c = x[0] ** 3 + x[1] ** 3 + 1
        return math.exp(np.prod(x)) - 0.5 * c**2, self._h(x), []

    def _jac(self, x):
        c = x[0] ** 3 + x[1] ** 3 + 1
        df = math.exp(np.prod(x)) * _prod_grad(x)
        df[0] -= c * 3 * x[0] ** 2
        df[1] -= c * 3 * x[1] ** 2
        return df, self._dh(x), []


class HS083(HSProblem):
    name, n, nic = "hs083", 5, 6
    lb, ub = [78.0, 33.0, 27.0, 27.0, 27.0], [102.0, 45.0, 45.0, 45.0, 45.0]
    x0, x_star = [78.0, 33.0, 27.0, 27.0, 27.0], [78.0, 33.0, 29.99526, 45.0, 36.77581]
    f_star = -30665.53867

    def _fun(self, x):
        x1, x2, x3, x4, x5 = x
        f = 5.3578547 * x3**2 + 0.8356891 * x1 * x5 + 37.293239 * x1 - 40792.141
        a = 85.334407 + 0.0056858 * x2 * x5 + 0.0006262 * x1 * x4 - 0.0022053 * x3 * x5
        b = 80.51249 + 0.0071317 * x2 * x5 + 0.0029955 * x1 * x2 + 0.0021813 * x3**2
        c = 9.300961 + 0.0047026 * x3 * x5 + 0.0012547 * x1 * x3 + 0.0019085 * x3 * x4
        return f, [], [a, 92 - a, b - 90, 110 - b, c - 20, 25 - c]

    def _jac(self, x):
        x1, x2, x3, x4, x5 = x
        df = [0.8356891 * x5 + 37.293239, 0.0, 2 * 5.3578547 * x3, 0.0, 0.8356891 * x1]
        da = np.array([0.0006262 * x4, 0.0056858 * x5, -0.0022053 * x5, 0.0006262 * x1,
                       0.0056858 * x2 - 0.0022053 * x3])
        db = np.array([0.0029955 * x2, 0.0071317 * x5 + 0.0029955 * x1, 2 * 0.0021813 * x3,
                       0.0, 0.0071317 * x2])
        dc = np.array([0.0012547 * x3, 0.0, 0.0047026 * x5 + 0.0012547 * x1 + 0.0019085 * x4,
                       0.0019085 * x3, 0.0047026 * x3])
        return df, [], [da, -da, db, -db, dc, -dc]


class HS093(HSProblem):
    name, n, nic = "hs093", 6, 2
    lb, ub = [0.0] * 6, [INF] * 6
    x0 = [5.54, 4.4, 12.02, 11.82, 0.702, 0.852]
    x_star = [5.332666, 4.656744, 10.43299, 12.08230, 0.7526074, 0.8786508]
    f_star = 135.075961

    @staticmethod
    def _parts(x, p0, p1, q0, q1):
        """Value and gradient of x1 x4 A (p0 + p1 x5^2) + x2 x3 B (q0 + q1 x6^2)."""
        x1, x2, x3, x4, x5, x6 = x
        A, B = x1 + x2 + x3, x1 + 1.57 * x2 + x4
        P, Q = p0 + p1 * x5**2, q0 + q1 * x6**2
        v = x1 * x4 * A * P + x2 * x3 * B * Q
        d = [P * (x4 * A + x1 * x4) + Q * x2 * x3,
             P * x1 * x4 + Q * (x3 * B + 1.57 * x2 * x3),
             P * x1 * x4 + Q * x2 * B,
             P * x1 * A + Q * x2 * x3,
             x1 * x4 * A * 2 * p1 * x5,
             x2 * x3 * B * 2 * q1 * x6]
        return v, np.array(d)

    def _fun(self, x):
        f, _ = self._parts(x, 0.0204, 0.0607, 0.0187, 0.0437)
        c, _ = self._parts(x, 0.0, 0.00062, 0.0, 0.00058)
        return f, [], [0.001 * np.prod(x) - 2.07, 1 - c]

    def _jac(self, x):
        _, df = self._parts(x, 0.0204, 0.0607, 0.0187, 0.0437)
        _, dc = self._parts(x, 0.0, 0.00062, 0.0, 0.00058)
        return df, [], [0.001 * _prod_grad(x), -dc]


class HS100(HSProblem):
    name, n, nic = "hs100", 7, 4
    lb, ub = [-INF] * 7, [INF] * 7
    x0 = [1.0, 2.0, 0.0, 4.0, 0.0, 1.0, 1.0]
    x_star = [2.330499, 1.951372, -0.4775414, 4.365726, -0.6244870, 1.038131, 1.594227]
    f_star = 680.6300573

    def _fun(self, x):
        x1, x2, x3, x4, x5, x6, x7 = x
        f = ((x1 - 10) ** 2 + 5 * (x2 - 12) ** 2 + x3**4 + 3 * (x4 - 11) ** 2 + 10 * x5**6
             + 7 * x6**2 + x7**4 - 4 * x6 * x7 - 10 * x6 - 8 * x7)
        g = [127 - 2 * x1**2 - 3 * x2**4 - x3 - 4 * x4**2 - 5 * x5,
             282 - 7 * x1 - 3 * x2 - 10 * x3**2 - x4 + x5,
             196 - 23 * x1 - x2**2 - 6 * x6**2 + 8 * x7,
             -4 * x1**2 - x2**2 + 3 * x1 * x2 - 2 * x3**2 - 5 * x6 + 11 * x7]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4, x5, x6, x7 = x
        df = [2 * (x1 - 10), 10 * (x2 - 12), 4 * x3**3, 6 * (x4 - 11), 60 * x5**5,
              14 * x6 - 4 * x7 - 10, 4 * x7**3 - 4 * x6 - 8]
        dg = [[-4 * x1, -12 * x2**3, -1.0, -8 * x4, -5.0, 0.0, 0.0],
              [-7.0, -3.0, -20 * x3, -1.0, 1.0, 0.0, 0.0],
              [-23.0, -2 * x2, 0.0, 0.0, 0.0, -12 * x6, 8.0],
              [-8 * x1 + 3 * x2, -2 * x2 + 3 * x1, -4 * x3, 0.0, 0.0, -5.0, 11.0]]
        return df, [], dg


class HS104(HSProblem):
    name, n, nic = "hs104", 8, 6
    lb, ub = [0.1] * 8, [10.0] * 8
    x0 = [6.0, 3.0, 0.4, 0.2, 6.0, 6.0, 1.0, 0.5]
    x_star = [6.465114, 2.232709, 0.6673975, 0.5957564, 5.932676, 5.527235, 1.013322, 0.4006682]
    f_star = 3.9511634396

    @staticmethod
    def _obj(x):
        x1, x2, x7, x8 = x[0], x[1], x[6], x[7]
        f = 0.4 * x1**0.67 * x7**-0.67 + 0.4 * x2**0.67 * x8**-0.67 + 10 - x1 - x2
        df = np.zeros(8)
        df[0] = 0.4 * 0.67 * x1**-0.33 * x7**-0.67 - 1
        df[1] = 0.4 * 0.67 * x2**-0.33 * x8**-0.67 - 1
        df[6] = -0.4 * 0.67 * x1**0.67 * x7**-1.67
        df[7] = -0.4 * 0.67 * x2**0.67 * x8**-1.67
        return f, df

    def _fun(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8 = x
        f, _ = self._obj(x)
        g = [1 - 0.0588 * x5 * x7 - 0.1 * x1,
             1 - 0.0588 * x6 * x8 - 0.1 * x1 - 0.1 * x2,
             1 - 4 * x3 / x5 - 2 * x3**-0.71 / x5 - 0.0588 * x3**-1.3 * x7,
             1 - 4 * x4 / x6 - 2 * x4**-0.71 / x6 - 0.0588 * x4**-1.3 * x8,
             f - 0.1, 4.2 - f]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8 = x
        _, df = self._obj(x)
        dg = np.zeros((6, 8))
        dg[0, [0, 4, 6]] = [-0.1, -0.0588 * x7, -0.0588 * x5]
        dg[1, [0, 1, 5, 7]] = [-0.1, -0.1, -0.0588 * x8, -0.0588 * x6]
        for r, (a, b, c) in ((2, (2, 4, 6)), (3, (3, 5, 7))):
            xa, xb, xc = x[a], x[b], x[c]
            dg[r, a] = -4 / xb + 1.42 * xa**-1.71 / xb + 0.0588 * 1.3 * xa**-2.3 * xc
            dg[r, b] = 4 * xa / xb**2 + 2 * xa**-0.71 / xb**2
            dg[r, c] = -0.0588 * xa**-1.3
        dg[4], dg[5] = df, -df
        return df, [], dg


class HS106(HSProblem):
    name, n, nic = "hs106", 8, 6
    lb = [100.0, 1000.0, 1000.0] + [10.0] * 5
    ub = [10000.0] * 3 + [1000.0] * 5
    x0 = [5000.0, 5000.0, 5000.0, 200.0, 350.0, 150.0, 225.0, 425.0]
    x_star = None
    f_star = 7049.24802052867
    notes = ("1981 book lists f*=7049.330923 at a rounded x*; the accurate optimum "
             "7049.2480205 (Schittkowski's later update) is used; badly scaled")

    def _fun(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8 = x
        g = [1 - 0.0025 * (x4 + x6), 1 - 0.0025 * (x5 + x7 - x4), 1 - 0.01 * (x8 - x5),
             x1 * x6 - 833.33252 * x4 - 100 * x1 + 83333.333,
             x2 * x7 - 1250 * x5 - x2 * x4 + 1250 * x4,
             x3 * x8 - 1250000 - x3 * x5 + 2500 * x5]
        return x1 + x2 + x3, [], g

    def _jac(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8 = x
        dg = np.zeros((6, 8))
        dg[0, [3, 5]] = -0.0025
        dg[1, [3, 4, 6]] = [0.0025, -0.0025, -0.0025]
        dg[2, [4, 7]] = [0.01, -0.01]
        dg[3, [0, 3, 5]] = [x6 - 100, -833.33252, x1]
        dg[4, [1, 3, 4, 6]] = [x7 - x4, -x2 + 1250, -1250, x2]
        dg[5, [2, 4, 7]] = [x8 - x5, -x3 + 2500, x3]
        return [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [], dg


class HS108(HSProblem):
    name, n, nic = "hs108", 9, 13
    lb, ub = [-INF] * 8 + [0.0], [INF] * 9
    x0 = [1.0] * 9
    x_star = [0.8841292, 0.4672425, 0.03742076, 0.9992996, 0.8841292, 0.4672424,
              0.03742076, 0.9992996, 0.0]
    f_star = -0.8660254038

    def _fun(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8, x9 = x
        f = -0.5 * (x1 * x4 - x2 * x3 + x3 * x9 - x5 * x9 + x5 * x8 - x6 * x7)
        g = [1 - x3**2 - x4**2, 1 - x9**2, 1 - x5**2 - x6**2, 1 - x1**2 - (x2 - x9) ** 2,
             1 - (x1 - x5) ** 2 - (x2 - x6) ** 2, 1 - (x1 - x7) ** 2 - (x2 - x8) ** 2,
             1 - (x3 - x5) ** 2 - (x4 - x6) ** 2, 1 - (x3 - x7) ** 2 - (x4 - x8) ** 2,
             1 - x7**2 - (x8 - x9) ** 2, x1 * x4 - x2 * x3, x3 * x9, -x5 * x9,
             x5 * x8 - x6 * x7]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8, x9 = x
        df = -0.5 * np.array([x4, -x3, -x2 + x9, x1, -x9 + x8, -x7, -x6, x5, x3 - x5])
        dg = np.zeros((13, 9))
        dg[0, [2, 3]] = [-2 * x3, -2 * x4]
        dg[1, 8] = -2 * x9
        dg[2, [4, 5]] = [-2 * x5, -2 * x6]
        dg[3, [0, 1, 8]] = [-2 * x1, -2 * (x2 - x9), 2 * (x2 - x9)]
        for r, (a, b, c, d) in ((4, (0, 4, 1, 5)), (5, (0, 6, 1, 7)), (6, (2, 4, 3, 5)),
                                (7, (2, 6, 3, 7))):
            u, v = x[a] - x[b], x[c] - x[d]
            dg[r, [a, b, c, d]] = [-2 * u, 2 * u, -2 * v, 2 * v]
        dg[8, [6, 7, 8]] = [-2 * x7, -2 * (x8 - x9), 2 * (x8 - x9)]
        dg[9, [0, 1, 2, 3]] = [x4, -x3, -x2, x1]
        dg[10, [2, 8]] = [x9, x3]
        dg[11, [4, 8]] = [-x9, -x5]
        dg[12, [4, 5, 6, 7]] = [x8, -x7, -x6, x5]
        return df, [], dg


class HS110(HSProblem):
    name, n = "hs110", 10
    lb, ub = [2.001] * 10, [9.999] * 10
    x0, x_star, f_star = [9.0] * 10, [9.35025655] * 10, -45.77846971

    def _fun(self, x):
        return float(np.sum(np.log(x - 2) ** 2 + np.log(10 - x) ** 2) - np.prod(x) ** 0.2), [], []

    def _jac(self, x):
        p = np.prod(x) ** 0.2
        return 2 * np.log(x - 2) / (x - 2) - 2 * np.log(10 - x) / (10 - x) - 0.2 * p / x, [], []


class HS112(HSProblem):
    name, n, nec = "hs112", 10, 3
    lb, ub = [1e-6] * 10, [INF] * 10
    x0 = [0.1] * 10
    x_star = None
    f_star = -47.76109026
    notes = ("convex problem; SLSQP reaches -47.76109086 (rel. diff 1.3e-8 to f_star); "
             "the x* printed with it is not reproduced here (it evaluates to -47.7076)")
    _c = np.array([-6.089, -17.164, -34.054, -5.914, -24.721, -14.986, -24.100, -10.708,
                   -26.662, -22.179])
    _A = np.array([[1, 2, 2, 0, 0, 1, 0, 0, 0, 1],
                   [0, 0, 0, 1, 2, 1, 1, 0, 0, 0],
                   [0, 0, 1, 0, 0, 0, 1, 1, 2, 1]], dtype=float)
    _b = np.array([2.0, 1.0, 1.0])

    def _fun(self, x):
        f = float(np.sum(x * (self._c + np.log(x / np.sum(x)))))
        return f, self._A @ x - self._b, []

    def _jac(self, x):
        return self._c + np.log(x / np.sum(x)), self._A, []


class HS113(HSProblem):
    name, n, nic = "hs113", 10, 8
    lb, ub = [-INF] * 10, [INF] * 10
    x0 = [2.0, 3.0, 5.0, 5.0, 1.0, 2.0, 7.0, 3.0, 6.0, 10.0]
    x_star = [2.171996, 2.363683, 8.773926, 5.095984, 0.9906548, 1.430574, 1.321644,
              9.828726, 8.280092, 8.375927]
    f_star = 24.3062091
    x_star_ctol = 1e-4  # x_star rounded to 7 digits

    def _fun(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = x
        f = (x1**2 + x2**2 + x1 * x2 - 14 * x1 - 16 * x2 + (x3 - 10) ** 2 + 4 * (x4 - 5) ** 2
             + (x5 - 3) ** 2 + 2 * (x6 - 1) ** 2 + 5 * x7**2 + 7 * (x8 - 11) ** 2
             + 2 * (x9 - 10) ** 2 + (x10 - 7) ** 2 + 45)
        g = [105 - 4 * x1 - 5 * x2 + 3 * x7 - 9 * x8,
             -10 * x1 + 8 * x2 + 17 * x7 - 2 * x8,
             8 * x1 - 2 * x2 - 5 * x9 + 2 * x10 + 12,
             -3 * (x1 - 2) ** 2 - 4 * (x2 - 3) ** 2 - 2 * x3**2 + 7 * x4 + 120,
             -5 * x1**2 - 8 * x2 - (x3 - 6) ** 2 + 2 * x4 + 40,
             -0.5 * (x1 - 8) ** 2 - 2 * (x2 - 4) ** 2 - 3 * x5**2 + x6 + 30,
             -(x1**2) - 2 * (x2 - 2) ** 2 + 2 * x1 * x2 - 14 * x5 + 6 * x6,
             3 * x1 - 6 * x2 - 12 * (x9 - 8) ** 2 + 7 * x10]
        return f, [], g

    def _jac(self, x):
        x1, x2, x3, x4, x5, x6, x7, x8, x9, x10 = x
        df = [2 * x1 + x2 - 14, 2 * x2 + x1 - 16, 2 * (x3 - 10), 8 * (x4 - 5), 2 * (x5 - 3),
              4 * (x6 - 1), 10 * x7, 14 * (x8 - 11), 4 * (x9 - 10), 2 * (x10 - 7)]
        dg = np.zeros((8, 10))
        dg[0, [0, 1, 6, 7]] = [-4, -5, 3, -9]
        dg[1, [0, 1, 6, 7]] = [-10, 8, 17, -2]
        dg[2, [0, 1, 8, 9]] = [8, -2, -5, 2]
        dg[3, [0, 1, 2, 3]] = [-6 * (x1 - 2), -8 * (x2 - 3), -4 * x3, 7]
        dg[4, [0, 1, 2, 3]] = [-10 * x1, -8, -2 * (x3 - 6), 2]
        dg[5, [0, 1, 4, 5]] = [-(x1 - 8), -4 * (x2 - 4), -6 * x5, 1]
        dg[6, [0, 1, 4, 5]] = [-2 * x1 + 2 * x2, -4 * (x2 - 2) + 2 * x1, -14, 6]
        dg[7, [0, 1, 8, 9]] = [3, -6, -24 * (x9 - 8), 7]
        return df, [], dg


class HS118(HSProblem):
    name, n, nic = "hs118", 15, 29
    lb = [8.0, 43.0, 3.0] + [0.0] * 12
    ub = [21.0, 57.0, 16.0] + [90.0, 120.0, 60.0] * 4
    x0 = [20.0, 55.0, 15.0] + [20.0, 60.0, 20.0] * 4
    x_star = [8.0, 49.0, 3.0, 1.0, 56.0, 0.0, 1.0, 63.0, 6.0, 3.0, 70.0, 12.0, 5.0, 77.0, 18.0]
    f_star = 664.8204500
    _lin = np.tile([2.3, 1.7, 2.2], 5)
    _quad = np.tile([1e-4, 1e-4, 1.5e-4], 5)
    _upper = (13.0, 14.0, 13.0)  # ramp limits: 0 <= x_{k+3} - x_k + 7 <= upper

    @classmethod
    def _G(cls) -> tuple[np.ndarray, np.ndarray]:
        """Linear constraints G x + c >= 0."""
        G, c = np.zeros((29, 15)), np.zeros(29)
        r = 0
        for j in range(4):
            for i in range(3):
                k = 3 * j + i
                G[r, k + 3], G[r, k], c[r] = 1.0, -1.0, 7.0
                G[r + 1, k + 3], G[r + 1, k], c[r + 1] = -1.0, 1.0, cls._upper[i] - 7.0
                r += 2
        for j, d in enumerate((60.0, 50.0, 70.0, 85.0, 100.0)):
            G[r, 3 * j:3 * j + 3], c[r] = 1.0, -d
            r += 1
        return G, c

    def _fun(self, x):
        G, c = self._G()
        return float(self._lin @ x + self._quad @ x**2), [], G @ x + c

    def _jac(self, x):
        return self._lin + 2 * self._quad * x, [], self._G()[0]


ALL_PROBLEMS: list[type[HSProblem]] = [
    HS001, HS002, HS003, HS004, HS005, HS006, HS007, HS008, HS009, HS010, HS011, HS012,
    HS014, HS015, HS016, HS017, HS018, HS019, HS020, HS021, HS022, HS023, HS024, HS026,
    HS027, HS028, HS029, HS030, HS031, HS032, HS033, HS034, HS035, HS036, HS037, HS038,
    HS039, HS040, HS041, HS042, HS043, HS044, HS045, HS046, HS048, HS049, HS050,
    HS051, HS052, HS053, HS056, HS060, HS061, HS063, HS064, HS065, HS066, HS071, HS073,
    HS074, HS075, HS076, HS077, HS078, HS079, HS080, HS081, HS083, HS093, HS100, HS104,
    HS106, HS108, HS110, HS112, HS113, HS118,
]
_REGISTRY: dict[str, type[HSProblem]] = {cls.name: cls for cls in ALL_PROBLEMS}
PROBLEM_NAMES: list[str] = list(_REGISTRY)


def get_problem(name: str, with_gradient: bool = True) -> HSProblem | NoGradient:
    """UDP instance for e.g. ``"hs071"``; ``with_gradient=False`` drops ``gradient``."""
    prob = _REGISTRY[name.lower()]()
    return prob if with_gradient else NoGradient(prob)


def f_star(name: str) -> float:
    return _REGISTRY[name.lower()].f_star


def x0(name: str) -> list[float]:
    return list(_REGISTRY[name.lower()].x0)


def x_star(name: str) -> list[float] | None:
    xs = _REGISTRY[name.lower()].x_star
    return None if xs is None else list(xs)
