"""The engine keeps no global state and the extension needs no executable stack."""

import pathlib
import re
import shutil
import subprocess

import pytest

import pyoptgra._core

FORTRAN = pathlib.Path(__file__).resolve().parents[1] / "fortran"


def test_no_common_save_or_stop_in_the_engine():
    pattern = re.compile(r"^\s*(common|save)\b|^\s*stop\b", re.IGNORECASE)
    sources = sorted(FORTRAN.glob("*.f90"))
    assert sources
    offending = [f"{p.name}:{i}" for p in sources for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.match(line)]
    assert offending == []


def test_no_initialised_local_variables_which_would_be_saved():
    """In Fortran, `real :: x = 0` inside a procedure is implicitly SAVEd."""
    offending = []
    for path in sorted(FORTRAN.glob("*.f90")):
        in_type = False
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("!")[0].strip().lower()
            if re.match(r"type\s*(,.*)?::", code) or re.match(r"type\s+\w+$", code):
                in_type = True
            elif code.startswith("end type"):
                in_type = False
            elif not in_type and "::" in code and "parameter" not in code and re.search(r"::[^=]*=", code):
                offending.append(f"{path.name}:{i}")
    assert offending == []


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed")
def test_extension_stack_is_not_executable():
    out = subprocess.run(["readelf", "-lW", pyoptgra._core.__file__], capture_output=True, text=True, check=True).stdout
    stack = [line for line in out.splitlines() if "GNU_STACK" in line]
    assert stack and "RWE" not in stack[0]
