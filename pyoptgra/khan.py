"""Khan bound transforms.

A Khan function maps an unbounded optimisation variable ``Xk`` onto a variable
``X`` that is guaranteed to lie inside the box ``[lb, ub]``.  Every variant has
the form

.. math::

    X = \\mathrm{mid} + \\mathrm{half}\\, T(a X_k + b),
    \\qquad \\mathrm{mid} = \\frac{ub + lb}{2},
    \\qquad \\mathrm{half} = \\frac{ub - lb}{2},

where :math:`T` is a bounded, odd, periodic (or saturating) function with
:math:`T(0) = 0`.  With ``unity_gradient=True`` the constants :math:`a, b` are
chosen such that at the centre of the box :math:`X = X_k` and
:math:`dX/dX_k = 1`; with ``unity_gradient=False`` one uses :math:`a = 1, b = 0`.

Only variables with both bounds finite (``|b| < 1e300``) and
``|lb - ub| > 1e-9`` are transformed.  All others pass through unchanged, with
derivative one.  Having exactly one finite bound for a variable is an error.
"""

import warnings
from typing import Sequence, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

_BOUND_LIMIT = 1e300
_MIN_WIDTH = 1e-9

Scalar = Union[float, np.floating]


def _check_order(N: int) -> None:
    if N < 0:
        raise ValueError(f"The Fourier order N must be non-negative, got {N}.")


def triangular_wave_fourier(N: int, x: ArrayLike) -> Union[Scalar, NDArray[np.float64]]:
    """Normalised N-term Fourier approximation of the triangular wave.

    .. math::

        T_N(x) = \\frac{1}{S_N} \\sum_{k=0}^{N-1}
                 \\frac{(-1)^k \\sin((2k+1) x)}{(2k+1)^2},
        \\qquad S_N = \\sum_{k=0}^{N-1} \\frac{1}{(2k+1)^2},

    so that :math:`T_N(\\pm\\pi/2) = \\pm 1`.  :math:`T_N` is odd and
    :math:`2\\pi`-periodic, :math:`T_1 = \\sin`, and :math:`T_0 \\equiv 0`.

    Args:
        N: number of Fourier terms (``N >= 0``).
        x: scalar or array of abscissae.

    Returns:
        :math:`T_N(x)`, with the shape of ``x`` (a scalar for scalar input).
    """
    _check_order(N)
    x = np.asarray(x, dtype=float)
    if N == 0:
        return np.zeros(x.shape)[()]
    odd = 2.0 * np.arange(N) + 1.0
    signs = (-1.0) ** np.arange(N)
    terms = signs * np.sin(np.multiply.outer(x, odd)) / odd**2
    return (np.sum(terms, axis=-1) / np.sum(1.0 / odd**2))[()]


def triangular_wave_fourier_grad(N: int, x: ArrayLike) -> Union[Scalar, NDArray[np.float64]]:
    """Derivative of :func:`triangular_wave_fourier` with respect to ``x``.

    .. math::

        T_N'(x) = \\frac{1}{S_N} \\sum_{k=0}^{N-1}
                  \\frac{(-1)^k \\cos((2k+1) x)}{2k+1}.

    :math:`T_N'` is strictly positive on :math:`(-\\pi/2, \\pi/2)` (it is a
    scaled partial sum of the square-wave series) and vanishes at
    :math:`\\pm\\pi/2`.  For ``N = 0`` it is identically zero.

    Args:
        N: number of Fourier terms (``N >= 0``).
        x: scalar or array of abscissae.

    Returns:
        :math:`T_N'(x)`, with the shape of ``x`` (a scalar for scalar input).
    """
    _check_order(N)
    x = np.asarray(x, dtype=float)
    if N == 0:
        return np.zeros(x.shape)[()]
    odd = 2.0 * np.arange(N) + 1.0
    signs = (-1.0) ** np.arange(N)
    terms = signs * np.cos(np.multiply.outer(x, odd)) / odd
    return (np.sum(terms, axis=-1) / np.sum(1.0 / odd**2))[()]


def inverse_triangular_wave(N: int, y: ArrayLike) -> Union[Scalar, NDArray[np.float64]]:
    """Inverse of :func:`triangular_wave_fourier` on the principal branch.

    Solves :math:`T_N(z) = y` for :math:`z \\in [-\\pi/2, \\pi/2]`, element-wise,
    with Brent's bracketed root finder.  :math:`T_N` is strictly increasing on
    this interval and maps it onto :math:`[-1, 1]`, so the solution is unique
    for :math:`|y| \\le 1`.  Entries with :math:`|y| > 1` (no solution) or where
    the root finder does not converge are returned as NaN.

    Args:
        N: number of Fourier terms (``N >= 1``).
        y: scalar or array of values in ``[-1, 1]``.

    Returns:
        :math:`z = T_N^{-1}(y)`, with the shape of ``y`` (a scalar for scalar
        input).

    Raises:
        ValueError: if ``N < 1`` (``T_0`` is identically zero, not invertible).
    """
    if N < 1:
        raise ValueError(f"The triangular wave is only invertible for N >= 1, got N = {N}.")
    y = np.asarray(y, dtype=float)
    lo, hi = -0.5 * np.pi, 0.5 * np.pi
    # Numerically T_N(+-pi/2) may differ from +-1 by an ulp; clipping |y| <= 1
    # into [T_N(lo), T_N(hi)] keeps the root bracketed.
    t_lo, t_hi = triangular_wave_fourier(N, lo), triangular_wave_fourier(N, hi)
    z = np.full(y.shape, np.nan)
    for idx, value in np.ndenumerate(y):
        if not abs(value) <= 1.0:
            continue
        target = min(max(value, t_lo), t_hi)
        root, result = brentq(
            lambda s: triangular_wave_fourier(N, s) - target,
            lo,
            hi,
            xtol=1e-15,
            rtol=4 * np.finfo(float).eps,
            full_output=True,
            disp=False,
        )
        if result.converged:
            z[idx] = root
    return z[()]


class base_khan_function:
    """Common base of the Khan bound transforms.

    Validates the bounds and determines which variables are transformed.
    Subclasses implement :meth:`eval`, :meth:`eval_inv`, :meth:`eval_grad`
    and :meth:`eval_inv_grad`.

    Args:
        lb: lower bounds, one per variable.
        ub: upper bounds, one per variable.

    Raises:
        ValueError: if ``lb`` and ``ub`` are not one-dimensional sequences of
            the same length, or if any variable has exactly one finite bound.
    """

    def __init__(self, lb: Sequence[float], ub: Sequence[float]) -> None:
        lb_arr = np.atleast_1d(np.asarray(lb, dtype=float))
        ub_arr = np.atleast_1d(np.asarray(ub, dtype=float))
        if lb_arr.ndim != 1 or ub_arr.ndim != 1:
            raise ValueError("lb and ub must be one-dimensional sequences of floats.")
        if lb_arr.shape != ub_arr.shape:
            raise ValueError(
                f"lb and ub must have the same length, got len(lb) = {lb_arr.size} "
                f"and len(ub) = {ub_arr.size}."
            )
        lb_finite = np.isfinite(lb_arr) & (np.abs(lb_arr) < _BOUND_LIMIT)
        ub_finite = np.isfinite(ub_arr) & (np.abs(ub_arr) < _BOUND_LIMIT)
        mismatch = np.flatnonzero(lb_finite != ub_finite)
        if mismatch.size:
            raise ValueError(
                "Khan transforms require each variable to have either two finite bounds "
                f"or none; exactly one bound is finite at indices {mismatch.tolist()}."
            )
        both_finite = lb_finite & ub_finite
        width = np.zeros_like(lb_arr)
        width[both_finite] = ub_arr[both_finite] - lb_arr[both_finite]

        self._lb = lb_arr
        self._ub = ub_arr
        self._n = lb_arr.size
        self._mask = both_finite & (np.abs(width) > _MIN_WIDTH)
        lbm, ubm = lb_arr[self._mask], ub_arr[self._mask]
        self._mid = 0.5 * (ubm + lbm)
        self._half = 0.5 * (ubm - lbm)

    @property
    def mask(self) -> NDArray[np.bool_]:
        """Boolean array, True for the variables that are transformed."""
        return self._mask.copy()

    def _as_vector(self, v: ArrayLike, name: str) -> NDArray[np.float64]:
        """Return ``v`` as a fresh 1-D float array of the problem dimension."""
        arr = np.array(v, dtype=float).reshape(-1)
        if arr.size != self._n:
            raise ValueError(f"{name} must have length {self._n}, got {arr.size}.")
        return arr

    def _clip_ratio(self, r: NDArray[np.float64], limit: float) -> NDArray[np.float64]:
        """Clip the normalised position ``r`` (on masked variables) to ``[-limit, limit]``,
        warning with the (full-vector) indices that had to be clipped."""
        outside = np.abs(r) > limit
        if np.any(outside):
            indices = np.flatnonzero(self._mask)[outside].tolist()
            warnings.warn(
                f"Khan inverse: variables at indices {indices} lie on or beyond their bounds; "
                f"the normalised position is clipped to +-{limit}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return np.clip(r, -limit, limit)

    def _embed(self, full: NDArray[np.float64], masked: NDArray[np.float64]) -> NDArray[np.float64]:
        """Write ``masked`` into the transformed entries of ``full`` and return it."""
        full[self._mask] = masked
        return full

    def eval(self, xk: ArrayLike) -> NDArray[np.float64]:
        """Map the unbounded variables ``Xk`` to the bounded variables ``X``."""
        raise NotImplementedError

    def eval_inv(self, x: ArrayLike) -> NDArray[np.float64]:
        """Map the bounded variables ``X`` to the unbounded variables ``Xk``."""
        raise NotImplementedError

    def eval_grad(self, xk: ArrayLike) -> NDArray[np.float64]:
        """Diagonal Jacobian matrix ``dX/dXk`` at ``Xk``."""
        raise NotImplementedError

    def eval_inv_grad(self, x: ArrayLike) -> NDArray[np.float64]:
        """Diagonal Jacobian matrix ``dXk/dX`` at ``X``."""
        raise NotImplementedError


class khan_function_sin(base_khan_function):
    """Sine Khan transform.

    .. math::

        X = \\mathrm{mid} + \\mathrm{half} \\sin(a X_k + b),
        \\qquad \\frac{dX}{dX_k} = \\mathrm{half}\\, a \\cos(a X_k + b).

    With ``unity_gradient=True``: :math:`a = 2/(ub-lb)`,
    :math:`b = -(ub+lb)/(ub-lb)`, so that :math:`dX/dX_k = \\cos(aX_k+b)`
    equals one at the centre of the box, where :math:`X = X_k`.
    Otherwise :math:`a = 1, b = 0`.

    The inverse uses :math:`r = (2X - ub - lb)/(ub - lb)`, clipped (with a
    warning) to :math:`|r| \\le 1 - 10^{-8}`, and
    :math:`X_k = (\\arcsin r - b)/a`, with
    :math:`dX_k/dX = 1 / (a\\, \\mathrm{half} \\sqrt{1 - r^2})`.

    Args:
        lb: lower bounds.
        ub: upper bounds.
        unity_gradient: choose :math:`a, b` for a unit gradient at the centre.
    """

    _CLIP = 1.0 - 1e-8

    def __init__(self, lb: Sequence[float], ub: Sequence[float], unity_gradient: bool = True) -> None:
        super().__init__(lb, ub)
        if unity_gradient:
            self._a = 1.0 / self._half
            self._b = -self._mid / self._half
        else:
            self._a = np.ones_like(self._mid)
            self._b = np.zeros_like(self._mid)

    def _ratio(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._clip_ratio((x[self._mask] - self._mid) / self._half, self._CLIP)

    def eval(self, xk: ArrayLike) -> NDArray[np.float64]:
        xk = self._as_vector(xk, "xk")
        z = self._a * xk[self._mask] + self._b
        return self._embed(xk, self._mid + self._half * np.sin(z))

    def eval_inv(self, x: ArrayLike) -> NDArray[np.float64]:
        x = self._as_vector(x, "x")
        r = self._ratio(x)
        return self._embed(x, (np.arcsin(r) - self._b) / self._a)

    def eval_grad(self, xk: ArrayLike) -> NDArray[np.float64]:
        xk = self._as_vector(xk, "xk")
        z = self._a * xk[self._mask] + self._b
        return np.diag(self._embed(np.ones(self._n), self._half * self._a * np.cos(z)))

    def eval_inv_grad(self, x: ArrayLike) -> NDArray[np.float64]:
        x = self._as_vector(x, "x")
        r = self._ratio(x)
        d = 1.0 / (self._a * self._half * np.sqrt(1.0 - r**2))
        return np.diag(self._embed(np.ones(self._n), d))


class khan_function_tanh(base_khan_function):
    """Hyperbolic-tangent Khan transform.

    To make the bounds reachable at finite :math:`X_k`, the tanh is stretched
    over the enlarged width :math:`w = 1.001 (ub - lb)`:

    .. math::

        X = \\mathrm{mid} + \\frac{w}{2} \\tanh(a X_k + b),
        \\qquad \\frac{dX}{dX_k} = \\frac{w a}{2} \\left(1 - \\tanh^2(a X_k + b)\\right).

    With ``unity_gradient=True``: :math:`a = 2/w`, :math:`b = -(ub+lb)/w`
    (unit gradient and :math:`X = X_k` at the centre); otherwise
    :math:`a = 1, b = 0`.  Note that for large :math:`|X_k|` the image may
    exceed the bounds by up to :math:`(w - (ub - lb))/2 = 0.0005 (ub - lb)`.

    The inverse uses :math:`r = (2X - ub - lb)/w`, clipped (with a warning) to
    :math:`|r| \\le 1 - 10^{-6}`, and :math:`X_k = (\\operatorname{artanh} r - b)/a`, with

    .. math::

        \\frac{dX_k}{dX} = \\frac{2 w}{a \\left(w^2 - (2X - ub - lb)^2\\right)}.

    Args:
        lb: lower bounds.
        ub: upper bounds.
        unity_gradient: choose :math:`a, b` for a unit gradient at the centre.
    """

    _CLIP = 1.0 - 1e-6
    _WIDTH_FACTOR = 1.001

    def __init__(self, lb: Sequence[float], ub: Sequence[float], unity_gradient: bool = True) -> None:
        super().__init__(lb, ub)
        self._w = self._WIDTH_FACTOR * 2.0 * self._half
        if unity_gradient:
            self._a = 2.0 / self._w
            self._b = -2.0 * self._mid / self._w
        else:
            self._a = np.ones_like(self._mid)
            self._b = np.zeros_like(self._mid)

    def _ratio(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._clip_ratio(2.0 * (x[self._mask] - self._mid) / self._w, self._CLIP)

    def eval(self, xk: ArrayLike) -> NDArray[np.float64]:
        xk = self._as_vector(xk, "xk")
        z = self._a * xk[self._mask] + self._b
        return self._embed(xk, self._mid + 0.5 * self._w * np.tanh(z))

    def eval_inv(self, x: ArrayLike) -> NDArray[np.float64]:
        x = self._as_vector(x, "x")
        r = self._ratio(x)
        return self._embed(x, (np.arctanh(r) - self._b) / self._a)

    def eval_grad(self, xk: ArrayLike) -> NDArray[np.float64]:
        xk = self._as_vector(xk, "xk")
        z = self._a * xk[self._mask] + self._b
        d = 0.5 * self._w * self._a * (1.0 - np.tanh(z) ** 2)
        return np.diag(self._embed(np.ones(self._n), d))

    def eval_inv_grad(self, x: ArrayLike) -> NDArray[np.float64]:
        x = self._as_vector(x, "x")
        s = self._w * self._ratio(x)  # = 2X - ub - lb, after clipping
        d = 2.0 * self._w / (self._a * (self._w**2 - s**2))
        return np.diag(self._embed(np.ones(self._n), d))


class khan_function_triangle(base_khan_function):
    """Fourier-triangle Khan transform of order ``N``.

    .. math::

        X = \\mathrm{mid} + \\mathrm{half}\\, T_N(a X_k + b),
        \\qquad \\frac{dX}{dX_k} = \\mathrm{half}\\, a\\, T_N'(a X_k + b),

    with :math:`T_N` from :func:`triangular_wave_fourier`.  With
    ``unity_gradient=True``: :math:`a = 2 / ((ub - lb) T_N'(0))` and
    :math:`b = -a (ub + lb)/2` (unit gradient and :math:`X = X_k` at the
    centre); otherwise :math:`a = 1, b = 0`.  ``N = 1`` coincides with the sine
    transform; larger ``N`` approaches a triangular wave, whose slope is
    nearly constant across the box.

    The inverse clips (with a warning) :math:`r = (X - \\mathrm{mid})/\\mathrm{half}`
    to :math:`|r| \\le 1 - 10^{-8}`, solves :math:`T_N(z) = r` on
    :math:`[-\\pi/2, \\pi/2]` (:func:`inverse_triangular_wave`; NaN if no
    convergence) and returns :math:`X_k = (z - b)/a`.  The inverse derivative
    is the exact reciprocal of the forward derivative at that point.

    Args:
        lb: lower bounds.
        ub: upper bounds.
        order: number of Fourier terms ``N >= 1``.
        unity_gradient: choose :math:`a, b` for a unit gradient at the centre.

    Raises:
        ValueError: if ``order < 1`` (``T_0`` is identically zero), or for
            invalid bounds (see :class:`base_khan_function`).
    """

    _CLIP = 1.0 - 1e-8

    def __init__(
        self, lb: Sequence[float], ub: Sequence[float], order: int, unity_gradient: bool = True
    ) -> None:
        if int(order) != order or order < 1:
            raise ValueError(
                f"The triangle Khan transform needs an integer order >= 1, got {order!r} "
                "(order 0 gives the constant function T = 0)."
            )
        super().__init__(lb, ub)
        self._order = int(order)
        if unity_gradient:
            self._a = 1.0 / (self._half * triangular_wave_fourier_grad(self._order, 0.0))
            self._b = -self._a * self._mid
        else:
            self._a = np.ones_like(self._mid)
            self._b = np.zeros_like(self._mid)

    @property
    def order(self) -> int:
        """Number of Fourier terms ``N``."""
        return self._order

    def eval(self, xk: ArrayLike) -> NDArray[np.float64]:
        xk = self._as_vector(xk, "xk")
        z = self._a * xk[self._mask] + self._b
        return self._embed(xk, self._mid + self._half * triangular_wave_fourier(self._order, z))

    def eval_inv(self, x: ArrayLike) -> NDArray[np.float64]:
        x = self._as_vector(x, "x")
        r = self._clip_ratio((x[self._mask] - self._mid) / self._half, self._CLIP)
        z = np.atleast_1d(inverse_triangular_wave(self._order, r))
        return self._embed(x, (z - self._b) / self._a)

    def eval_grad(self, xk: ArrayLike) -> NDArray[np.float64]:
        xk = self._as_vector(xk, "xk")
        z = self._a * xk[self._mask] + self._b
        d = self._half * self._a * triangular_wave_fourier_grad(self._order, z)
        return np.diag(self._embed(np.ones(self._n), d))

    def eval_inv_grad(self, x: ArrayLike) -> NDArray[np.float64]:
        return np.diag(1.0 / np.diag(self.eval_grad(self.eval_inv(x))))
