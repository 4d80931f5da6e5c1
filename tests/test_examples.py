"""The scripts in examples/ run and print what they promise."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script):
    out = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_sensitivity_example_linear_update_matches_reoptimisation():
    error, move = runpy.run_path(str(EXAMPLES / "sensitivity_transfer.py"))["main"]()
    assert move > 1e-4 and error < 1e-3 * move
