#!/usr/bin/env python3
"""Target measurements: pyoptgra against its performance targets, the reference (ESA pyoptgra
1.4.1) measured the same way.

    python benchmarks/overhead.py [--quick] [--repeats 5] [--kinds lineq800,box800,...]

(``run.py`` runs them too, after the problem set, and puts the targets table at the top of its
summary.)  Measurements (see overhead_problems.py for the problems):

  lineq800    time per iteration, nx = 800, 400 dense linear equalities, user gradient   <= 5 ms
  box800      time per iteration, nx = 800, finite box bounds on every variable          <= 3 ms
  fd100_box   overhead per fitness evaluation, nx = 100, finite differences, box bounds  <= 12 µs
  fd100_free  the same without bounds                                                    <= 12 µs
  dint501     time to solve the transcription dint_167 (nx = 501), user gradient          <= 0.1 s
  pend501     time to solve the transcription pend_167 (nx = 501), user gradient          <= 0.1 s
  bfe20       5 ms fitness, nx = 20, no gradient: wall serial / wall with a 2-process
              mp_bfe given as ``optgra(..., bfe=pygmo.bfe(pygmo.mp_bfe()))``                >= 1.7x
              ("not supported" while optgra's constructor has no ``bfe`` argument)
  bfe20_central  the same with ``finite_differences="central"`` (the stencil of 2n points at
              every linearisation, as in the reference; the default adaptive differences
              evaluate n until the end, so the serial part weighs more)                   >= 1.7x

Overhead per evaluation = (wall - time spent inside the problem's fitness and gradient calls) /
fitness evaluations.  Time per iteration = wall / iterations (pyoptgra: ``Result.iterations``;
the reference does not report them: its gradient evaluations, marked ~).  A time-to-solve target
also needs the solution to be right (|f - f*| <= 1e-6 max(1, |f*|), violation <= 1e-6).  The
fastest of ``--repeats`` runs is kept (fewer once ``--budget`` seconds are spent on one
measurement).  Writes ``overhead{tag}.csv`` and ``overhead{tag}.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import overhead_problems as OP  # noqa: E402
import solvers as S  # noqa: E402

FIELDS = ["solver", "kind", "nx", "status", "wall_s", "fevals", "gevals", "engine_fevals", "engine_gevals",
          "iterations", "iterations_estimated", "own_time_ms", "fitness_cost_us", "overhead_per_feval_us",
          "per_iteration_ms", "solver_per_iteration_ms", "objective", "rel_error", "max_violation",
          "wall_serial_s", "speedup", "clock", "load_average", "metric", "target", "value", "meets"]

DEFAULT_KINDS = ["lineq800", "box800", "fd100_box", "fd100_free", "dint501", "pend501", "bfe20", "bfe20_central"]


def _pyoptgra_run(prob, x0, max_iterations):
    import pyoptgra

    res = pyoptgra.optgra(max_iterations=max_iterations).solve(prob, x0)
    return {"x": res.x, "iterations": res.iterations, "status": res.status.name,
            "engine_fevals": res.evaluations["fitness"], "engine_gevals": res.evaluations["gradient"]}


def _f_star(kind):
    if kind in OP.TRANSCRIPTION_IDS:
        import problems
        return problems.make_case(OP.TRANSCRIPTION_IDS[kind]).f_star
    return None


def _judge(r: dict) -> None:
    """Add metric, target, value (display units) and meets to a result row."""
    metric, op, target, scale, unit, _ = OP.TARGETS[r["kind"]]
    r["metric"], r["target"] = unit, f"{op} {target * scale:g}"
    v = r.get(metric)
    if metric == "speedup" and v is None:
        r["value"], r["meets"] = "not supported", "–"
        return
    if v is None:
        r["value"], r["meets"] = "", "–"
        return
    r["value"] = f"{v * scale:.4g}"
    ok = v <= target if op == "<=" else v >= target
    if r["kind"] in OP.TRANSCRIPTION_IDS:
        ok = ok and r.get("solved", False)
    r["meets"] = "yes" if ok else "no"


def run_targets(kinds, repeats=5, budget=60.0, ref_venv=S.DEFAULT_REF_VENV, no_reference=False,
                timeout=300.0, log_dir=None, verbose=True, bfe_clock="cpu"):
    """Measure ``kinds`` for pyoptgra (in this process) and the reference (its worker).
    Returns (results, notes)."""
    import pyoptgra

    def say(msg):
        if verbose:
            print(msg, flush=True)

    results, notes = [], []
    for kind in kinds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind in OP.BFE_KINDS:
                r = OP.measure_bfe(lambda **kw: pyoptgra.optgra(**OP.BFE_KINDS[kind], **kw),
                                   OP.accepts_bfe(pyoptgra.optgra),
                                   {"kind": kind, "repeats": repeats, "clock": bfe_clock})
            else:
                r = OP.measure(_pyoptgra_run, {"kind": kind, "repeats": repeats, "budget": budget})
        r["solver"] = "pyoptgra"
        results.append(r)
        say(f"pyoptgra  {kind:<10} {_line(r)}")

    if not no_reference:
        if not os.path.exists(os.path.join(ref_venv, "bin", "python")):
            subprocess.call(["bash", os.path.join(HERE, "setup_reference.sh")], env=dict(os.environ, REF_VENV=ref_venv))
        ref = S.RefWorker(ref_venv, log_path=os.path.join(log_dir or HERE, "reference_worker.log"))
        if not ref.available():
            notes.append("reference SKIPPED: pyoptgra==1.4.1 could not be installed (benchmarks/setup_reference.sh failed)")
            say(notes[-1])
        else:
            for kind in kinds:
                op = "bfe" if kind in OP.BFE_KINDS else "overhead"
                rep = ref.request({"op": op, "kind": kind, "repeats": repeats, "budget": budget,
                                   "skip_unsupported": True, "clock": bfe_clock}, timeout)
                if not rep.get("ok"):
                    rep = {"kind": kind, "ok": False, "status": "timeout" if rep.get("timeout") else "error",
                           "error": rep.get("error", "")}
                rep["solver"] = "reference"
                results.append(rep)
                say(f"reference {kind:<10} {_line(rep)}")
            if ref.proc is not None:
                ref.request({"op": "quit"}, 5.0)
            ref.stop()

    for r in results:
        fs = _f_star(r["kind"])
        if fs is not None and "f" in r:
            r["rel_error"] = abs(r["f"] - fs) / max(1.0, abs(fs))
            r["solved"] = r["rel_error"] <= 1e-6 and r["max_violation"] <= 1e-6
        if r.get("ok", True):
            _judge(r)
    return results, notes


def _line(r):
    if not r.get("ok", True):
        return f"{r['status']}: {r.get('error', '')}"
    if r["kind"] in OP.BFE_KINDS:
        sp = r.get("speedup")
        if "wall_serial" not in r:
            return r.get("status", "")
        return (f"serial {r['wall_serial'] * 1e3:8.1f} ms  fevals {r['fevals']}  "
                + (f"bfe {r['wall'] * 1e3:8.1f} ms  speed-up {sp:.2f}" if sp else "bfe not supported"))
    return (f"wall {r['wall'] * 1e3:9.2f} ms  fevals {r['fevals']:5d}  gevals {r['gevals']:4d}  "
            f"iterations {r['iterations']}  {r.get('status', '')}")


def _fmt(v, fmt):
    return "" if v is None or v == "" else format(v, fmt)


def to_rows(results):
    rows = []
    for r in results:
        row = {k: "" for k in FIELDS}
        row.update(solver=r["solver"], kind=r["kind"], status=r.get("status", ""))
        if not r.get("ok", True):
            rows.append(row)
            continue
        row.update(nx=r.get("nx", ""), wall_s=_fmt(r.get("wall"), ".6g"), fevals=r.get("fevals", ""), gevals=r.get("gevals", ""),
                   engine_fevals=r.get("engine_fevals") if r.get("engine_fevals") is not None else "",
                   engine_gevals=r.get("engine_gevals") if r.get("engine_gevals") is not None else "",
                   metric=r.get("metric", ""), target=r.get("target", ""), value=r.get("value", ""),
                   meets=r.get("meets", ""))
        if r["kind"] in OP.BFE_KINDS:
            row.update(wall_serial_s=_fmt(r.get("wall_serial"), ".6g"), speedup=_fmt(r.get("speedup"), ".4g"),
                       clock=r.get("clock", ""),
                       load_average=_fmt(r.get("load_average"), ".2f"), objective=_fmt(r.get("f_serial"), ".10g"))
        else:
            row.update(iterations=r["iterations"] or (r["gevals"] if r["gevals"] else ""),
                       iterations_estimated=int(bool(r.get("iterations_estimated"))),
                       own_time_ms=_fmt(r["own_time"] * 1e3, ".4g"), fitness_cost_us=_fmt(r["fitness_cost"] * 1e6, ".3g"),
                       overhead_per_feval_us=_fmt(r["overhead_per_fevals"] * 1e6, ".4g"),
                       per_iteration_ms=_fmt(None if r["per_iteration"] is None else r["per_iteration"] * 1e3, ".4g"),
                       solver_per_iteration_ms=_fmt(None if r["solver_per_iteration"] is None else r["solver_per_iteration"] * 1e3, ".4g"),
                       objective=_fmt(r["f"], ".10g"), rel_error=_fmt(r.get("rel_error"), ".3g"),
                       max_violation=_fmt(r["max_violation"], ".3g"))
        rows.append(row)
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _cell(row):
    if row is None:
        return "not run"
    if row["status"] in ("timeout", "error") and not row["value"]:
        return row["status"]
    v = row["value"]
    if v == "not supported":
        return v
    extra = ""
    if row["kind"] in OP.TRANSCRIPTION_IDS and row.get("rel_error") not in ("", None):
        if not (float(row["rel_error"]) <= 1e-6 and float(row["max_violation"] or 0) <= 1e-6):
            extra = " (wrong answer)"
    if row["metric"] == "ms / iteration" and row["iterations"]:
        extra += f" ({'~' if str(row['iterations_estimated']) == '1' else ''}{row['iterations']} it.)"
    if row["kind"] in OP.BFE_KINDS and row["wall_s"]:
        extra += f" ({float(row['wall_serial_s']):.2f} s → {float(row['wall_s']):.2f} s)"
    return f"{v}{extra}"


def targets_table(rows) -> str:
    """The headline table: one line per measurement, pyoptgra against its target, the reference."""
    by = {(r["kind"], r["solver"]): r for r in rows}
    kinds = [k for k in OP.TARGETS if any(r["kind"] == k for r in rows)]
    out = ["| measurement | unit | target | pyoptgra | meets | reference 1.4.1 |", "|---|---|---|---|---|---|"]
    for k in kinds:
        _, op, target, scale, unit, title = OP.TARGETS[k]
        p, ref = by.get((k, "pyoptgra")), by.get((k, "reference"))
        meets = (p or {}).get("meets") or "–"
        out.append(f"| {title} | {unit} | {op.replace('<=', '≤').replace('>=', '≥')} {target * scale:g} | "
                   f"{_cell(p)} | {meets} | {_cell(ref)} |")
    return "\n".join(out)


def details_markdown(rows) -> str:
    out = ["| measure | solver | status | wall ms | fevals | gevals | engine fevals / gevals | iterations | "
           "own time ms | overhead µs / feval | ms / iteration | solver ms / iteration | objective | rel. error |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = list(OP.TARGETS)
    rows = sorted(rows, key=lambda r: (order.index(r["kind"]), r["solver"] != "pyoptgra"))
    for r in rows:
        if r["kind"] in OP.BFE_KINDS:
            continue
        if not r["wall_s"]:
            out.append(f"| {r['kind']} | {r['solver']} | {r['status']} |" + " |" * 11)
            continue
        it = r["iterations"]
        it = f"~{it}" if it and str(r["iterations_estimated"]) == "1" else it
        eng = f"{r['engine_fevals']} / {r['engine_gevals']}" if r["engine_fevals"] != "" else "–"
        out.append(f"| {r['kind']} | {r['solver']} | {r['status']} | {float(r['wall_s']) * 1e3:.4g} | {r['fevals']} | "
                   f"{r['gevals']} | {eng} | {it} | {r['own_time_ms']} | {r['overhead_per_feval_us']} | "
                   f"{r['per_iteration_ms']} | {r['solver_per_iteration_ms']} | {r['objective']} | {r['rel_error'] or '–'} |")
    bfe = [r for r in rows if r["kind"] in OP.BFE_KINDS]
    if bfe:
        out += ["", "| bfe20 | solver | status | serial wall s | fevals (serial) | bfe wall s | speed-up | load average |",
                "|---|---|---|---|---|---|---|---|"]
        for r in bfe:
            scheme = OP.BFE_KINDS[r["kind"]].get("finite_differences", "adaptive")
            out.append(f"| 5 ms fitness ({r['clock'] or 'cpu'}), nx=20, {scheme} differences | {r['solver']} | {r['status']} | {r['wall_serial_s'] or '–'} | "
                       f"{r['fevals'] or '–'} | {r['wall_s'] if r['speedup'] else '–'} | {r['speedup'] or '–'} | "
                       f"{r['load_average'] or '–'} |")
    return "\n".join(out)


def markdown(rows, notes, repeats, machine) -> str:
    lines = ["# Target measurements: pyoptgra vs its targets and the reference\n",
             f"- machine: {machine}; fastest of up to {repeats} runs; timings noisy (shared 2-core machine)",
             "- overhead per evaluation = (wall - time inside the problem's fitness and gradient calls) / fitness evaluations",
             "- ms / iteration = wall / iterations; the reference does not report iterations: ~ its gradient evaluations",
             "- time to solve counts only with the right answer (|f - f*| <= 1e-6 max(1, |f*|), violation <= 1e-6)",
             "- bfe: wall serial / wall with `optgra(..., bfe=pygmo.bfe(pygmo.mp_bfe()))` on a 2-process pool "
             "(\"not supported\": the constructor has no `bfe` argument); the fitness burns 5 ms of CPU time "
             "(`--bfe-clock cpu`) or sleeps 5 ms (`--bfe-clock sleep`), see the bfe table; with CPU time the "
             "speed-up needs two free cores (load average in the table)"]
    lines += [f"- {n}" for n in notes]
    lines += ["", targets_table(rows), "", "## Details", "", details_markdown(rows)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from run import machine_description

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 repeats, 15 s budget per measurement, reference limit 90 s")
    ap.add_argument("--repeats", type=int, default=None, help="runs per measurement, the fastest kept (default 5, --quick 3)")
    ap.add_argument("--budget", type=float, default=None, help="stop repeating a measurement after this many seconds (default 60, --quick 15)")
    ap.add_argument("--kinds", default=",".join(DEFAULT_KINDS))
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--bfe-clock", choices=["cpu", "sleep"], default="cpu",
                    help="bfe20's 5 ms fitness: CPU time (default) or a sleep (the batching machinery alone)")
    ap.add_argument("--ref-venv", default=os.environ.get("REF_VENV", S.DEFAULT_REF_VENV))
    ap.add_argument("--timeout", type=float, default=None, help="limit for each reference measurement, s (default 300, --quick 90)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--tag", default=None, help="file name suffix (default: '_quick' with --quick, else none)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    budget = args.budget or (15.0 if args.quick else 60.0)
    timeout = args.timeout or (90.0 if args.quick else 300.0)
    tag = args.tag if args.tag is not None else ("_quick" if args.quick else "")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in OP.TARGETS]
    if bad:
        raise SystemExit(f"unknown kinds {bad}; choose from {list(OP.TARGETS)}")
    os.makedirs(args.out, exist_ok=True)
    results, notes = run_targets(kinds, repeats, budget, args.ref_venv, args.no_reference, timeout, args.out,
                                 bfe_clock=args.bfe_clock)
    rows = to_rows(results)
    write_csv(rows, os.path.join(args.out, f"overhead{tag}.csv"))
    md = markdown(rows, notes, repeats, machine_description())
    with open(os.path.join(args.out, f"overhead{tag}.md"), "w") as fh:
        fh.write(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
