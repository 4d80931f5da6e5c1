"""Micro-benchmark problems and their measurement (shared by overhead.py and the reference worker).

Kinds:
  fd100_box   nx = 100, f = sum (x-1)^2, box [-10, 10] (the optimizer turns it into 200 bound
              rows), no gradient: finite differences.  Overhead per fitness evaluation.
  fd100_free  the same with infinite bounds (no bound rows).
  lineq800    nx = 800, f = sum w_i (x_i-1)^2 (w from 1 to 10), 400 dense linear equalities,
              no bounds, user gradient.  Time per iteration.
  box800      nx = 800, f = sum w_i (x_i-c_i)^2 with c = +-2 alternating, finite box [-1, 1] on
              every variable (bounds active at the optimum), user gradient.  Time per iteration.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pygmo


class SumSquares:
    def __init__(self, n: int = 100, bounded: bool = True) -> None:
        self.n = n
        self.bounded = bounded

    def fitness(self, x):
        d = np.asarray(x) - 1.0
        return [float(d @ d)]

    def get_bounds(self):
        b = 10.0 if self.bounded else np.inf
        return [-b] * self.n, [b] * self.n


class LinearEqualities:
    def __init__(self, n: int = 800, m: int = 400, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.n, self.m = n, m
        self.A = rng.standard_normal((m, n)) / np.sqrt(n)
        self.b = self.A @ rng.uniform(-1, 1, n)
        self.w = np.linspace(1.0, 10.0, n)

    def fitness(self, x):
        x = np.asarray(x)
        d = x - 1.0
        return np.concatenate([[float(self.w @ (d * d))], self.A @ x - self.b])

    def gradient(self, x):
        x = np.asarray(x)
        return np.concatenate([2.0 * self.w * (x - 1.0), self.A.ravel()])

    def get_bounds(self):
        return [-np.inf] * self.n, [np.inf] * self.n

    def get_nec(self):
        return self.m


class BoxQuadratic:
    def __init__(self, n: int = 800) -> None:
        self.n = n
        self.c = np.where(np.arange(n) % 2 == 0, 2.0, -2.0)
        self.w = np.linspace(1.0, 10.0, n)

    def fitness(self, x):
        d = np.asarray(x) - self.c
        return [float(self.w @ (d * d))]

    def gradient(self, x):
        return 2.0 * self.w * (np.asarray(x) - self.c)

    def get_bounds(self):
        return [-1.0] * self.n, [1.0] * self.n


KINDS = {
    "fd100_box": (lambda: SumSquares(100, True), 150),
    "fd100_free": (lambda: SumSquares(100, False), 150),
    "lineq800": (lambda: LinearEqualities(800, 400), 30),
    "box800": (lambda: BoxQuadratic(800), 30),
}


def parse_iterations(extra: str):
    """The iteration count from ``get_extra_info()`` ("iterations = N" on its own line), or None
    (the reference does not report it)."""
    m = re.search(r"^\s*iterations\s*=\s*(\d+)\s*$", extra, re.MULTILINE)
    return int(m.group(1)) if m else None


def _own_cost(prob: pygmo.problem, x: np.ndarray, gradient: bool, reps: int) -> float:
    call = prob.gradient if gradient else prob.fitness
    call(x)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            call(x)
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def measure(make_algo, req: dict) -> dict:
    """Run ``make_algo(max_iterations=...)`` on the micro-benchmark ``req["kind"]``,
    ``req["repeats"]`` times; report the fastest run and the problem's own costs."""
    kind = req["kind"]
    make_udp, max_it = KINDS[kind]
    udp = make_udp()
    prob = pygmo.problem(udp)
    if prob.get_nc():
        prob.c_tol = [1e-6] * prob.get_nc()
    n = prob.get_nx()
    x0 = np.zeros(n)
    fit_cost = _own_cost(prob, x0, False, 2000 if n <= 100 else 200)
    grad_cost = _own_cost(prob, x0, True, 200) if prob.has_gradient() else 0.0
    best = None
    for _ in range(int(req.get("repeats", 3))):
        pop = pygmo.population(prob)
        pop.push_back(x0)
        f_before = pop.problem.get_fevals()
        g_before = pop.problem.get_gevals()
        algo = pygmo.algorithm(make_algo(max_iterations=max_it))
        t0 = time.perf_counter()
        pop = algo.evolve(pop)
        wall = time.perf_counter() - t0
        fe = pop.problem.get_fevals() - f_before
        ge = pop.problem.get_gevals() - g_before
        it = parse_iterations(algo.get_extra_info())
        if best is None or wall < best["wall"]:
            best = {"wall": wall, "fevals": fe, "gevals": ge, "iterations": it,
                    "f": float(pop.get_f()[0][0])}
    best.update({"kind": kind, "nx": n, "fitness_cost": fit_cost, "gradient_cost": grad_cost, "ok": True})
    own = best["fevals"] * fit_cost + best["gevals"] * grad_cost
    best["own_cost"] = own
    best["overhead_per_fevals"] = (best["wall"] - own) / max(1, best["fevals"])
    # without a reported count, one derivative evaluation per iteration
    iters = best["iterations"] or best["gevals"] or None
    best["per_iteration"] = best["wall"] / iters if iters else None
    best["solver_per_iteration"] = (best["wall"] - own) / iters if iters else None
    return best
