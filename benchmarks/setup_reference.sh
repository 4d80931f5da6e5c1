#!/usr/bin/env bash
# Create a separate virtual environment holding the reference optimizer, ESA's pyoptgra 1.4.1
# from PyPI, for benchmarks/run.py and benchmarks/overhead.py.  The reference is only ever run
# as a black box, in a subprocess with that environment's python (benchmarks/ref_worker.py);
# it is never imported by this project's package or its tests.
#
#   benchmarks/setup_reference.sh            # -> benchmarks/.venv-reference
#   REF_VENV=/some/dir benchmarks/setup_reference.sh
#
# Exit status 0 when the reference is importable afterwards, 1 otherwise (the runners then say
# so and skip the reference).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
REF_VENV="${REF_VENV:-$HERE/.venv-reference}"
PYTHON="${PYTHON:-python3}"
REF_VERSION="${REF_VERSION:-1.4.1}"
# import checks run from / so that a pyoptgra/ source folder in the current directory (the
# repository root) is not what gets imported
REF_VENV="$(realpath -m "$REF_VENV")"
cd /

if [ -x "$REF_VENV/bin/python" ] && "$REF_VENV/bin/python" -c "import pyoptgra, pygmo" 2>/dev/null; then
    echo "reference venv ready: $REF_VENV"
    exit 0
fi
"$PYTHON" -m venv "$REF_VENV" || { echo "setup_reference: cannot create $REF_VENV" >&2; exit 1; }
"$REF_VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1
# --only-binary: the reference must come as a prebuilt wheel for this Python; if PyPI has none,
# say so instead of trying to build it from source.
if ! "$REF_VENV/bin/python" -m pip install --quiet --only-binary=:all: "pyoptgra==$REF_VERSION" numpy pygmo; then
    echo "setup_reference: no installable wheel of pyoptgra==$REF_VERSION for $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi
if ! "$REF_VENV/bin/python" -c "import pyoptgra, pygmo" ; then
    echo "setup_reference: pyoptgra==$REF_VERSION installed but does not import" >&2
    exit 1
fi
echo "reference venv ready: $REF_VENV ($("$REF_VENV/bin/python" -c 'import importlib.metadata as m; print("pyoptgra", m.version("pyoptgra"), "pygmo", m.version("pygmo"), "numpy", m.version("numpy"))'))"
