"""Convergence plots of a :class:`~pyoptgra.result.Result` (needs matplotlib: ``pip install pyoptgra[plot]``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .result import Result

__all__ = ["plot_history"]


def plot_history(result: Result, axes: Any = None) -> Any:
    """Objective and maximum constraint violation against fitness evaluations, one point per
    iteration.  The violation axis is logarithmic; so is the objective's when it stays positive
    and spans more than two decades.

    Args:
        result: a result with a history (from ``solve`` or ``evolve``).
        axes: two matplotlib axes to draw on; by default a new figure is made.

    Returns:
        The matplotlib figure.
    """
    try:
        import matplotlib

        if axes is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_history needs matplotlib: pip install matplotlib (or pyoptgra[plot])") from exc
    if not result.history:
        raise ValueError("the result has no history to plot (the run made no iteration)")
    evaluations = np.array([r.evaluations for r in result.history])
    objective = np.array([r.objective for r in result.history])
    violation = np.array([r.max_violation for r in result.history])
    if axes is None:
        figure, axes = plt.subplots(2, 1, sharex=True, figsize=(6.4, 5.6))
    else:
        figure = axes[0].figure
    top, bottom = axes
    top.plot(evaluations, objective, "o-")
    top.set_ylabel("objective")
    if np.all(objective > 0) and objective.max() > 100 * objective.min():
        top.set_yscale("log")
    # zero violations cannot be drawn on a log axis: show them at the floor of the plot
    floor = max(violation[violation > 0].min(initial=1e-16) * 1e-2, 1e-16)
    bottom.semilogy(evaluations, np.maximum(violation, floor), "o-", color="tab:red")
    bottom.set_ylabel("max violation")
    bottom.set_xlabel("fitness evaluations")
    top.set_title(f"{result.status.name}: objective {result.objective:.8g}")
    figure.tight_layout()
    return figure
