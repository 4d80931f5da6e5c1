"""The solvers of the benchmark, each as ``solve(case, with_gradient, x0, time_limit) -> dict``.

In-process solvers (pyoptgra, pygmo's nlopt SLSQP and ipopt, scipy's SLSQP) are bounded by their
iteration / evaluation limits and by the per-solve deadline checked in every callback
(counting.SolveTimeout).  The reference runs in its own environment through ``RefWorker``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Optional

import numpy as np
import pygmo

import counting

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_REF_VENV = os.path.join(HERE, ".venv-reference")


def _result(status, x=None, fevals=0, gevals=0, wall=float("nan"), iterations=None,
            iter_estimated=False, message="", unique=None, solver_status="", solver_evals=None):
    """``fevals`` / ``gevals``: the calls the problem received (the counted wrappers: the primary
    count, the same for every solver).  ``unique``: (distinct fitness points, distinct gradient
    points); default: the current counters when fevals/gevals are the current counters too.
    ``solver_status``: the solver's own word on how it ended; ``solver_evals``: (fitness, gradient)
    evaluations as the solver reports them, where it does (a cross-check of the counts)."""
    if unique is None:
        unique = (counting.COUNTS["fu"], counting.COUNTS["gu"]) if (fevals, gevals) == (
            counting.COUNTS["f"], counting.COUNTS["g"]) else (fevals, gevals)
    se = solver_evals or ("", "")
    return {"status": status, "x": None if x is None else np.asarray(x, dtype=float), "fevals": int(fevals),
            "gevals": int(gevals), "fevals_unique": int(unique[0]), "gevals_unique": int(unique[1]),
            "wall": float(wall), "iterations": iterations, "iter_estimated": iter_estimated, "message": message,
            "solver_status": solver_status, "solver_fevals": se[0], "solver_gevals": se[1]}


def _run_pygmo(uda, case, with_gradient, x0, time_limit, fd=False, status_of=None):
    prob = counting.wrap(case.make_udp(with_gradient), with_gradient, fd_if_no_gradient=fd)
    pop = pygmo.population(prob)
    pop.push_back(x0)
    algo = pygmo.algorithm(uda)
    counting.reset(time_limit)
    t0 = time.perf_counter()
    try:
        pop = algo.evolve(pop)
    except counting.SolveTimeout:
        return _result("timeout", None, counting.COUNTS["f"], counting.COUNTS["g"], time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - any solver failure is a benchmark outcome
        if "per-solve time limit" in str(exc):
            return _result("timeout", None, counting.COUNTS["f"], counting.COUNTS["g"], time.perf_counter() - t0)
        return _result("error", None, counting.COUNTS["f"], counting.COUNTS["g"], time.perf_counter() - t0,
                       message=f"{type(exc).__name__}: {str(exc).strip()[:300]}")
    finally:
        counting.disarm()
    wall = time.perf_counter() - t0
    return _result("ok", pop.get_x()[0], counting.COUNTS["f"], counting.COUNTS["g"], wall,
                   solver_status=status_of(algo) if status_of else "")


# ------------------------------------------------------------------------------ pyoptgra
def solve_pyoptgra(case, with_gradient, x0, time_limit):
    """``evolve`` of a population holding the evaluated start, as for pygmo's own solvers (their
    counts start after ``push_back`` too); the run's :class:`pyoptgra.Result` (``last_result``)
    gives the status, the iterations and the engine's own evaluation counts (cross-checked
    against the counted wrapper's, which stay the reported counts); pyoptgra does its own finite
    differences (its default, adaptive ones) when there is no gradient."""
    import pyoptgra

    pop = pygmo.population(counting.wrap(case.make_udp(with_gradient), with_gradient))
    pop.push_back(x0)
    uda = pyoptgra.optgra(max_iterations=case.max_iterations)
    algo = pygmo.algorithm(uda)
    counting.reset(time_limit)
    t0 = time.perf_counter()
    res, status, message = None, "ok", ""
    try:
        algo.evolve(pop)
        res = algo.extract(pyoptgra.optgra).last_result
    except counting.SolveTimeout:
        status = "timeout"
    except Exception as exc:  # noqa: BLE001 - any solver failure is a benchmark outcome
        if "per-solve time limit" in str(exc):  # the timeout, as pygmo passed it on
            status = "timeout"
        else:
            status, message = "error", f"{type(exc).__name__}: {str(exc).strip()[:300]}"
    finally:
        counting.disarm()
    wall = time.perf_counter() - t0
    fevals, gevals = counting.COUNTS["f"], counting.COUNTS["g"]
    # after an exception: the best point so far
    last = res if res is not None else algo.extract(pyoptgra.optgra).last_result
    if last is None:
        return _result(status, None, fevals, gevals, wall, message=message)
    reported = (last.evaluations["fitness"], last.evaluations["gradient"])
    if status == "ok" and reported != (fevals, gevals):
        message = f"engine reports {reported[0]} fitness / {reported[1]} gradient evaluations; problem received {fevals} / {gevals}"
    elif status == "ok" and last.status != pyoptgra.Status.OPTIMAL:
        message = last.message
    return _result(status, last.x if status == "ok" else None, fevals, gevals, wall, int(last.iterations),
                   message=message, solver_status=last.status.name, solver_evals=reported)


# ------------------------------------------------------------------------------ nlopt / ipopt
def solve_nlopt_slsqp(case, with_gradient, x0, time_limit):
    uda = pygmo.nlopt("slsqp")
    uda.ftol_rel = 1e-12
    uda.xtol_rel = 1e-10
    uda.maxeval = 3000
    return _run_pygmo(uda, case, with_gradient, x0, time_limit, fd=not with_gradient,
                      status_of=lambda a: str(a.extract(pygmo.nlopt).get_last_opt_result()))


def ipopt_available() -> bool:
    return hasattr(pygmo, "ipopt")


def solve_ipopt(case, with_gradient, x0, time_limit):
    uda = pygmo.ipopt()
    uda.set_integer_option("print_level", 0)
    uda.set_string_option("sb", "yes")
    uda.set_numeric_option("tol", 1e-9)
    uda.set_numeric_option("constr_viol_tol", 1e-7)
    uda.set_integer_option("max_iter", 3000)
    uda.set_string_option("hessian_approximation", "limited-memory")
    return _run_pygmo(uda, case, with_gradient, x0, time_limit, fd=not with_gradient,
                      status_of=lambda a: str(a.extract(pygmo.ipopt).get_last_opt_result()))


# ------------------------------------------------------------------------------ scipy
def solve_scipy_slsqp(case, with_gradient, x0, time_limit):
    from scipy.optimize import minimize

    prob = counting.wrap(case.make_udp(with_gradient), with_gradient, fd_if_no_gradient=not with_gradient)
    n, nec = prob.get_nx(), prob.get_nec()
    lb, ub = (np.asarray(b, dtype=float) for b in prob.get_bounds())
    if prob.has_gradient_sparsity() and with_gradient:
        sp = np.asarray(prob.gradient_sparsity(), dtype=np.intp).reshape(-1, 2)
    else:
        sp = None
    cache = {"fx": None, "f": None, "gx": None, "g": None}

    def fit(x):
        if cache["fx"] is None or not np.array_equal(x, cache["fx"]):
            cache["fx"], cache["f"] = np.array(x), prob.fitness(x)
        return cache["f"]

    def jac(x):
        if cache["gx"] is None or not np.array_equal(x, cache["gx"]):
            if not with_gradient:
                fit(x)  # lets the FD wrapper reuse f(x)
            g = np.asarray(prob.gradient(x))
            if sp is not None:
                J = np.zeros((prob.get_nf(), n))
                J[sp[:, 0], sp[:, 1]] = g
            else:
                J = g.reshape(prob.get_nf(), n)
            cache["gx"], cache["g"] = np.array(x), J
        return cache["g"]

    cons = []
    if nec:
        cons.append({"type": "eq", "fun": lambda x: fit(x)[1:1 + nec], "jac": lambda x: jac(x)[1:1 + nec]})
    if prob.get_nic():
        cons.append({"type": "ineq", "fun": lambda x: -fit(x)[1 + nec:], "jac": lambda x: -jac(x)[1 + nec:]})
    bounds = [(None if not np.isfinite(l) else l, None if not np.isfinite(u) else u) for l, u in zip(lb, ub)]
    counting.reset(time_limit)
    t0 = time.perf_counter()
    try:
        res = minimize(lambda x: fit(x)[0], x0, jac=lambda x: jac(x)[0], method="SLSQP", bounds=bounds,
                       constraints=cons, options={"maxiter": 500, "ftol": 1e-12})
    except counting.SolveTimeout:
        return _result("timeout", None, counting.COUNTS["f"], counting.COUNTS["g"], time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001
        return _result("error", None, counting.COUNTS["f"], counting.COUNTS["g"], time.perf_counter() - t0,
                       message=f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        counting.disarm()
    wall = time.perf_counter() - t0
    return _result("ok", res.x, counting.COUNTS["f"], counting.COUNTS["g"], wall, int(res.nit),
                   message=str(res.message)[:100], solver_status=str(res.status),
                   solver_evals=(int(res.nfev), int(getattr(res, "njev", 0) or 0)))


# ------------------------------------------------------------------------------ reference
class RefWorker:
    """The reference optimizer in its own environment, one persistent subprocess, restarted after
    a timeout or a crash."""

    def __init__(self, venv: str = DEFAULT_REF_VENV, log_path: Optional[str] = None) -> None:
        self.python = os.path.join(venv, "bin", "python")
        self.log_path = log_path or os.devnull
        self.proc: Optional[subprocess.Popen] = None
        self.info: dict = {}
        self._buf = b""

    def available(self) -> bool:
        return os.path.exists(self.python)

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        env = dict(os.environ, PYTHONPATH="", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([self.python, os.path.join(HERE, "ref_worker.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, cwd=HERE, env=env)
        self._buf = b""
        line = self._readline(120.0)
        if line is None:
            self.stop()
            raise RuntimeError("the reference worker did not start (see the worker log)")
        self.info = json.loads(line)

    def _readline(self, timeout: float) -> Optional[str]:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:  # the worker died
                    return ""
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def request(self, req: dict, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        line = self._readline(timeout)
        if line is None:
            self.stop()
            return {"ok": False, "timeout": True, "error": f"no answer within {timeout:.0f} s"}
        if line == "":
            rc = self.proc.wait()
            self.proc = None
            return {"ok": False, "error": f"the reference worker died (exit status {rc})"}
        return json.loads(line)

    def solve(self, case, with_gradient, x0, time_limit):
        rep = self.request({"op": "solve", "pid": case.pid, "gradient": bool(with_gradient),
                            "x0": [float(v) for v in x0], "max_iterations": case.max_iterations},
                           time_limit + 5.0)
        if rep.get("ok"):
            its, est = rep.get("iterations"), False
            if its is None and with_gradient and rep["gevals"]:
                # the reference does not report its iterations: one derivative evaluation each,
                # plus one at the end for reporting (SPEC 3.8)
                its, est = max(1, rep["gevals"] - 1), True
            return _result("ok", rep["x"], rep["fevals"], rep["gevals"], rep["wall"], its, est,
                           unique=(rep.get("fevals_unique", rep["fevals"]), rep.get("gevals_unique", rep["gevals"])))
        if rep.get("timeout"):
            return _result("timeout", wall=time_limit, message=rep.get("error", ""), unique=(0, 0))
        return _result("error", None, rep.get("fevals", 0), rep.get("gevals", 0), message=rep.get("error", ""),
                       unique=(rep.get("fevals", 0), rep.get("gevals", 0)))


SOLVERS = {
    "pyoptgra": solve_pyoptgra,
    "reference": None,  # RefWorker.solve
    "nlopt_slsqp": solve_nlopt_slsqp,
    "ipopt": solve_ipopt,
    "scipy_slsqp": solve_scipy_slsqp,
}
