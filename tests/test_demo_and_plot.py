"""python -m pyoptgra and plot_history."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import pyoptgra
from pyoptgra.demo import PlanarTransfer


def test_module_demo_prints_the_table_and_the_result_and_saves_the_plot(tmp_path):
    png = tmp_path / "convergence.png"
    out = subprocess.run([sys.executable, "-m", "pyoptgra", str(png)], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)  # not the source tree, whose pyoptgra/ has no compiled core
    assert out.returncode == 0, out.stderr
    assert "fevals:" in out.stdout and "status:        OPTIMAL" in out.stdout
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_problem_is_solved_and_respects_the_keep_out_zone():
    udp = PlanarTransfer()
    z = udp.straight_line_start()
    # the analytic gradient agrees with finite differences
    numeric = np.array([(np.array(udp.fitness(z + h)) - np.array(udp.fitness(z - h))) / 2e-6
                        for h in np.eye(z.size) * 1e-6]).T
    assert np.abs(udp.gradient(z).reshape(numeric.shape) - numeric).max() < 1e-6
    result = pyoptgra.optgra().solve(udp, z)
    assert result.status == pyoptgra.Status.OPTIMAL and result.feasible
    assert result.objective == pytest.approx(20.121212121, rel=1e-7)  # SLSQP gives the same optimum
    states = result.x[: 4 * (udp.segments + 1)].reshape(-1, 4)
    assert np.linalg.norm(states[1:-1, :2] - udp.centre, axis=1).min() >= udp.radius - 1e-6


def test_plot_history_draws_the_history():
    result = pyoptgra.optgra().solve(PlanarTransfer(), PlanarTransfer().straight_line_start())
    figure = pyoptgra.plot_history(result)
    top, bottom = figure.axes
    assert np.array_equal(top.lines[0].get_xdata(), [r.evaluations for r in result.history])
    assert np.array_equal(top.lines[0].get_ydata(), [r.objective for r in result.history])
    assert bottom.get_yscale() == "log"
    empty = pyoptgra.Result(x=result.x, fitness=result.fitness, status=result.status, feasible=True,
                            max_violation=0.0, iterations=0, evaluations=result.evaluations, elapsed=0.0)
    with pytest.raises(ValueError, match="no history"):
        pyoptgra.plot_history(empty)
