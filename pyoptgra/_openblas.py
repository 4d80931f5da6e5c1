"""OpenBLAS for the engine's dense kernels, loaded where the compiled core can find it.

The engine's blocked factorisation of many equality constraints (compact WY Householder
updates, ``z <- z - V (T^T (V^T z))``) calls ``dgemm`` and ``dtrmm`` under the names the
``scipy-openblas32`` package exports (``scipy_dgemm_``, ``scipy_dtrmm_``; 32-bit integers).
``_core`` is linked without the library and resolves those names when it is imported, so the
library must already be in the process's global namespace: this module puts it there.

OpenBLAS chooses its kernels for the CPU at run time and threads large products; set
``OPENBLAS_NUM_THREADS=1`` when many optimisations run side by side.
"""

from __future__ import annotations

import ctypes
import os

import scipy_openblas32


def _load() -> ctypes.CDLL:
    library = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    return ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)


LIBRARY = _load()
