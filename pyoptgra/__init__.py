"""pyoptgra: constrained gradient-based optimisation for near-linear problems, as a pygmo algorithm.

>>> import pygmo, pyoptgra
>>> pop = pygmo.population(pygmo.problem(pygmo.hock_schittkowski_71()), 1, seed=1)
>>> pop = pygmo.algorithm(pyoptgra.optgra(max_iterations=150)).evolve(pop)
"""

from importlib.metadata import PackageNotFoundError, version

from .khan import (
    base_khan_function,
    inverse_triangular_wave,
    khan_function_sin,
    khan_function_tanh,
    khan_function_triangle,
    triangular_wave_fourier,
    triangular_wave_fourier_grad,
)
from .optgra import optgra, optimize
from .plotting import plot_history
from .result import ForcedStop, IterationRecord, Result, Status, StopReason
from .sensitivity import SensitivityMatrices, SensitivityState

try:
    __version__ = version("pyoptgra")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "optgra",
    "optimize",
    "Result",
    "plot_history",
    "Status",
    "StopReason",
    "ForcedStop",
    "IterationRecord",
    "SensitivityMatrices",
    "SensitivityState",
    "base_khan_function",
    "khan_function_sin",
    "khan_function_tanh",
    "khan_function_triangle",
    "triangular_wave_fourier",
    "triangular_wave_fourier_grad",
    "inverse_triangular_wave",
    "__version__",
]
