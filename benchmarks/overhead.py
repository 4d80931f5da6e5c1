#!/usr/bin/env python3
"""Micro-benchmark of solver overhead, pyoptgra versus the reference (ESA pyoptgra 1.4.1).

    python benchmarks/overhead.py [--repeats 5] [--kinds fd100_box,lineq800]

Measures (see overhead_problems.py for the problems):
  * fd100_box / fd100_free: solver overhead per fitness evaluation at nx = 100 with finite
    differences, f = sum (x-1)^2, with and without box bounds:
    (wall - evaluations x the fitness's own cost) / evaluations;
  * lineq800: time per iteration, nx = 800, 400 dense linear equalities, user gradient;
  * box800: time per iteration, nx = 800, finite box bounds on every variable, user gradient.
Per-iteration figures are given raw and minus the problem's own fitness/gradient cost.  The
reference does not report its iteration count; it is taken as its gradient evaluations (one
derivative evaluation per iteration, plus one final one).  The best of ``--repeats`` runs is kept.
Writes benchmarks/results/overhead.csv and overhead.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import overhead_problems as OP  # noqa: E402
import solvers as S  # noqa: E402
from run import machine_description  # noqa: E402

FIELDS = ["solver", "kind", "nx", "wall_s", "fevals", "gevals", "iterations", "fitness_cost_us",
          "gradient_cost_us", "overhead_per_feval_us", "per_iteration_ms", "solver_per_iteration_ms", "objective"]

TITLES = {
    "fd100_box": "nx=100, finite differences, box bounds (200 bound rows)",
    "fd100_free": "nx=100, finite differences, no bounds",
    "lineq800": "nx=800, 400 linear equalities, user gradient",
    "box800": "nx=800, box bounds on all variables, user gradient",
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--kinds", default=",".join(OP.KINDS))
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--ref-venv", default=os.environ.get("REF_VENV", S.DEFAULT_REF_VENV))
    ap.add_argument("--timeout", type=float, default=300.0, help="limit for each reference measurement, s")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    os.makedirs(args.out, exist_ok=True)

    import pyoptgra

    results = []
    for kind in kinds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = OP.measure(lambda **kw: pyoptgra.optgra(**kw), {"kind": kind, "repeats": args.repeats})
        r["solver"] = "pyoptgra"
        results.append(r)
        print(f"pyoptgra  {kind:<11} wall {r['wall'] * 1e3:9.2f} ms  fevals {r['fevals']:5d}  gevals {r['gevals']:4d}  "
              f"iterations {r['iterations']}", flush=True)

    note = ""
    if not args.no_reference:
        if not os.path.exists(os.path.join(args.ref_venv, "bin", "python")):
            subprocess.call(["bash", os.path.join(HERE, "setup_reference.sh")], env=dict(os.environ, REF_VENV=args.ref_venv))
        ref = S.RefWorker(args.ref_venv, log_path=os.path.join(args.out, "reference_worker.log"))
        if not ref.available():
            note = "reference SKIPPED: pyoptgra==1.4.1 could not be installed (benchmarks/setup_reference.sh failed)"
            print(note)
        else:
            for kind in kinds:
                rep = ref.request({"op": "overhead", "kind": kind, "repeats": args.repeats}, args.timeout)
                if not rep.get("ok"):
                    print(f"reference {kind}: {rep.get('error')}", flush=True)
                    continue
                rep["solver"] = "reference"
                results.append(rep)
                print(f"reference {kind:<11} wall {rep['wall'] * 1e3:9.2f} ms  fevals {rep['fevals']:5d}  "
                      f"gevals {rep['gevals']:4d}  iterations {rep['iterations']}", flush=True)
            ref.request({"op": "quit"}, 5.0)
            ref.stop()

    rows = []
    for r in results:
        rows.append({
            "solver": r["solver"], "kind": r["kind"], "nx": r["nx"], "wall_s": f"{r['wall']:.6g}",
            "fevals": r["fevals"], "gevals": r["gevals"], "iterations": r["iterations"] or "",
            "fitness_cost_us": f"{r['fitness_cost'] * 1e6:.3g}", "gradient_cost_us": f"{r['gradient_cost'] * 1e6:.3g}",
            "overhead_per_feval_us": f"{r['overhead_per_fevals'] * 1e6:.4g}",
            "per_iteration_ms": "" if r["per_iteration"] is None else f"{r['per_iteration'] * 1e3:.4g}",
            "solver_per_iteration_ms": "" if r["solver_per_iteration"] is None else f"{r['solver_per_iteration'] * 1e3:.4g}",
            "objective": f"{r['f']:.10g}",
        })
    with open(os.path.join(args.out, "overhead.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)

    lines = ["# Solver overhead: pyoptgra vs the reference\n",
             f"- machine: {machine_description()}; best of {args.repeats} runs; timings noisy (shared 2-core machine)",
             "- overhead per evaluation = (wall - evaluations x the problem's own cost) / fitness evaluations",
             "- reference iterations = its gradient evaluations (it does not report them)",
             "- optimal objectives: fd100 0, lineq800 2606.65537, box800 4400"]
    if note:
        lines.append(f"- {note}")
    lines += ["", "| measure | solver | wall ms | fevals | gevals | iterations | overhead µs / feval | ms / iteration | solver ms / iteration | objective |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for kind in kinds:
        for row in rows:
            if row["kind"] != kind:
                continue
            lines.append(f"| {TITLES[kind]} | {row['solver']} | {float(row['wall_s']) * 1e3:.4g} | {row['fevals']} | "
                         f"{row['gevals']} | {row['iterations'] or ('~' + str(row['gevals']) if row['gevals'] else '–')} | {row['overhead_per_feval_us']} | "
                         f"{row['per_iteration_ms']} | {row['solver_per_iteration_ms']} | {row['objective']} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "overhead.md"), "w") as fh:
        fh.write(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
