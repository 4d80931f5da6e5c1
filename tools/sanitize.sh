#!/usr/bin/env bash
# Build an AddressSanitizer + UndefinedBehaviorSanitizer instrumented copy of pyoptgra in a
# throw-away virtual environment and run the engine tests and runs ended by exceptions under it.
#
#   tools/sanitize.sh                 # the default test selection (a few minutes)
#   tools/sanitize.sh tests/test_x.py # other tests (pytest arguments)
#
# Environment: PYTHON (default python3) makes the venv; KEEP=1 keeps the work directory;
# PIP_ARGS is passed to pip (e.g. an index URL).  Needs gfortran, g++ and the sanitizer runtimes
# (libasan, libubsan: Debian packages libasan8/libubsan1, installed with gcc).
#
# The interpreter is not instrumented, so libasan is preloaded; leak detection is off (the
# interpreter's own allocations at exit would drown everything; tests/test_reliability_memory.py
# measures leaks instead).  Any sanitizer report or Fortran runtime check (-fcheck=all) fails
# the run.  The engine's local variables start as signalling NaN (integers -77777, logicals
# .true.), so that one read before it is set changes the results and fails the tests.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyoptgra-sanitize.XXXXXX")"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/sanitize.log"

if [ "$#" -eq 0 ]; then
  set -- "$ROOT/tests/test_callbacks.py" "$ROOT/tests/test_evolve.py" "$ROOT/tests/test_regression.py" \
    "$ROOT/tests/test_hs_suite.py" "$ROOT/tests/test_khan.py" "$ROOT/tests/test_reliability_errors.py" \
    "$ROOT/tests/test_reliability_concurrency.py" "$ROOT/tests/test_reliability_interrupt.py" \
    "$ROOT/tests/test_reliability_honesty.py" "$ROOT/tests/test_reliability_properties.py" \
    "$ROOT/tests/test_bfe.py" "$ROOT/tests/test_sensitivity.py" "$ROOT/tests/test_result.py"
else
  # the tests run from the work directory: make relative test paths absolute
  args=()
  for arg in "$@"; do
    if [ -e "$arg" ]; then args+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"); else args+=("$arg"); fi
  done
  set -- "${args[@]}"
fi

echo "== work directory $WORK"
"$PYTHON" -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
# shellcheck disable=SC2086
"$PY" -m pip install --quiet ${PIP_ARGS:-} numpy pygmo scipy pytest pytest-timeout hypothesis psutil \
  scikit-build-core pybind11

echo "== building the instrumented extension"
# shellcheck disable=SC2086
"$PY" -m pip install --quiet ${PIP_ARGS:-} --no-build-isolation --no-deps \
  -C cmake.define.OPTGRA_SANITIZE=ON -C cmake.build-type=RelWithDebInfo -C build-dir="$WORK/build" "$ROOT"
CORE="$(ls "$WORK"/venv/lib/python*/site-packages/pyoptgra/_core*.so)"
if ! nm -D "$CORE" | grep __asan_init >/dev/null; then  # not -q: nm would get SIGPIPE
  echo "the extension $CORE is not instrumented" >&2
  exit 2
fi

ASAN_LIB="$(${CXX:-g++} -print-file-name=libasan.so)"
UBSAN_LIB="$(${CXX:-g++} -print-file-name=libubsan.so)"
export LD_PRELOAD="$ASAN_LIB${UBSAN_LIB:+:$UBSAN_LIB}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=99:detect_stack_use_after_return=1:strict_init_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98"
export PYTHONMALLOC=malloc  # let ASan see Python's allocations too
export PYTHONFAULTHANDLER=1

echo "== a run ended by an exception, a NaN and a Ctrl-C"
cd "$WORK"
"$PY" - <<'EOF' 2>&1 | tee -a "$LOG"
import _thread, signal, threading
import numpy as np, pygmo, pyoptgra

# A shell starts background jobs with SIGINT ignored, and then interrupt_main() does nothing.
signal.signal(signal.SIGINT, signal.default_int_handler)

class Boom(Exception):
    pass

class Failing:
    def __init__(self, at, what):
        self.at, self.what, self.calls = at, what, 0
    def fitness(self, x):
        self.calls += 1
        if self.calls == self.at:
            if self.what == "raise":
                raise Boom("boom")
            if self.what == "nan":
                return [np.nan, 0.0]
            _thread.interrupt_main()
        return [float(np.sum((x - 1) ** 2)), float(x[0] + x[1] - 1)]
    def get_bounds(self):
        return ([-5.0] * 3, [5.0] * 3)
    def get_nec(self):
        return 1

for what, error in (("raise", Boom), ("nan", ValueError), ("interrupt", KeyboardInterrupt)):
    for at in (2, 5, 9):
        population = pygmo.population(pygmo.problem(Failing(at, what)))
        population.push_back([0.0, 0.0, 0.0])
        try:
            pyoptgra.optgra().evolve(population)
        except error:
            pass
        else:
            raise SystemExit(f"{what} at {at} did not raise")
population = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()), 1, seed=1)
pyoptgra.optgra().evolve(population)
print("exception runs: clean")
EOF

echo "== pytest $*"
"$PY" -m pytest -q -p no:cacheprovider -W ignore "$@" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}

if grep -qE "ERROR: AddressSanitizer|runtime error:|Fortran runtime error|LeakSanitizer" "$LOG"; then
  echo "== sanitizer reports found (see above)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "== pytest failed with status $status" >&2
  exit "$status"
fi
echo "== clean: no AddressSanitizer, UndefinedBehaviorSanitizer or Fortran runtime-check reports"
