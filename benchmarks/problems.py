"""Benchmark problem set: Hock–Schittkowski, pygmo's built-in constrained problems, and scalable
near-linear trajectory transcriptions.

Every problem is named by a *problem id* string that both the runner and the reference worker
(a separate Python environment) can turn back into the same pygmo UDP:

* ``hs071`` ...            Hock–Schittkowski problems of ``tests/hs_problems.py`` (imported, not copied)
* ``pg_hs71``              ``pygmo.hock_schittkowski_71``
* ``pg_lv1_<n>``           ``pygmo.luksan_vlcek1(n)``
* ``pg_cec06_g<k>``        ``pygmo.cec2006(k)`` (inequality-only, smooth members)
* ``dint_<N>``             double integrator, minimum energy, trapezoidal collocation, N nodes
* ``pend_<N>``             pendulum-like (theta'' = -sin theta + u), minimum energy, N nodes

``make_case(pid)`` returns a :class:`Case` with the UDP (with and without a user gradient), the
published / computed optimum ``f_star``, the standard start and a seeded random-start generator.
The transcriptions give a sparse gradient (``gradient_sparsity``); their ``f_star`` is computed
here by an exact method (an active-set solve of the QP, resp. Newton on the KKT system).

Everything here needs only numpy and pygmo (plus scipy for the transcriptions' ``f_star``,
which only the runner asks for), so the reference worker can import it too.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np
import pygmo

_HERE = os.path.dirname(os.path.abspath(__file__))
_TESTS = os.path.join(os.path.dirname(_HERE), "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
import hs_problems  # noqa: E402  (the repository's tests/hs_problems.py)


# ------------------------------------------------------------------------------------------
# scalable transcriptions
# ------------------------------------------------------------------------------------------
class _Transcription:
    """Common part: variables z = [s1(N), s2(N), u(N)] (two states, one control per node),
    trapezoidal collocation of s1' = s2, s2' = a(s1) + u on [0, T], boundary conditions
    s1(0)=s1_0, s2(0)=0, s1(T)=s1_T, s2(T)=0, objective = trapezoid of u^2/2.
    Equalities: 4 boundary rows, then (N-1) rows of s1 and (N-1) rows of s2 dynamics."""

    T: float = 1.0
    s1_0: float = 0.0
    s1_T: float = 1.0
    s_bound: float = 2.0
    u_bound: float = 5.0

    def __init__(self, N: int) -> None:
        if N < 3:
            raise ValueError("need N >= 3 nodes")
        self.N = int(N)
        self.n = 3 * self.N
        self.h = self.T / (self.N - 1)
        w = np.full(self.N, self.h)
        w[0] = w[-1] = 0.5 * self.h
        self.w = w  # trapezoid weights
        self.nec = 2 * self.N + 2
        self.nic = 0
        self._sparsity = self._build_sparsity()

    # --- dynamics acceleration term a(s1) and derivatives (overridden) ---
    def _a(self, s1: np.ndarray) -> np.ndarray:
        return np.zeros_like(s1)

    def _da(self, s1: np.ndarray) -> np.ndarray:
        return np.zeros_like(s1)

    def _d2a(self, s1: np.ndarray) -> np.ndarray:
        return np.zeros_like(s1)

    def _split(self, x):
        x = np.asarray(x, dtype=float)
        N = self.N
        return x[:N], x[N:2 * N], x[2 * N:]

    def fitness(self, x):
        s1, s2, u = self._split(x)
        h = self.h
        a = self._a(s1)
        f = 0.5 * np.dot(self.w, u * u)
        bc = [s1[0] - self.s1_0, s2[0], s1[-1] - self.s1_T, s2[-1]]
        d1 = s1[1:] - s1[:-1] - 0.5 * h * (s2[1:] + s2[:-1])
        acc = a + u
        d2 = s2[1:] - s2[:-1] - 0.5 * h * (acc[1:] + acc[:-1])
        return np.concatenate([[f], bc, d1, d2])

    def _build_sparsity(self):
        N = self.N
        rows, cols = [], []
        # objective: the controls
        for k in range(N):
            rows.append(0); cols.append(2 * N + k)
        # boundary conditions
        for r, c in ((1, 0), (2, N), (3, N - 1), (4, 2 * N - 1)):
            rows.append(r); cols.append(c)
        base = 5
        for k in range(N - 1):  # s1 dynamics: s1[k], s1[k+1], s2[k], s2[k+1]
            r = base + k
            for c in (k, k + 1, N + k, N + k + 1):
                rows.append(r); cols.append(c)
        base += N - 1
        for k in range(N - 1):  # s2 dynamics: s1[k], s1[k+1], s2[k], s2[k+1], u[k], u[k+1]
            r = base + k
            for c in (k, k + 1, N + k, N + k + 1, 2 * N + k, 2 * N + k + 1):
                rows.append(r); cols.append(c)
        return np.array(rows), np.array(cols)

    def gradient_sparsity(self):
        rows, cols = self._sparsity
        return np.column_stack([rows, cols]).tolist()

    def gradient(self, x):
        s1, s2, u = self._split(x)
        N, h = self.N, self.h
        da = self._da(s1)
        vals = [self.w * u, np.ones(4)]
        hh = 0.5 * h
        k = np.arange(N - 1)
        v1 = np.column_stack([-np.ones(N - 1), np.ones(N - 1), np.full(N - 1, -hh), np.full(N - 1, -hh)])
        v2 = np.column_stack([-hh * da[k], -hh * da[k + 1], -np.ones(N - 1), np.ones(N - 1),
                              np.full(N - 1, -hh), np.full(N - 1, -hh)])
        vals += [v1.ravel(), v2.ravel()]
        return np.concatenate(vals)

    def dense_jacobian(self, x) -> np.ndarray:
        rows, cols = self._sparsity
        J = np.zeros((1 + self.nec, self.n))
        J[rows, cols] = self.gradient(x)
        return J

    def get_bounds(self):
        N = self.N
        lb = [-self.s_bound] * (2 * N) + [-self.u_bound] * N
        ub = [self.s_bound] * (2 * N) + [self.u_bound] * N
        return lb, ub

    def get_nec(self):
        return self.nec

    def get_nic(self):
        return 0

    def standard_start(self) -> np.ndarray:
        t = np.linspace(0.0, self.T, self.N)
        s1 = self.s1_0 + (self.s1_T - self.s1_0) * t / self.T
        s2 = np.full(self.N, (self.s1_T - self.s1_0) / self.T)
        return np.concatenate([s1, s2, np.zeros(self.N)])


class DoubleIntegrator(_Transcription):
    """Rest-to-rest transfer over distance 1 in time 1 of x'' = u, |u| <= 5 (the unbounded
    optimum needs |u| = 6, so the control bounds are active at both ends); states in [-2, 2].
    Linear equalities, quadratic objective."""

    u_bound = 5.0

    def get_name(self):
        return f"dint_{self.N}"


class Pendulum(_Transcription):
    """theta'' = -sin(theta) + u, theta from 0 to 1 rad at rest in time 2, minimum energy;
    states in [-2, 2], controls in [-5, 5] (inactive).  Mildly nonlinear equalities."""

    T = 2.0
    s1_T = 1.0
    u_bound = 5.0

    def _a(self, s1):
        return -np.sin(s1)

    def _da(self, s1):
        return -np.cos(s1)

    def _d2a(self, s1):
        return np.sin(s1)

    def get_name(self):
        return f"pend_{self.N}"


class _NoGradient:
    """The same UDP without ``gradient`` / ``gradient_sparsity`` (pygmo then has no gradient)."""

    def __init__(self, udp) -> None:
        self.udp = udp

    def fitness(self, x):
        return self.udp.fitness(x)

    def get_bounds(self):
        return self.udp.get_bounds()

    def get_nec(self):
        return self.udp.get_nec()

    def get_nic(self):
        return self.udp.get_nic()

    def get_name(self):
        return self.udp.get_name()


# ------------------------------------------------------------------------------------------
# exact optima of the transcriptions
# ------------------------------------------------------------------------------------------
def _kkt_solve(H, J, rhs_g, rhs_c):
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    m = J.shape[0]
    K = sp.bmat([[H, J.T], [J, None]], format="csc")
    sol = spla.spsolve(K, np.concatenate([rhs_g, rhs_c]))
    return sol[: H.shape[0]], sol[H.shape[0]:]


def _transcription_optimum(udp: _Transcription) -> tuple[float, np.ndarray]:
    """Newton's method on the KKT system with a primal active set for the box bounds (the
    objective is convex in u; the double integrator is a convex QP so this is exact; for the
    pendulum the bounds are inactive and this is Newton on an equality-constrained problem)."""
    import scipy.sparse as sp

    N, n = udp.N, udp.n
    lb, ub = (np.asarray(b) for b in udp.get_bounds())
    x = np.clip(udp.standard_start(), lb, ub)
    fixed = np.zeros(n, dtype=bool)
    lam = np.zeros(udp.nec)
    for _ in range(200):
        F = udp.fitness(x)
        Jf = udp.dense_jacobian(x)
        g, c, A = Jf[0], F[1:], Jf[1:]
        # Hessian of the Lagrangian: objective (controls) + constraint curvature in s1
        hd = np.zeros(n)
        hd[2 * N:] = udp.w
        d2 = udp._d2a(x[:N])
        l2 = lam[4 + (N - 1):]  # multipliers of the s2-dynamics rows
        hh = 0.5 * udp.h
        curv = np.zeros(N)
        curv[:-1] += -hh * d2[:-1] * l2
        curv[1:] += -hh * d2[1:] * l2
        hd[:N] += curv
        H = sp.diags(hd + 1e-300)
        # fixed variables become extra equality rows  e_i' dx = bound - x_i
        idx = np.nonzero(fixed)[0]
        E = sp.csr_matrix((np.ones(idx.size), (np.arange(idx.size), idx)), shape=(idx.size, n))
        target = np.where(x[idx] <= 0.5 * (lb[idx] + ub[idx]), lb[idx], ub[idx])
        Jall = sp.vstack([sp.csr_matrix(A), E]).tocsc()
        dx, mult = _kkt_solve(H, Jall, -g, np.concatenate([-c, target - x[idx]]))
        lam_new, mu = -mult[: udp.nec], -mult[udp.nec:]
        x_new = x + dx
        changed = False
        viol = (x_new < lb - 1e-12) | (x_new > ub + 1e-12)
        if np.any(viol & ~fixed):
            fixed |= viol
            changed = True
        # release bounds whose multiplier has the wrong sign (mu = dL/dx_i at the bound)
        at_lb = x_new[idx] <= lb[idx] + 1e-12
        wrong = np.where(at_lb, mu < -1e-12, mu > 1e-12)
        if np.any(wrong) and not changed:
            fixed[idx[wrong]] = False
            changed = True
        x = np.clip(x_new, lb, ub)
        lam = lam_new
        if not changed and np.linalg.norm(dx, np.inf) < 1e-13:
            break
    F = udp.fitness(x)
    viol = np.max(np.abs(F[1:]))
    if viol > 1e-9:
        raise RuntimeError(f"{udp.get_name()}: optimum computation did not converge (violation {viol:.2e})")
    return float(F[0]), x


_FSTAR_CACHE: dict = {}


# ------------------------------------------------------------------------------------------
# cases
# ------------------------------------------------------------------------------------------
@dataclass
class Case:
    pid: str
    family: str
    n: int
    nec: int
    nic: int
    has_user_gradient: bool
    make_udp: Callable[[bool], object]       # with_gradient -> UDP
    f_star_fn: Callable[[], float]
    x0: np.ndarray
    max_iterations: int = 150
    notes: str = ""

    @property
    def f_star(self) -> float:
        if self.pid not in _FSTAR_CACHE:
            _FSTAR_CACHE[self.pid] = float(self.f_star_fn())
        return _FSTAR_CACHE[self.pid]

    def bounds(self):
        lb, ub = pygmo.problem(self.make_udp(False)).get_bounds()
        return np.asarray(lb, float), np.asarray(ub, float)

    def start(self, seed: int) -> np.ndarray:
        """Seed 0: the standard start (clipped into the box); seed k > 0: a random start, each
        variable moved uniformly by up to half of max(1, |x0_i|) (for the transcriptions: up to
        0.3 on the states, 1 on the controls), then clipped into the box."""
        lb, ub = self.bounds()
        x0 = np.asarray(self.x0, dtype=float)
        if seed > 0:
            rng = np.random.default_rng(1000 + seed)
            if self.family in ("dint", "pend"):
                N = self.n // 3
                scale = np.concatenate([np.full(2 * N, 0.3), np.full(N, 1.0)])
            else:
                scale = 0.5 * np.maximum(1.0, np.abs(x0))
            x0 = x0 + rng.uniform(-1.0, 1.0, x0.size) * scale
        return np.clip(x0, lb, ub)


CEC2006_SMOOTH = (1, 4, 6, 7, 9, 10, 18, 19, 24)   # inequality-only, smooth members
TRANSCRIPTION_NODES = (17, 34, 67, 167, 333)        # nx = 51, 102, 201, 501, 999
LUKSAN_DIMS = (10, 30)


def _pg_udp(udp, with_gradient: bool):
    return udp if with_gradient else _NoGradient(pygmo.problem(udp))


def make_case(pid: str) -> Case:
    if pid.startswith("hs"):
        cls = hs_problems._REGISTRY[pid]
        p = cls()
        return Case(pid, "hs", p.n, p.nec, p.nic, True,
                    lambda g, pid=pid: hs_problems.get_problem(pid, with_gradient=g),
                    lambda p=p: p.f_star, np.asarray(p.x0, float), notes=p.notes)
    if pid == "pg_hs71":
        udp = pygmo.hock_schittkowski_71()
        return Case(pid, "pygmo", 4, 1, 1, True,
                    lambda g: _pg_udp(pygmo.hock_schittkowski_71(), g),
                    lambda: 17.0140172891519, np.array([1.0, 5.0, 5.0, 1.0]))
    if pid.startswith("pg_lv1_"):
        dim = int(pid.rsplit("_", 1)[1])
        x0 = np.where(np.arange(dim) % 2 == 0, -1.2, 1.0)
        return Case(pid, "pygmo", dim, dim - 2, 0, True, lambda g, dim=dim: _pg_udp(pygmo.luksan_vlcek1(dim), g),
                    lambda: 0.0, x0)
    if pid.startswith("pg_cec06_g"):
        k = int(pid[len("pg_cec06_g"):])
        udp = pygmo.cec2006(k)
        prob = pygmo.problem(udp)
        lb, ub = (np.asarray(b) for b in prob.get_bounds())
        f_star = float(prob.fitness(udp.best_known())[0])
        return Case(pid, "pygmo", prob.get_nx(), prob.get_nec(), prob.get_nic(), False,
                    lambda g, k=k: pygmo.cec2006(k), lambda f=f_star: f, 0.5 * (lb + ub),
                    notes="no user gradient; start: centre of the box; f_star: pygmo best_known()")
    for prefix, cls in (("dint_", DoubleIntegrator), ("pend_", Pendulum)):
        if pid.startswith(prefix):
            N = int(pid[len(prefix):])
            udp = cls(N)

            def make(g, cls=cls, N=N):
                u = cls(N)
                return u if g else _NoGradient(u)

            return Case(pid, prefix[:-1], udp.n, udp.nec, 0, True, make,
                        lambda udp=udp: _transcription_optimum(udp)[0], udp.standard_start(),
                        max_iterations=300)
    raise KeyError(f"unknown problem id {pid!r}")


def all_problem_ids(quick: bool = False) -> List[str]:
    hs = list(hs_problems.PROBLEM_NAMES)
    pg = ["pg_hs71"] + [f"pg_lv1_{d}" for d in LUKSAN_DIMS] + [f"pg_cec06_g{k}" for k in CEC2006_SMOOTH]
    nodes = TRANSCRIPTION_NODES
    if quick:
        hs = hs[::2]   # every second HS problem
        pg = ["pg_hs71", "pg_lv1_10", "pg_cec06_g4", "pg_cec06_g6", "pg_cec06_g9"]
        nodes = (17, 67, 167)
    tr = [f"{fam}_{N}" for fam in ("dint", "pend") for N in nodes]
    return hs + pg + tr


def make_udp(pid: str, with_gradient: bool):
    """UDP for the worker (no f_star computation)."""
    return make_case(pid).make_udp(with_gradient)
