#!/usr/bin/env python3
"""Benchmark runner: solve the problem set with several solvers, write CSV, markdown, plot.

    python benchmarks/run.py --quick                 # about 5 minutes
    python benchmarks/run.py                         # the full set
    python benchmarks/run.py --solvers pyoptgra,reference --problems 'hs0*,dint_*'

Outputs (``--out``, default benchmarks/results): ``runs[_quick].csv`` (one row per problem x start x
gradient mode x solver), ``summary[_quick].md`` and ``profile[_quick].png``; then, unless
``--no-targets`` (or ``--problems`` / ``--solvers`` without pyoptgra are given), the target
measurements of overhead.py: ``overhead[_quick].csv`` / ``.md`` and the summary's Targets table.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as _dt
import fnmatch
import math
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pygmo  # noqa: E402

import problems  # noqa: E402
import solvers as S  # noqa: E402

SUCCESS_VIOLATION = 1e-6
SUCCESS_REL_F = 1e-6
ALL_SOLVERS = ["pyoptgra", "reference", "nlopt_slsqp", "ipopt", "scipy_slsqp"]

FIELDS = ["problem", "family", "n", "nec", "nic", "start", "gradient", "solver", "status", "success",
          "objective", "f_star", "rel_error", "max_violation", "fevals", "gevals", "evals", "fevals_unique",
          "gevals_unique", "evals_unique", "iterations",
          "iter_estimated", "wall_s", "per_iter_ms", "solver_status", "solver_fevals", "solver_gevals", "message"]


def machine_description() -> str:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def check_point(case, x):
    """Objective, relative error and max violation (constraints and bounds) of x, evaluated on the
    raw problem."""
    prob = pygmo.problem(case.make_udp(False))
    x = np.asarray(x, dtype=float)
    f = np.asarray(prob.fitness(x), dtype=float)
    nec = prob.get_nec()
    h, g = f[1:1 + nec], f[1 + nec:]
    lb, ub = (np.asarray(b, dtype=float) for b in prob.get_bounds())
    parts = [np.abs(h), np.maximum(g, 0.0), np.maximum(lb - x, 0.0), np.maximum(x - ub, 0.0)]
    viol = max([0.0] + [float(np.max(p)) for p in parts if p.size])
    if not np.all(np.isfinite(f)):
        viol = math.inf
    fs = case.f_star
    rel = abs(f[0] - fs) / max(1.0, abs(fs))
    return float(f[0]), float(rel), viol


def select_problems(args) -> list:
    ids = problems.all_problem_ids(quick=args.quick)
    if args.problems:
        pats = [p.strip() for p in args.problems.split(",") if p.strip()]
        pool = problems.all_problem_ids(quick=False)
        ids = [p for p in pool if any(fnmatch.fnmatch(p, pat) for pat in pats)]
    return ids


def run(args) -> list:
    names = [s.strip() for s in args.solvers.split(",")] if args.solvers else list(ALL_SOLVERS)
    for s in names:
        if s not in ALL_SOLVERS:
            raise SystemExit(f"unknown solver {s!r}; choose from {ALL_SOLVERS}")
    notes = []
    ref = None
    if "reference" in names:
        ref_ok = os.path.exists(os.path.join(args.ref_venv, "bin", "python"))
        if not ref_ok and not args.no_setup:
            print("setting up the reference environment (benchmarks/setup_reference.sh) ...", flush=True)
            rc = subprocess.call(["bash", os.path.join(HERE, "setup_reference.sh")],
                                 env=dict(os.environ, REF_VENV=args.ref_venv))
            ref_ok = rc == 0
        if ref_ok:
            ref = S.RefWorker(args.ref_venv, log_path=os.path.join(args.out, "reference_worker.log"))
            try:
                ref.start()
                notes.append(f"reference: pyoptgra {ref.info.get('pyoptgra')} (pygmo {ref.info.get('pygmo')}) "
                             f"from {args.ref_venv}, run in a subprocess")
            except Exception as exc:  # noqa: BLE001
                ref_ok = False
                notes.append(f"reference SKIPPED: its worker does not start ({exc})")
        else:
            notes.append("reference SKIPPED: pyoptgra==1.4.1 could not be installed for this Python "
                         "(benchmarks/setup_reference.sh failed)")
        if not ref_ok:
            print(notes[-1], flush=True)
            names.remove("reference")
            ref = None
    if "ipopt" in names and not S.ipopt_available():
        notes.append("ipopt SKIPPED: this pygmo has no ipopt")
        names.remove("ipopt")
    funcs = {s: (ref.solve if s == "reference" else S.SOLVERS[s]) for s in names}

    seeds = [0] + list(range(1, args.starts + 1))
    pids = select_problems(args)
    rows = []
    t_start = time.time()
    for ip, pid in enumerate(pids):
        case = problems.make_case(pid)
        modes = [True, False] if case.has_user_gradient else [False]
        if args.gradient == "user":
            modes = [m for m in modes if m]
        elif args.gradient == "fd":
            modes = [m for m in modes if not m]
        for seed in seeds:
            x0 = case.start(seed)
            for with_gradient in modes:
                line = [f"[{ip + 1}/{len(pids)}] {pid:<14} s{seed} {'grad' if with_gradient else 'fd  '}"]
                for sname in names:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r = funcs[sname](case, with_gradient, x0, args.time_limit)
                    if r["status"] == "ok" and r["wall"] > args.time_limit:
                        r["status"] = "timeout"
                    obj = rel = viol = float("nan")
                    success = False
                    if r["x"] is not None:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            obj, rel, viol = check_point(case, r["x"])
                        success = (r["status"] == "ok" and viol <= SUCCESS_VIOLATION and rel <= SUCCESS_REL_F)
                    its = r["iterations"]
                    rows.append({
                        "problem": pid, "family": case.family, "n": case.n, "nec": case.nec, "nic": case.nic,
                        "start": seed, "gradient": "user" if with_gradient else "fd", "solver": sname,
                        "status": r["status"], "success": int(success), "objective": obj, "f_star": case.f_star,
                        "rel_error": rel, "max_violation": viol, "fevals": r["fevals"], "gevals": r["gevals"],
                        "evals": r["fevals"] + r["gevals"], "fevals_unique": r["fevals_unique"],
                        "gevals_unique": r["gevals_unique"], "evals_unique": r["fevals_unique"] + r["gevals_unique"],
                        "iterations": "" if its is None else its,
                        "iter_estimated": int(bool(r["iter_estimated"])), "wall_s": r["wall"],
                        "per_iter_ms": (1e3 * r["wall"] / its) if its else "", "solver_status": r["solver_status"],
                        "solver_fevals": r["solver_fevals"], "solver_gevals": r["solver_gevals"], "message": r["message"],
                    })
                    mark = "+" if success else ("T" if r["status"] == "timeout" else ("E" if r["status"] == "error" else "-"))
                    line.append(f"{sname}:{mark}{r['fevals'] + r['gevals']}/{r['wall']:.2g}s")
                print("  ".join(line), flush=True)
    if ref is not None:
        ref.request({"op": "quit"}, 5.0) if ref.proc else None
        ref.stop()
    print(f"total {time.time() - t_start:.0f} s", flush=True)
    return rows, names, notes


def write_csv(rows, path):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in r.items()})


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------ reporting
def _key(r):
    return (r["problem"], int(r["start"]), r["gradient"])


def _cases(rows, names):
    """case key -> {solver: row}, for cases on which every solver in names ran."""
    by = {}
    for r in rows:
        by.setdefault(_key(r), {})[r["solver"]] = r
    return {k: v for k, v in by.items() if all(s in v for s in names)}


def _f(v, default=float("nan")):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _med(values):
    values = [v for v in values if v == v]
    return float(np.median(values)) if values else float("nan")


def _pyoptgra_outcome(row: dict) -> str:
    """How a pyoptgra run that missed ended: the harness status when it is not "ok" (timeout,
    error), else pyoptgra's own status, marked "radius-limited" when its message says so."""
    if row["status"] != "ok":
        return row["status"]
    outcome = row.get("solver_status") or "?"
    if "held the run back" in (row.get("message") or ""):
        outcome += ", radius-limited"
    return outcome


def _fmt(v, digits=3):
    if v != v:
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def summary_markdown(rows, names, notes, args, elapsed, targets=None) -> str:
    cases = _cases(rows, names)
    out = []
    out.append(f"# Benchmark results{' (quick set)' if args.quick else ''}\n")
    out.append(f"- generated {_dt.datetime.now().isoformat(timespec='seconds')} by `{args.command}` in {elapsed:.0f} s")
    out.append(f"- machine: {machine_description()}; pygmo {pygmo.__version__}, numpy {np.__version__}")
    out.append("- timings are noisy: 2 cores shared with other jobs; compare orders of magnitude, not percent")
    out.append(f"- {len({k[0] for k in cases})} problems, {len(cases)} cases (problem x start x gradient mode), "
               f"per-solve time limit {args.time_limit:g} s; c_tol = 1e-6 everywhere")
    out.append(f"- success: max violation (constraints and bounds) <= {SUCCESS_VIOLATION:g} and "
               f"|f - f*| <= {SUCCESS_REL_F:g} max(1, |f*|)")
    out += [f"- {n}" for n in notes]
    out.append("")

    if targets:
        import overhead
        out.append("## Targets\n")
        out.append(f"Separate measurements (`benchmarks/overhead.py`, details in `{targets[0]}`): the fastest of "
                   "a few runs each, evaluation counts and the problem's own time from the counted wrappers.\n")
        out.append(overhead.targets_table(targets[1]))
        out.append("")

    # success rates
    out.append("## Success rate\n")
    out.append("| solver | all | user gradient | finite differences | timeouts | errors |")
    out.append("|---|---|---|---|---|---|")
    for s in names:
        rs = [c[s] for c in cases.values()]
        def rate(sub):
            return f"{100 * sum(int(r['success']) for r in sub) / len(sub):.1f}% ({sum(int(r['success']) for r in sub)}/{len(sub)})" if sub else "–"
        out.append(f"| {s} | {rate(rs)} | {rate([r for r in rs if r['gradient'] == 'user'])} | "
                   f"{rate([r for r in rs if r['gradient'] == 'fd'])} | "
                   f"{sum(r['status'] == 'timeout' for r in rs)} | {sum(r['status'] == 'error' for r in rs)} |")
    out.append("")

    # per family
    fams = sorted({c[names[0]]["family"] for c in cases.values()})
    out.append("## Success rate per family and gradient mode\n")
    out.append("| family | mode | cases | " + " | ".join(names) + " |")
    out.append("|---|---|---|" + "---|" * len(names))
    for fam in fams:
        for mode in ("user", "fd"):
            sub = [c for c in cases.values() if c[names[0]]["family"] == fam and c[names[0]]["gradient"] == mode]
            if not sub:
                continue
            cells = [f"{100 * sum(int(c[s]['success']) for c in sub) / len(sub):.0f}%" for s in names]
            out.append(f"| {fam} | {mode} | {len(sub)} | " + " | ".join(cells) + " |")
    out.append("")

    # medians over commonly solved cases
    out.append("## Cost over the cases every solver solves\n")
    out.append("Medians over the cases solved by all solvers of the run. `evals` = fitness + gradient "
               "evaluations the problem receives (in finite-difference mode every stencil point is a fitness "
               "evaluation); `distinct` = the same counting each point once (pygmo's nlopt and ipopt adaptors "
               "ask for the gradient once per objective / constraint block at the same x). "
               "Per-iteration time only where the solver reports iterations "
               "(the reference's are estimated as its gradient evaluations - 1, user-gradient mode only).\n")
    for mode in ("user", "fd"):
        common = [c for c in cases.values() if c[names[0]]["gradient"] == mode and all(int(c[s]["success"]) for s in names)]
        out.append(f"### {'user gradient' if mode == 'user' else 'finite differences'}: {len(common)} common cases\n")
        out.append("| solver | median fevals | median gevals | median evals | median distinct fevals | "
                   "median distinct gevals | median distinct evals | median wall ms | median ms/iteration |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for s in names:
            fe = _med([_f(c[s]["fevals"]) for c in common])
            ge = _med([_f(c[s]["gevals"]) for c in common])
            ev = _med([_f(c[s]["evals"]) for c in common])
            feu = _med([_f(c[s].get("fevals_unique")) for c in common])
            geu = _med([_f(c[s].get("gevals_unique")) for c in common])
            evu = _med([_f(c[s].get("evals_unique")) for c in common])
            wt = _med([1e3 * _f(c[s]["wall_s"]) for c in common])
            pi = _med([_f(c[s]["per_iter_ms"]) for c in common])
            out.append(f"| {s} | {_fmt(fe)} | {_fmt(ge)} | {_fmt(ev)} | {_fmt(feu)} | {_fmt(geu)} | {_fmt(evu)} | "
                       f"{_fmt(wt)} | {_fmt(pi)} |")
        out.append("")

    # transcriptions
    tr = sorted({k for k in cases if cases[k][names[0]]["family"] in ("dint", "pend")},
                key=lambda k: (k[0].split("_")[0], int(k[0].split("_")[1]), k[2], k[1]))
    if tr:
        out.append("## Transcriptions: wall time (s) and outcome per case\n")
        out.append("`+` solved, `-` wrong answer / infeasible, `T` time limit, `E` error.\n")
        out.append("| problem | nx | start | mode | " + " | ".join(names) + " |")
        out.append("|---|---|---|---|" + "---|" * len(names))
        for k in tr:
            c = cases[k]
            cells = []
            for s in names:
                r = c[s]
                mark = "+" if int(r["success"]) else {"timeout": "T", "error": "E"}.get(r["status"], "-")
                cells.append(f"{mark} {_fmt(_f(r['wall_s']))}")
            out.append(f"| {k[0]} | {c[names[0]]['n']} | {k[1]} | {k[2]} | " + " | ".join(cells) + " |")
        out.append("")

    # pyoptgra failures and slow cases
    if "pyoptgra" in names:
        fails = [(k, c) for k, c in cases.items() if not int(c["pyoptgra"]["success"])]
        outcomes = {k: _pyoptgra_outcome(c["pyoptgra"]) for k, c in fails}
        out.append(f"## pyoptgra failures ({len(fails)} of {len(cases)} cases)\n")
        tally = collections.Counter(outcomes.values())
        out.append("By outcome: " + "; ".join(f"{o} {n}" for o, n in tally.most_common()) + ". "
                   "`outcome` is pyoptgra's status (OPTIMAL: it converged, to another point than f*), "
                   "with \"radius-limited\" where its message says that max_distance_per_iteration held "
                   "the run back; `others` lists the solvers of the run that solve the case.\n")
        out.append("| problem | start | mode | outcome | rel. error | max violation | evals | wall s | others |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for k, c in sorted(fails):
            r = c["pyoptgra"]
            others = ",".join(s for s in names if s != "pyoptgra" and int(c[s]["success"])) or "none"
            out.append(f"| {k[0]} | {k[1]} | {k[2]} | {outcomes[k]} | {_fmt(_f(r['rel_error']))} | "
                       f"{_fmt(_f(r['max_violation']))} | {r['evals']} | {_fmt(_f(r['wall_s']))} | {others} |")
        out.append("")
        slow = []
        for k, c in cases.items():
            if not int(c["pyoptgra"]["success"]):
                continue
            others = [s for s in names if s != "pyoptgra" and int(c[s]["success"])]
            if not others:
                continue
            best_e = min(_f(c[s]["evals"]) for s in others)
            best_t = min(_f(c[s]["wall_s"]) for s in others)
            slow.append((k, _f(c["pyoptgra"]["evals"]) / max(best_e, 1), _f(c["pyoptgra"]["wall_s"]) / max(best_t, 1e-9),
                         c["pyoptgra"]["evals"], _f(c["pyoptgra"]["wall_s"])))
        if slow:
            out.append("## pyoptgra's most expensive solved cases (vs the best other solver that solves them)\n")
            out.append("| problem | start | mode | evals ratio | time ratio | pyoptgra evals | pyoptgra wall s |")
            out.append("|---|---|---|---|---|---|---|")
            top = sorted(slow, key=lambda t: -max(t[1], t[2]))[:25]
            for k, re_, rt, ev, wt in top:
                out.append(f"| {k[0]} | {k[1]} | {k[2]} | {re_:.2f} | {rt:.2f} | {ev} | {_fmt(wt)} |")
            out.append("")
    return "\n".join(out) + "\n"


def performance_profile(rows, names, path, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = _cases(rows, names)
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), squeeze=False)
    for j, mode in enumerate(("user", "fd")):
        sub = [c for c in cases.values() if c[names[0]]["gradient"] == mode]
        for i, (metric, label) in enumerate((("evals", "fitness + gradient evaluations"), ("wall_s", "wall time"))):
            ax = axes[i][j]
            if not sub:
                ax.set_visible(False)
                continue
            cost = np.array([[(_f(c[s][metric]) if int(c[s]["success"]) else np.inf) for s in names] for c in sub])
            if metric == "wall_s":
                cost = np.maximum(cost, 1e-5)
            else:
                cost = np.maximum(cost, 1.0)
            best = cost.min(axis=1)
            ok = np.isfinite(best)
            ratios = np.full_like(cost, np.inf)
            ratios[ok] = cost[ok] / best[ok, None]
            finite = ratios[np.isfinite(ratios)]
            tmax = max(2.0, float(finite.max()) * 1.5) if finite.size else 2.0
            taus = np.logspace(0, np.log10(tmax), 400)
            for k, s in enumerate(names):
                rho = [(ratios[:, k] <= t).mean() for t in taus]
                ax.step(taus, rho, where="post", label=f"{s} ({100 * np.isfinite(ratios[:, k]).mean():.0f}%)")
            ax.set_xscale("log", base=2)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel(f"τ (ratio to the best solver, {label})")
            ax.set_ylabel("fraction of cases within τ of the best")
            ax.set_title(f"{'user gradient' if mode == 'user' else 'finite differences'}: {label} ({len(sub)} cases)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Dolan–Moré performance profiles{title}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="quick subset: about half the HS problems, small transcriptions, no random starts")
    ap.add_argument("--solvers", default="", help=f"comma list among {ALL_SOLVERS} (default: all)")
    ap.add_argument("--problems", default="", help="comma list of problem ids or glob patterns (hs0*, dint_*, pg_*)")
    ap.add_argument("--gradient", choices=["both", "user", "fd"], default="both", help="gradient modes to run")
    ap.add_argument("--starts", type=int, default=None, help="number of seeded random starts besides the standard one "
                    "(default: 2, --quick: 0)")
    ap.add_argument("--time-limit", type=float, default=None, help="per-solve wall-clock limit, s (default 20, --quick 10)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--tag", default=None, help="file name suffix (default: '_quick' with --quick, else none)")
    ap.add_argument("--ref-venv", default=os.environ.get("REF_VENV", S.DEFAULT_REF_VENV))
    ap.add_argument("--no-setup", action="store_true", help="do not create the reference environment when missing")
    ap.add_argument("--report-only", action="store_true", help="rebuild summary and plot from the existing CSV")
    ap.add_argument("--merge", default=None, help="with --report-only: a CSV of re-run rows that replace the rows "
                    "with the same problem, start, gradient mode and solver (the merged CSV is written back)")
    ap.add_argument("--note", action="append", default=[], help="extra line for the summary's header (repeatable)")
    ap.add_argument("--no-targets", action="store_true", help="skip the target measurements of overhead.py "
                    "(run after the problem set: overhead{tag}.csv / .md, and the summary's Targets table)")
    ap.add_argument("--bfe-clock", choices=["cpu", "sleep"], default="cpu", help="see overhead.py")
    args = ap.parse_args(argv)
    args.command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.starts is None:
        args.starts = 0 if args.quick else 2
    if args.time_limit is None:
        args.time_limit = 10.0 if args.quick else 20.0
    tag = args.tag if args.tag is not None else ("_quick" if args.quick else "")
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, f"runs{tag}.csv")
    md_path = os.path.join(args.out, f"summary{tag}.md")
    png_path = os.path.join(args.out, f"profile{tag}.png")
    t0 = time.time()
    if args.report_only:
        rows = read_csv(csv_path)
        if args.merge:
            new = read_csv(args.merge)
            index = {(_key(r), r["solver"]): i for i, r in enumerate(rows)}
            for r in new:
                i = index.get((_key(r), r["solver"]))
                if i is None:
                    rows.append(r)
                else:
                    rows[i] = r
            write_csv(rows, csv_path)
        names = [s for s in ALL_SOLVERS if any(r["solver"] == s for r in rows)]
        notes = [f"tables rebuilt from {os.path.basename(csv_path)} (--report-only)"]
    else:
        rows, names, notes = run(args)
        write_csv(rows, csv_path)
        rows = read_csv(csv_path)
    targets = None
    ov_csv, ov_md = os.path.join(args.out, f"overhead{tag}.csv"), os.path.join(args.out, f"overhead{tag}.md")
    if not args.no_targets and not args.report_only and "pyoptgra" in names and not args.problems:
        import overhead
        print("target measurements (overhead.py) ...", flush=True)
        repeats = 3 if args.quick else 5
        t_rows, t_notes = overhead.run_targets(
            overhead.DEFAULT_KINDS, repeats=repeats, budget=15.0 if args.quick else 60.0, ref_venv=args.ref_venv,
            no_reference="reference" not in names, timeout=90.0 if args.quick else 300.0, log_dir=args.out,
            bfe_clock=args.bfe_clock)
        t_rows = overhead.to_rows(t_rows)
        overhead.write_csv(t_rows, ov_csv)
        with open(ov_md, "w") as fh:
            fh.write(overhead.markdown(t_rows, t_notes, repeats, machine_description()))
        targets = (os.path.basename(ov_md), t_rows)
    elif args.report_only and not args.no_targets and os.path.exists(ov_csv):
        import overhead
        targets = (os.path.basename(ov_md), overhead.read_csv(ov_csv))
    notes += args.note
    md = summary_markdown(rows, names, notes, args, time.time() - t0, targets)
    with open(md_path, "w") as fh:
        fh.write(md)
    performance_profile(rows, names, png_path, title=" (quick set)" if args.quick else "")
    print(md)
    print(f"wrote {csv_path}, {md_path}, {png_path}" + (f", {ov_csv}, {ov_md}" if targets and not args.report_only else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
