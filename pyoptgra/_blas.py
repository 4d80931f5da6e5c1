"""BLAS kernels for the engine's dense products, taken from scipy.

The engine's blocked factorisation of many equality constraints (compact WY Householder updates,
``z <- z - V (T^T (V^T z))``) calls ``dgemm`` and ``dtrmm`` through addresses given with each
call (``ogblas``).  scipy publishes its BLAS for compiled extensions in
``scipy.linalg.cython_blas``, as capsules holding function pointers with the reference Fortran
interface (arguments by address, 32-bit integers); :data:`KERNELS` holds their addresses, or
``(0, 0)`` when they cannot be read, in which case the engine uses its own (slower) products.

Those kernels are scipy's OpenBLAS: it chooses its kernels for the CPU at run time and threads
large products (``OPENBLAS_NUM_THREADS`` sets how many threads), so results of problems with 64
or more equalities can differ in the last bits between machines and thread counts.
"""

from __future__ import annotations

import ctypes
from typing import Tuple


def _capsule_address(capsule: object) -> int:
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype = ctypes.c_char_p
    get_name.argtypes = [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(get_pointer(capsule, get_name(capsule)) or 0)


def _scipy_kernels() -> Tuple[int, int]:
    """Addresses of scipy's dgemm and dtrmm, or (0, 0)."""
    try:
        from scipy.linalg import cython_blas

        capsules = cython_blas.__pyx_capi__
        gemm, trmm = _capsule_address(capsules["dgemm"]), _capsule_address(capsules["dtrmm"])
    except (ImportError, AttributeError, KeyError, ValueError):  # pragma: no cover - old or odd scipy
        return (0, 0)
    return (gemm, trmm) if gemm and trmm else (0, 0)


KERNELS: Tuple[int, int] = _scipy_kernels()
