"""The target measurements' problems and their measurement (shared by overhead.py and the
reference worker, so both optimizers are measured by the same code).

Kinds (``KINDS``; targets in ``TARGETS``):
  fd100_box   nx = 100, f = sum (x-1)^2, box [-10, 10] (the optimizer turns it into 200 bound
              rows), no gradient: finite differences.  Overhead per fitness evaluation.
  fd100_free  the same with infinite bounds (no bound rows).
  lineq800    nx = 800, f = sum w_i (x_i-1)^2 (w from 1 to 10), 400 dense linear equalities,
              no bounds, user gradient.  Time per iteration.
  box800      nx = 800, f = sum w_i (x_i-c_i)^2 with c = +-2 alternating, finite box [-1, 1] on
              every variable (bounds active at the optimum), user gradient.  Time per iteration.
  dint501     the double-integrator transcription dint_167 of problems.py (nx = 501, linear
              dynamics, quadratic objective, sparse user gradient).  Time to solve.
  pend501     the pendulum transcription pend_167 (nx = 501, mildly nonlinear).  Time to solve.
  bfe20       nx = 20, a fitness costing 5 ms of CPU time, one nonlinear inequality, no gradient:
              wall time serial / wall time with a 2-process ``pygmo.mp_bfe`` given to the
              optimizer (``bfe=`` keyword, when its constructor has one).

Every problem goes through the counted wrappers of counting.py: the evaluation counts are the
calls the problem receives and "the fitness's own time" is the time spent inside those calls.
Overhead per evaluation = (wall - own time of fitness and gradient calls) / fitness evaluations.
"""

from __future__ import annotations

import inspect
import os
import re
import time

import numpy as np
import pygmo

import counting


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


class Expensive:
    """nx = 20, f = sum w_i (x_i - 1)^2 subject to sum x_i^2 <= 10 (active), box [-5, 5], and
    ``cost`` seconds per fitness call.  ``clock="cpu"``: a busy loop on the process's CPU clock,
    so that two worker processes need two free cores, as a real computation would (on a loaded
    machine the speed-up drops with the cores other jobs take); ``clock="sleep"``: a sleep, which
    measures the batching machinery alone.  No gradient."""

    def __init__(self, n: int = 20, cost: float = 0.005, clock: str = "cpu") -> None:
        if clock not in ("cpu", "sleep"):
            raise ValueError(f"clock must be 'cpu' or 'sleep', got {clock!r}")
        self.n = n
        self.cost = cost
        self.clock = clock
        self.w = np.linspace(1.0, 2.0, n)

    def fitness(self, x):
        if self.clock == "sleep":
            time.sleep(self.cost)
        else:
            end = time.process_time() + self.cost
            while time.process_time() < end:
                pass
        x = np.asarray(x, dtype=float)
        d = x - 1.0
        return [float(self.w @ (d * d)), float(x @ x) - 10.0]

    def get_bounds(self):
        return [-5.0] * self.n, [5.0] * self.n

    def get_nic(self):
        return 1


def _transcription(pid):
    def make():
        import problems
        return problems.make_udp(pid, True)
    return make


# kind -> (UDP factory, max_iterations, start point factory or None for zeros)
KINDS = {
    "fd100_box": (lambda: SumSquares(100, True), 150),
    "fd100_free": (lambda: SumSquares(100, False), 150),
    "lineq800": (lambda: LinearEqualities(800, 400), 30),
    "box800": (lambda: BoxQuadratic(800), 30),
    "dint501": (_transcription("dint_167"), 300),
    "pend501": (_transcription("pend_167"), 300),
    "bfe20": (lambda clock="cpu": Expensive(20, 0.005, clock), 150),
    "bfe20_central": (lambda clock="cpu": Expensive(20, 0.005, clock), 150),
}
#: the bfe kinds and the optimizer options of each (pyoptgra's; the reference has no bfe)
BFE_KINDS = {"bfe20": {}, "bfe20_central": {"finite_differences": "central"}}
TRANSCRIPTION_IDS = {"dint501": "dint_167", "pend501": "pend_167"}

#: kind -> (metric key, "<=" or ">=", target, unit scale for display, unit, short title)
TARGETS = {
    "lineq800": ("per_iteration", "<=", 5e-3, 1e3, "ms / iteration", "nx=800, 400 linear equalities: time per iteration"),
    "box800": ("per_iteration", "<=", 3e-3, 1e3, "ms / iteration", "nx=800, box bounds on all variables: time per iteration"),
    "fd100_box": ("overhead_per_fevals", "<=", 12e-6, 1e6, "µs / evaluation", "nx=100, finite differences, box bounds: overhead per evaluation"),
    "fd100_free": ("overhead_per_fevals", "<=", 12e-6, 1e6, "µs / evaluation", "nx=100, finite differences, no bounds: overhead per evaluation"),
    "dint501": ("wall", "<=", 0.1, 1.0, "s to solve", "transcription nx=501 (dint_167, linear dynamics): time to solve"),
    "pend501": ("wall", "<=", 0.1, 1.0, "s to solve", "transcription nx=501 (pend_167, mildly nonlinear): time to solve"),
    "bfe20": ("speedup", ">=", 1.7, 1.0, "× serial / bfe", "5 ms fitness, nx=20, no gradient: speed-up with a 2-process mp_bfe"),
    "bfe20_central": ("speedup", ">=", 1.7, 1.0, "× serial / bfe",
                      "the same, central differences (2n-point stencils throughout)"),
}


def parse_iterations(extra: str):
    """The iteration count from ``get_extra_info()`` ("iterations = N" on its own line), or None
    (the reference does not report it)."""
    m = re.search(r"^\s*iterations\s*=\s*(\d+)\s*$", extra, re.MULTILINE)
    return int(m.group(1)) if m else None


def accepts_bfe(optgra_class) -> bool:
    """Whether the optimizer's constructor takes a ``bfe`` argument."""
    try:
        return "bfe" in inspect.signature(optgra_class).parameters
    except (TypeError, ValueError):
        return False


def make_problem(kind: str, **options) -> pygmo.problem:
    make_udp = KINDS[kind][0]
    udp = make_udp(**options)
    return counting.wrap(udp, pygmo.problem(udp).has_gradient())


def start_point(kind: str, prob: pygmo.problem) -> np.ndarray:
    if kind in TRANSCRIPTION_IDS:
        import problems
        return problems.make_case(TRANSCRIPTION_IDS[kind]).start(0)
    return np.zeros(prob.get_nx())


def _max_violation(prob: pygmo.problem, x, f) -> float:
    f = np.asarray(f, dtype=float)
    nec = prob.get_nec()
    lb, ub = (np.asarray(b, dtype=float) for b in prob.get_bounds())
    parts = [np.abs(f[1:1 + nec]), np.maximum(f[1 + nec:], 0.0), lb - x, x - ub]
    return max([0.0] + [float(np.max(p)) for p in parts if p.size])


def measure(run, req: dict) -> dict:
    """Solve the kind ``req["kind"]`` ``req["repeats"]`` times (fewer once ``req["budget"]``
    seconds are spent) with ``run(prob, x0, max_iterations) -> dict(x, iterations, status,
    engine_fevals, engine_gevals)`` and report the fastest run.

    Counts and own time come from the counted wrapper (counting.COUNTS)."""
    kind = req["kind"]
    max_it = KINDS[kind][1]
    prob = make_problem(kind)
    x0 = start_point(kind, prob)
    budget = float(req.get("budget", 30.0))
    best = None
    spent = 0.0
    for _ in range(max(1, int(req.get("repeats", 3)))):
        counting.reset(None)
        t0 = time.perf_counter()
        out = run(prob, x0, max_it)
        wall = time.perf_counter() - t0
        spent += wall
        if best is None or wall < best["wall"]:
            best = {"wall": wall, "fevals": counting.COUNTS["f"], "gevals": counting.COUNTS["g"],
                    "own_time": counting.COUNTS["tf"] + counting.COUNTS["tg"],
                    "iterations": out.get("iterations"), "status": out.get("status", ""),
                    "engine_fevals": out.get("engine_fevals"), "engine_gevals": out.get("engine_gevals")}
            x = np.asarray(out["x"], dtype=float)
            f = np.asarray(prob.fitness(x), dtype=float)  # after the counts were read
            best.update({"f": float(f[0]), "max_violation": _max_violation(prob, x, f), "x": x.tolist()})
        if spent > budget:
            break
    best.update({"kind": kind, "nx": prob.get_nx(), "ok": True})
    fe = max(1, best["fevals"])
    best["fitness_cost"] = best["own_time"] / fe
    best["overhead_per_fevals"] = (best["wall"] - best["own_time"]) / fe
    # without a reported count, one derivative evaluation per iteration
    iters = best["iterations"] or best["gevals"] or None
    best["iterations_estimated"] = not best["iterations"] and bool(iters)
    best["per_iteration"] = best["wall"] / iters if iters else None
    best["solver_per_iteration"] = (best["wall"] - best["own_time"]) / iters if iters else None
    return best


def measure_bfe(make_algo, supports_bfe: bool, req: dict) -> dict:
    """A bfe kind (``req["kind"]``, bfe20 by default): the same optimizer serially and with ``bfe=pygmo.bfe(pygmo.mp_bfe())`` on a
    2-process pool (started and warmed up before the clock runs), each the fastest of
    ``req["repeats"]`` runs; ``req["clock"]``: the fitness's
    cost as CPU time ("cpu", default) or a sleep ("sleep"), see :class:`Expensive`.  ``make_algo(**kw)`` builds the
    optimizer; with ``supports_bfe`` False only the serial run is made."""
    kind = req.get("kind", "bfe20")
    max_it = KINDS[kind][1]
    clock = req.get("clock", "cpu")
    prob = make_problem(kind, clock=clock)
    x0 = start_point(kind, prob)
    workers = int(req.get("workers", 2))
    out = {"kind": kind, "nx": prob.get_nx(), "ok": True, "supported": supports_bfe, "workers": workers,
           "clock": clock}

    def one(algo_kwargs):
        uda = make_algo(max_iterations=max_it, **algo_kwargs)
        algo = pygmo.algorithm(uda)
        pop = pygmo.population(prob)
        pop.push_back(x0)
        counting.reset(None)  # after push_back's evaluation of x0
        t0 = time.perf_counter()
        pop = algo.evolve(pop)
        wall = time.perf_counter() - t0
        last = getattr(algo.extract(type(uda)), "last_result", None)
        engine = last.evaluations["fitness"] if last is not None else None
        return wall, counting.COUNTS["f"], engine, float(pop.get_f()[0][0])

    repeats = max(1, int(req.get("repeats", 1)))
    # the fastest of repeats serial runs, like every other measurement (one run varies by 10%
    # on a shared machine, which moves the speed-up by as much)
    out["wall_serial"], out["fevals"], out["engine_fevals"], out["f_serial"] = min(
        (one({}) for _ in range(repeats)), key=lambda run: run[0])
    out["gevals"] = 0
    out["load_average"] = os.getloadavg()[0]
    if not supports_bfe:
        out.update(wall=out["wall_serial"], speedup=None, status="not supported")
        return out
    pygmo.mp_bfe.init_pool(workers)
    try:
        if pygmo.mp_bfe.get_pool_size() != workers:
            pygmo.mp_bfe.resize_pool(workers)
        b = pygmo.bfe(pygmo.mp_bfe())
        b(prob, np.tile(x0, 2 * workers))  # warm-up: the workers import everything once
        # the batches run in the workers, whose counters this process does not see
        out["wall"], out["fevals_in_process_bfe"], out["engine_fevals_bfe"], out["f_bfe"] = min(
            (one({"bfe": b}) for _ in range(repeats)), key=lambda run: run[0])
    finally:
        pygmo.mp_bfe.shutdown_pool()
    out["speedup"] = out["wall_serial"] / out["wall"]
    out["status"] = "ok"
    return out
