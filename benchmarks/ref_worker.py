"""Worker that runs the reference optimizer (ESA pyoptgra 1.4.1) as a black box.

Run with the reference environment's python (benchmarks/setup_reference.sh), never imported by
this project.  Protocol: one JSON request per line on stdin, one JSON reply per line on stdout.
The first line written is ``{"ready": true, ...}``.

Requests:
  {"op": "solve", "pid": "hs071", "gradient": true, "x0": [...], "max_iterations": 150}
  {"op": "overhead", "kind": "lineq800" | "box800" | "fd100_box" | ..., "repeats": 3, "budget": 60}
  {"op": "bfe", "kind": "bfe20", "skip_unsupported": true}  (overhead_problems.measure_bfe)
  {"op": "quit"}
Replies to "solve": {"ok": true, "x": [...], "fevals": n, "gevals": n, "wall": s,
  "iterations": n or null, "extra": "..."} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import traceback
import contextlib

import numpy as np
import pygmo
import pyoptgra  # the reference, from this environment's site-packages

import counting
import overhead_problems
import problems


def solve(req: dict) -> dict:
    prob = counting.wrap(problems.make_udp(req["pid"], req["gradient"]), req["gradient"])
    x0 = np.asarray(req["x0"], dtype=float)
    pop = pygmo.population(prob)
    pop.push_back(x0)
    algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=int(req.get("max_iterations", 150))))
    counting.reset(None)
    # the reference prints to C-level stdout: keep our protocol channel clean
    t0 = time.perf_counter()
    pop = algo.evolve(pop)
    wall = time.perf_counter() - t0
    fevals, gevals = counting.COUNTS["f"], counting.COUNTS["g"]
    extra = algo.get_extra_info()
    return {"ok": True, "x": list(map(float, pop.get_x()[0])), "fevals": fevals, "gevals": gevals,
            "fevals_unique": counting.COUNTS["fu"], "gevals_unique": counting.COUNTS["gu"],
            "wall": wall, "iterations": overhead_problems.parse_iterations(extra), "extra": extra[-2000:]}


def _evolve(prob, x0, max_iterations):
    pop = pygmo.population(prob)
    pop.push_back(x0)
    counting.reset(None)  # push_back evaluated x0: not the optimizer's evaluation
    algo = pygmo.algorithm(pyoptgra.optgra(max_iterations=max_iterations))
    pop = algo.evolve(pop)
    return {"x": pop.get_x()[0], "iterations": overhead_problems.parse_iterations(algo.get_extra_info())}


def overhead(req: dict) -> dict:
    return overhead_problems.measure(_evolve, req)


def bfe(req: dict) -> dict:
    supported = overhead_problems.accepts_bfe(pyoptgra.optgra)
    if not supported and req.get("skip_unsupported"):
        return {"ok": True, "kind": req.get("kind", "bfe20"), "supported": False, "speedup": None, "status": "not supported"}
    return overhead_problems.measure_bfe(lambda **kw: pyoptgra.optgra(**kw), supported, req)


def main() -> None:
    # Redirect fd 1 (C-level stdout, where the reference's engine may print) to stderr and keep
    # a private duplicate of the original stdout for the protocol.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import importlib.metadata as md

    proto.write(json.dumps({"ready": True, "pyoptgra": md.version("pyoptgra"), "pygmo": pygmo.__version__,
                            "file": pyoptgra.__file__}) + "\n")
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        try:
            rep = {"solve": solve, "overhead": overhead, "bfe": bfe}[req.get("op", "solve")](req)
        except Exception as exc:  # a failure of the reference on this problem
            rep = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500],
                   "fevals": counting.COUNTS["f"], "gevals": counting.COUNTS["g"],
                   "trace": traceback.format_exc()[-1500:]}
        proto.write(json.dumps(rep) + "\n")


if __name__ == "__main__":
    main()
