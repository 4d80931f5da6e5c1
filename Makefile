# Two entry points for a newcomer (see README.md): `make demo` and `make test`.
# Both install what is missing: gfortran from the system package manager, Python packages
# from PyPI into .venv, and build pyoptgra itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := $(shell find fortran cpp_wrapper pyoptgra -type f -not -name '*.pyc') CMakeLists.txt pyproject.toml

.PHONY: demo test setup clean bench

demo: $(VENV)/.built
	@# run outside the source tree, whose pyoptgra/ has no compiled core
	cd $$(mktemp -d) && $(abspath $(PY)) -m pyoptgra $(CURDIR)/pyoptgra_convergence.png

test: $(VENV)/.built
	$(VENV)/bin/pytest

setup: $(VENV)/.built

# Quick benchmark against the reference and other solvers, then the target measurements
# (benchmarks/README.md); writes benchmarks/results/*_quick.*.
bench: $(VENV)/.built
	$(PY) -m pip install --quiet scipy matplotlib
	$(PY) benchmarks/run.py --quick

$(VENV)/.built: $(SOURCES)
	@command -v gfortran >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y gfortran; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet ".[test]"
	@touch $@

clean:
	rm -rf build $(VENV)
