"""Tests for the Khan bound transforms in pyoptgra/khan.py."""

import importlib.util
from pathlib import Path

import numpy as np
import pygmo
import pytest

_spec = importlib.util.spec_from_file_location(
    "pyoptgra_khan", Path(__file__).resolve().parents[1] / "pyoptgra" / "khan.py"
)
khan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(khan)

INF = float("inf")
LB = np.array([-10.0, 0.0, -INF, -INF, -20.0])
UB = np.array([10.0, 30.0, INF, -INF, -10.0])
BOXED = np.array([True, True, False, False, True])

VARIANTS = {
    "sin": lambda lb, ub, unity: khan.khan_function_sin(lb, ub, unity),
    "tanh": lambda lb, ub, unity: khan.khan_function_tanh(lb, ub, unity),
    "triangle1": lambda lb, ub, unity: khan.khan_function_triangle(lb, ub, 1, unity),
    "triangle3": lambda lb, ub, unity: khan.khan_function_triangle(lb, ub, 3, unity),
    "triangle4": lambda lb, ub, unity: khan.khan_function_triangle(lb, ub, 4, unity),
}


# finite stand-ins for the bounds, used only to build test points
LB_BOX = np.where(BOXED, LB, 0.0)
UB_BOX = np.where(BOXED, UB, 0.0)


def interior_points() -> list:
    """Points strictly inside the box; free variables get arbitrary values."""
    fractions_and_free = [(0.01, (-0.7, 0.4)), (0.3, (2.5, -1.0)), (0.5, (0.0, 0.0)),
                          (0.77, (-3.0, 0.9)), (0.99, (0.2, -0.2))]
    points = []
    for frac, free in fractions_and_free:
        x = LB_BOX + frac * (UB_BOX - LB_BOX)
        x[~BOXED] = free
        points.append(x)
    return points


def box_centre() -> np.ndarray:
    """Midpoint of the box, with an arbitrary value for the free variables."""
    return np.where(BOXED, 0.5 * (LB_BOX + UB_BOX), 0.25)


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def variant(request):
    return request.param


@pytest.fixture(params=[True, False], ids=["unity", "plain"])
def unity(request):
    return request.param


# ---------------------------------------------------------------- base class


def test_base_class_methods_not_implemented():
    base = khan.base_khan_function(LB, UB)
    x = np.zeros(5)
    for method in (base.eval, base.eval_inv, base.eval_grad, base.eval_inv_grad):
        with pytest.raises(NotImplementedError):
            method(x)


# ---------------------------------------------------------------- transforms


def test_roundtrip(variant, unity):
    f = VARIANTS[variant](LB, UB, unity)
    for x in interior_points():
        xk = f.eval_inv(x)
        assert np.all(np.isfinite(xk))
        np.testing.assert_allclose(f.eval(xk), x, rtol=0, atol=1e-10)
        # pass-through variables are untouched
        np.testing.assert_array_equal(xk[~BOXED], x[~BOXED])


def test_images_stay_in_box(variant, unity):
    f = VARIANTS[variant](LB, UB, unity)
    # tanh is stretched over 1.001 * (ub - lb), so it may overshoot by 0.05 % of the width
    slack = 0.0005 * (UB_BOX - LB_BOX)[BOXED] if variant == "tanh" else 0.0
    for value in np.linspace(-1e3, 1e3, 2001):
        x = f.eval(np.full(5, value))
        assert np.all(x[BOXED] >= LB[BOXED] - slack) and np.all(x[BOXED] <= UB[BOXED] + slack)
        np.testing.assert_array_equal(x[~BOXED], value)


def test_inverse_gradient_is_reciprocal(variant, unity):
    f = VARIANTS[variant](LB, UB, unity)
    for x in interior_points():
        jac = f.eval_grad(f.eval_inv(x))
        inv_jac = f.eval_inv_grad(x)
        assert jac.shape == inv_jac.shape == (5, 5)
        np.testing.assert_allclose(inv_jac @ jac, np.eye(5), rtol=0, atol=1e-10)


def test_gradient_matches_numerical(variant, unity):
    f = VARIANTS[variant](LB, UB, unity)
    xks = [f.eval_inv(x) for x in interior_points()]
    xks.append(np.array([3.0, -2.0, 0.5, -0.5, 1.0]))
    for xk in xks:
        numerical = pygmo.estimate_gradient_h(f.eval, xk, dx=1e-3).reshape(5, 5)
        analytic = f.eval_grad(xk)
        np.testing.assert_allclose(analytic, numerical, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(analytic, np.diag(np.diag(analytic)))


def test_inverse_gradient_matches_numerical(variant, unity):
    f = VARIANTS[variant](LB, UB, unity)
    for x in interior_points()[1:-1]:
        numerical = pygmo.estimate_gradient_h(f.eval_inv, x, dx=1e-4).reshape(5, 5)
        np.testing.assert_allclose(f.eval_inv_grad(x), numerical, rtol=1e-7, atol=1e-7)


def test_unity_gradient_at_centre(variant):
    f = VARIANTS[variant](LB, UB, True)
    centre = box_centre()
    np.testing.assert_allclose(f.eval_grad(centre), np.eye(5), rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.eval(centre), centre, rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.eval_inv(centre), centre, rtol=0, atol=1e-12)


def test_plain_form_at_centre(variant):
    f = VARIANTS[variant](LB, UB, False)
    xk = np.array([0.0, 0.0, 1.5, -2.5, 0.0])
    expected = np.where(BOXED, 0.5 * (LB_BOX + UB_BOX), xk)
    np.testing.assert_allclose(f.eval(xk), expected, rtol=0, atol=1e-12)


def test_sin_textbook_values():
    f = khan.khan_function_sin([-10.0], [10.0], unity_gradient=False)
    np.testing.assert_allclose(f.eval([np.pi / 2]), [10.0], atol=1e-12)
    np.testing.assert_allclose(f.eval([-np.pi / 6]), [-5.0], atol=1e-12)
    g = khan.khan_function_sin([-10.0], [10.0])
    np.testing.assert_allclose(g.eval([10.0 * np.pi / 2]), [10.0], atol=1e-12)


def test_tanh_reaches_bounds_at_finite_xk():
    f = khan.khan_function_tanh([0.0], [30.0])
    xk = f.eval_inv([30.0])
    assert np.isfinite(xk[0])
    np.testing.assert_allclose(f.eval(xk), [30.0], atol=1e-10)
    # explicit inverse-gradient formula 2w / (a (w^2 - (2X - ub - lb)^2))
    w, a, x = 1.001 * 30.0, 2.0 / (1.001 * 30.0), 12.0
    expected = 2 * w / (a * (w**2 - (2 * x - 30.0) ** 2))
    np.testing.assert_allclose(f.eval_inv_grad([x]), [[expected]], rtol=1e-14)


def test_triangle_order_one_equals_sin(unity):
    sin = khan.khan_function_sin(LB, UB, unity)
    tri = khan.khan_function_triangle(LB, UB, 1, unity)
    xk = np.array([3.0, -2.0, 0.5, -0.5, 1.0])
    np.testing.assert_allclose(tri.eval(xk), sin.eval(xk), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tri.eval_grad(xk), sin.eval_grad(xk), rtol=0, atol=1e-12)


def test_degenerate_bounds_pass_through():
    lb, ub = [1.0, -5.0], [1.0 + 1e-12, 5.0]
    for f in (khan.khan_function_sin(lb, ub), khan.khan_function_tanh(lb, ub),
              khan.khan_function_triangle(lb, ub, 3)):
        np.testing.assert_array_equal(f.mask, [False, True])
        x = np.array([7.0, 1.0])
        assert f.eval(x)[0] == 7.0 and f.eval_inv(x)[0] == 7.0
        assert f.eval_grad(x)[0, 0] == 1.0 and f.eval_inv_grad(x)[0, 0] == 1.0


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("bad_index", [4, 0])
def test_one_sided_bound_raises(variant, bad_index):
    ub = UB.copy()
    ub[bad_index] = INF
    with pytest.raises(ValueError, match=rf"indices \[{bad_index}\]"):
        VARIANTS[variant](LB, ub, True)


def test_one_sided_lower_bound_at_index_zero_raises():
    lb = LB.copy()
    lb[0] = -INF
    with pytest.raises(ValueError, match=r"indices \[0\]"):
        khan.khan_function_sin(lb, UB)


def test_huge_bound_counts_as_infinite():
    with pytest.raises(ValueError, match=r"indices \[0\]"):
        khan.khan_function_tanh([0.0, 1.0], [1e301, 2.0])
    f = khan.khan_function_sin([-1e301, 0.0], [1e301, 1.0])
    np.testing.assert_array_equal(f.mask, [False, True])


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match=r"lb.*ub.*5.*4"):
        khan.khan_function_sin(LB, UB[:4])


def test_wrong_input_length_raises():
    f = khan.khan_function_sin(LB, UB)
    with pytest.raises(ValueError, match="length 5"):
        f.eval(np.zeros(4))


@pytest.mark.parametrize("order", [0, -1])
def test_triangle_order_below_one_raises(order):
    with pytest.raises(ValueError, match="order >= 1"):
        khan.khan_function_triangle(LB, UB, order)


# ---------------------------------------------------------------- clipping


@pytest.mark.parametrize(
    "factory, clip",
    [
        (lambda: khan.khan_function_sin(LB, UB), 1 - 1e-8),
        (lambda: khan.khan_function_triangle(LB, UB, 3), 1 - 1e-8),
    ],
    ids=["sin", "triangle3"],
)
def test_inverse_at_bound_warns_and_clips(factory, clip):
    f = factory()
    x = np.array([10.0, 0.0, 1.0, 2.0, -15.0])  # indices 0 and 1 on their bounds
    with pytest.warns(RuntimeWarning, match=r"indices \[0, 1\]"):
        xk = f.eval_inv(x)
    assert np.all(np.isfinite(xk))
    expected = np.array([10.0 * clip, 15.0 - 15.0 * clip, 1.0, 2.0, -15.0])
    np.testing.assert_allclose(f.eval(xk), expected, rtol=0, atol=1e-9)
    with pytest.warns(RuntimeWarning):
        assert np.all(np.isfinite(f.eval_inv_grad(x)))


def test_tanh_inverse_beyond_bound_warns_and_clips():
    f = khan.khan_function_tanh(LB, UB)
    x = np.array([-11.0, 0.0, 1.0, 2.0, -15.0])  # index 0 beyond lb, index 1 on lb
    with pytest.warns(RuntimeWarning, match=r"indices \[0\]"):
        xk = f.eval_inv(x)
    w = 1.001 * 20.0
    np.testing.assert_allclose(f.eval(xk)[0], -0.5 * w * (1 - 1e-6), rtol=0, atol=1e-9)
    np.testing.assert_allclose(f.eval(xk)[1:], x[1:], rtol=0, atol=1e-10)


# ---------------------------------------------------------------- Fourier helpers


def test_triangular_wave_order_zero_is_zero():
    x = np.linspace(-4, 4, 9)
    np.testing.assert_array_equal(khan.triangular_wave_fourier(0, x), np.zeros(9))
    np.testing.assert_array_equal(khan.triangular_wave_fourier_grad(0, x), np.zeros(9))
    assert khan.triangular_wave_fourier(0, 1.3) == 0.0


def test_triangular_wave_order_one_is_sin():
    x = np.linspace(-7, 7, 57)
    np.testing.assert_allclose(khan.triangular_wave_fourier(1, x), np.sin(x), rtol=0, atol=1e-15)
    np.testing.assert_allclose(khan.triangular_wave_fourier_grad(1, x), np.cos(x), rtol=0, atol=1e-15)


def test_triangular_wave_normalised():
    assert khan.triangular_wave_fourier(4, np.pi / 2) == pytest.approx(1.0, abs=1e-15)
    for n in (1, 2, 5, 10):
        assert khan.triangular_wave_fourier(n, -np.pi / 2) == pytest.approx(-1.0, abs=1e-15)
        assert khan.triangular_wave_fourier(n, 0.0) == 0.0


def test_triangular_wave_odd_symmetry():
    x = np.linspace(0, 6, 31)
    for n in (2, 3, 4):
        np.testing.assert_allclose(
            khan.triangular_wave_fourier(n, -x), -khan.triangular_wave_fourier(n, x), rtol=0, atol=1e-15
        )


def test_triangular_wave_approaches_triangle():
    x = np.linspace(-np.pi / 2, np.pi / 2, 21)
    error = [np.max(np.abs(khan.triangular_wave_fourier(n, x) - 2 * x / np.pi)) for n in (1, 4, 50)]
    assert error[0] > error[1] > error[2]
    assert error[2] < 1e-2


def test_triangular_wave_gradient_matches_central_differences():
    x = np.linspace(-3, 3, 25)
    h = 1e-6
    for n in (1, 2, 4, 7):
        numerical = (khan.triangular_wave_fourier(n, x + h) - khan.triangular_wave_fourier(n, x - h)) / (2 * h)
        np.testing.assert_allclose(khan.triangular_wave_fourier_grad(n, x), numerical, rtol=0, atol=1e-8)


def test_inverse_triangular_wave_roundtrip():
    z = np.linspace(-np.pi / 2, np.pi / 2, 41)
    y = khan.triangular_wave_fourier(5, z)
    z_back = khan.inverse_triangular_wave(5, y)
    assert z_back.shape == z.shape
    np.testing.assert_allclose(z_back, z, rtol=0, atol=1e-10)
    np.testing.assert_allclose(khan.triangular_wave_fourier(5, z_back), y, rtol=0, atol=1e-14)


def test_inverse_triangular_wave_edge_cases():
    assert khan.inverse_triangular_wave(3, 1.0) == pytest.approx(np.pi / 2, abs=1e-12)
    assert khan.inverse_triangular_wave(3, -1.0) == pytest.approx(-np.pi / 2, abs=1e-12)
    assert np.isnan(khan.inverse_triangular_wave(3, 1.5))
    assert np.isnan(khan.inverse_triangular_wave(3, np.nan))
    with pytest.raises(ValueError, match="N >= 1"):
        khan.inverse_triangular_wave(0, 0.5)
