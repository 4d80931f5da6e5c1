"""Speed-up of parallel finite differences: optgra(bfe=pygmo.bfe(pygmo.mp_bfe())) against serial.

The problem has 20 variables, no gradient, three constraints and a fitness that sleeps 5 ms, as a
stand-in for an expensive simulation.  Without a gradient every linearisation evaluates a
difference stencil (20 forward points, 40 central ones); with ``bfe`` they go to 2 worker
processes at once.
The two runs must reach the same point with the same number of evaluations.

Run:  python benchmarks/bfe_speedup.py [--iterations N] [--repeats R]
Prints a table and writes bfe_speedup.csv next to this file.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import pygmo

import pyoptgra

NX = 20
SLEEP = 0.005
WORKERS = 2


class SlowProblem:
    """min sum_i (x_i - t_i)^2 subject to sum x = 5, sum x_i^2 <= 8, x_0 - x_1 <= 0.1; box [-5, 5].

    Module level, so that mp_bfe's spawned workers can unpickle it."""

    def fitness(self, x):
        time.sleep(SLEEP)
        x = np.asarray(x, dtype=float)
        target = np.linspace(-1.0, 1.5, NX)
        return [float(np.sum((x - target) ** 2)), float(np.sum(x) - 5.0),
                float(np.sum(x**2) - 8.0), float(x[0] - x[1] - 0.1)]

    def get_bounds(self):
        return ([-5.0] * NX, [5.0] * NX)

    def get_nec(self):
        return 1

    def get_nic(self):
        return 2


def solve(bfe, iterations):
    algo = pyoptgra.optgra(max_iterations=iterations, bfe=bfe)
    # The class as imported from this module, not as __main__.SlowProblem: pickled by reference,
    # like a problem of an installed package, instead of by value (code and all) with every point.
    from bfe_speedup import SlowProblem as importable

    problem = pygmo.problem(importable())
    start = time.perf_counter()
    result = algo.solve(problem, np.zeros(NX))
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10, help="optgra max_iterations")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the best time counts")
    args = parser.parse_args()

    pygmo.mp_bfe.init_pool(WORKERS)
    bfe = pygmo.bfe(pygmo.mp_bfe())
    solve(bfe, 1)  # start the workers before timing
    rows = []
    try:
        for name, evaluator in (("serial", None), (f"mp_bfe, {WORKERS} workers", bfe)):
            times, result = [], None
            for _ in range(args.repeats):
                elapsed, result = solve(evaluator, args.iterations)
                times.append(elapsed)
            rows.append((name, min(times), result))
    finally:
        pygmo.mp_bfe.shutdown_pool()

    (_, serial_time, serial), (_, parallel_time, parallel) = rows
    assert np.array_equal(serial.x, parallel.x) and serial.evaluations == parallel.evaluations
    speedup = serial_time / parallel_time
    print(f"nx={NX}, fitness sleeps {SLEEP * 1e3:.0f} ms, {args.iterations} iterations, best of {args.repeats}")
    print(f"{'run':<20}{'wall time [s]':>15}{'evaluations':>13}{'iterations':>12}{'objective':>14}{'speed-up':>10}")
    table = []
    for name, elapsed, result in rows:
        table.append([name, f"{elapsed:.3f}", result.evaluations["fitness"], result.iterations,
                      f"{result.objective:.6g}", f"{serial_time / elapsed:.2f}"])
        print(f"{table[-1][0]:<20}{table[-1][1]:>15}{table[-1][2]:>13}{table[-1][3]:>12}{table[-1][4]:>14}"
              f"{table[-1][5]:>10}")
    path = Path(__file__).with_suffix(".csv")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "wall_time_s", "evaluations", "iterations", "objective", "speedup"])
        writer.writerows(table)
    print(f"speed-up {speedup:.2f}x (target >= 1.7x); written to {path}")


if __name__ == "__main__":
    main()
