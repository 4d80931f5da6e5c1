"""Evaluation counting, a per-solve deadline and a finite-difference gradient, as UDP wrappers.

The same wrappers are used for every solver (in this process and in the reference worker), so
every solver pays the same small wrapping cost and is counted the same way.  Counts live in the
module-level ``COUNTS`` (pygmo deep-copies UDPs, so instance attributes would be lost):
``f`` / ``g`` are the calls the problem receives; ``fu`` / ``gu`` the distinct points among them
(pygmo's nlopt and ipopt adaptors, for instance, ask for the gradient once per objective /
constraint block at the same x; a user with an expensive problem would cache those).
``tf`` / ``tg`` accumulate the wall time spent inside the wrapper's ``fitness`` / ``gradient``
(the problem's own time as the solver sees it, counting included), for the overhead measurements.
"""

from __future__ import annotations

import time

import numpy as np
import pygmo

COUNTS = {"f": 0, "g": 0, "fu": 0, "gu": 0, "tf": 0.0, "tg": 0.0, "deadline": float("inf")}
_SEEN_F: set = set()
_SEEN_G: set = set()


class SolveTimeout(Exception):
    """Raised from a callback when the per-solve time limit is exceeded."""


def reset(time_limit: float | None = None) -> None:
    COUNTS["f"] = COUNTS["g"] = COUNTS["fu"] = COUNTS["gu"] = 0
    COUNTS["tf"] = COUNTS["tg"] = 0.0
    _SEEN_F.clear()
    _SEEN_G.clear()
    COUNTS["deadline"] = float("inf") if time_limit is None else time.perf_counter() + time_limit


def disarm() -> None:
    COUNTS["deadline"] = float("inf")


def _check() -> None:
    if time.perf_counter() > COUNTS["deadline"]:
        raise SolveTimeout("per-solve time limit exceeded")


class Counted:
    """Counts fitness calls; no gradient."""

    def __init__(self, udp) -> None:
        self.prob = udp if isinstance(udp, pygmo.problem) else pygmo.problem(udp)
        self._bounds = self.prob.get_bounds()
        self._nec, self._nic = self.prob.get_nec(), self.prob.get_nic()
        self._name = self.prob.get_name()

    def fitness(self, x):
        t0 = time.perf_counter()
        COUNTS["f"] += 1
        key = np.asarray(x, dtype=float).tobytes()
        if key not in _SEEN_F:
            _SEEN_F.add(key)
            COUNTS["fu"] += 1
        if t0 > COUNTS["deadline"]:
            raise SolveTimeout("per-solve time limit exceeded")
        try:
            return self.prob.fitness(x)
        finally:
            COUNTS["tf"] += time.perf_counter() - t0

    def get_bounds(self):
        return self._bounds

    def get_nec(self):
        return self._nec

    def get_nic(self):
        return self._nic

    def get_name(self):
        return self._name


class CountedGradient(Counted):
    """Counts fitness and gradient calls; forwards the user gradient and its sparsity."""

    def gradient(self, x):
        t0 = time.perf_counter()
        COUNTS["g"] += 1
        key = np.asarray(x, dtype=float).tobytes()
        if key not in _SEEN_G:
            _SEEN_G.add(key)
            COUNTS["gu"] += 1
        if t0 > COUNTS["deadline"]:
            raise SolveTimeout("per-solve time limit exceeded")
        try:
            return self.prob.gradient(x)
        finally:
            COUNTS["tg"] += time.perf_counter() - t0


class CountedSparseGradient(CountedGradient):
    """As :class:`CountedGradient`, also forwarding the problem's own gradient sparsity."""

    def gradient_sparsity(self):
        return self.prob.gradient_sparsity()


class CountedFD(Counted):
    """For solvers that require a gradient when the problem has none: forward differences of the
    fitness vector (dense), every stencil point counted as one fitness evaluation; f(x) itself is
    reused when the last fitness call was at the same x, and the last gradient is reused when it is
    asked for again at the same x (pygmo's nlopt and ipopt adaptors ask for the objective's and
    the constraints' gradients separately)."""

    def __init__(self, udp) -> None:
        super().__init__(udp)
        self._last_x = None
        self._last_f = None
        self._grad_x = None
        self._grad = None

    def fitness(self, x):
        f = super().fitness(x)
        self._last_x, self._last_f = np.array(x, dtype=float), f
        return f

    def gradient(self, x):
        x = np.asarray(x, dtype=float)
        if self._grad_x is not None and np.array_equal(x, self._grad_x):
            return self._grad
        if self._last_x is not None and np.array_equal(x, self._last_x):
            f0 = self._last_f
        else:
            f0 = Counted.fitness(self, x)
        lb, ub = (np.asarray(b) for b in self._bounds)
        n = x.size
        J = np.empty((f0.size, n))
        for i in range(n):
            h = 1.4901161193847656e-08 * max(1.0, abs(x[i]))
            if x[i] + h > ub[i]:
                h = -h
            xp = x.copy()
            xp[i] += h
            J[:, i] = (Counted.fitness(self, xp) - f0) / h
        self._grad_x, self._grad = x.copy(), J.ravel()
        return self._grad


def wrap(udp, with_gradient: bool, fd_if_no_gradient: bool = False):
    """A counted pygmo.problem around ``udp`` with c_tol = 1e-6 on every constraint."""
    if with_gradient:
        inner = udp if isinstance(udp, pygmo.problem) else pygmo.problem(udp)
        w = (CountedSparseGradient if inner.has_gradient_sparsity() else CountedGradient)(inner)
    elif fd_if_no_gradient:
        w = CountedFD(udp)
    else:
        w = Counted(udp)
    prob = pygmo.problem(w)
    if prob.get_nc():
        prob.c_tol = [1e-6] * prob.get_nc()
    return prob
