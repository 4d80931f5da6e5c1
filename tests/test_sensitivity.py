"""Sensitivity analysis and linear updates (SPEC 1.7, 4; DESIGN 2).

The matrices are checked three ways: against the documented 1-D example, against the closed form
computed here with numpy from the problem's Jacobian, and against finite differences of the
re-optimised solution (scipy's SLSQP, so the check does not depend on pyoptgra's optimiser).
"""

import multiprocessing
import pickle

import numpy as np
import pygmo
import pytest
from scipy.optimize import minimize

import pyoptgra


class HalfLine:
    """min 2 x s.t. -x + bound <= 0 (the reference's documented example)."""

    def __init__(self, bound=10.0, lower=-1e30, upper=1e30):
        self.bound, self.lower, self.upper = bound, lower, upper

    def fitness(self, x):
        return [2.0 * x[0], -x[0] + self.bound]

    def gradient(self, x):
        return [2.0, -1.0]

    def get_bounds(self):
        return ([self.lower], [self.upper])

    def get_nic(self):
        return 1


class TwoActive:
    """min (x0-4)^2 + (x1-4)^2 + 0.1 p x0 over (x0, x1) with the parameter p = x2, s.t.
    h = x0 - x1^2 + p/2 = 0 and g1 = x0^2 + x1 - 2p <= 0 (both active at the optimum, which they
    determine) and g2 = x0 + x1 - 10 <= 0 (passive).  shift is added to (h, g1, g2)."""

    def __init__(self, shift=(0.0, 0.0, 0.0)):
        self.shift = tuple(shift)

    def fitness(self, x):
        x0, x1, p = x
        h, g1, g2 = x0 - x1**2 + 0.5 * p, x0**2 + x1 - 2 * p, x0 + x1 - 10
        return [(x0 - 4) ** 2 + (x1 - 4) ** 2 + 0.1 * p * x0, h + self.shift[0], g1 + self.shift[1], g2 + self.shift[2]]

    def gradient(self, x):
        return np.concatenate(self.jacobian(x))

    @staticmethod
    def jacobian(x):
        x0, x1, p = x
        return np.array(
            [[2 * (x0 - 4) + 0.1 * p, 2 * (x1 - 4), 0.1 * x0], [1, -2 * x1, 0.5], [2 * x0, 1, -2], [1, 1, 0]],
            dtype=float,
        )

    def get_bounds(self):
        return ([-10.0] * 3, [10.0] * 3)

    def get_nec(self):
        return 1

    def get_nic(self):
        return 2


class ThreeFree(TwoActive):
    """TwoActive with a third free variable x3 in the objective and in g2: two active constraints
    no longer determine the free variables, so the minimum-norm move depends on the scaling."""

    def fitness(self, x):
        f = super().fitness(x[:3])
        f[0] += (x[3] - 1.0) ** 2 + 0.3 * x[3] * x[0]
        f[3] += 0.5 * x[3]
        return f

    def gradient(self, x):
        return np.concatenate(self.jacobian(x))

    @staticmethod
    def jacobian(x):
        top = TwoActive.jacobian(x[:3])
        extra = np.array([[2 * (x[3] - 1.0) + 0.3 * x[0]], [0.0], [0.0], [0.5]])
        top[0, 0] += 0.3 * x[3]
        return np.hstack([top, extra])

    def get_bounds(self):
        return ([-10.0] * 4, [10.0] * 4)


def reoptimised(shift=(0.0, 0.0, 0.0), p=2.0):
    """x*(shift, p) of TwoActive, by SLSQP to full precision."""
    udp = TwoActive(shift)

    def out(z):
        return udp.fitness([z[0], z[1], p])

    constraints = [
        {"type": "eq", "fun": lambda z: out(z)[1]},
        {"type": "ineq", "fun": lambda z: -out(z)[2]},
        {"type": "ineq", "fun": lambda z: -out(z)[3]},
    ]
    r = minimize(lambda z: out(z)[0], [1.0, 1.5], constraints=constraints, method="SLSQP",
                 options={"ftol": 1e-12, "maxiter": 500})
    assert r.success
    # Polish to machine precision with Newton steps on the constraints active there.
    z = r.x
    active = [j for j in (1, 2, 3) if abs(out(z)[j]) < 1e-6]
    assert len(active) == 2
    for _ in range(5):
        jac = TwoActive.jacobian([z[0], z[1], p])[active][:, :2]
        z = z - np.linalg.solve(jac, np.array(out(z))[active])
    return np.array([z[0], z[1], p])


SCALES = [2.0, 0.5, 3.0]
C_TOL = [1e-7, 2e-7, 5e-8]


@pytest.fixture(scope="module")
def two_active():
    x_star = reoptimised()
    problem = pygmo.problem(TwoActive())
    problem.c_tol = C_TOL
    algo = pyoptgra.optgra(variable_types=[0, 0, 1], variable_scaling_factors=SCALES, bounds_to_constraints=False)
    algo.prepare_sensitivity(problem, x_star)
    return algo, problem, x_star


def closed_form(jacobian, active, free, parameters, scales):
    """SPEC 4.2 in raw units: with S = diag(s) over the free variables, the scaled minimum-norm
    inverse gives VC = -S^2 A^T (A S^2 A^T)^-1, CC = J VC, VP = VC A_p, CP = J_p + J VP."""
    m = jacobian.shape[0] - 1
    n = jacobian.shape[1]
    a = jacobian[np.ix_(active, free)]
    s2 = np.diag(np.asarray(scales)[free] ** 2)
    inverse = s2 @ a.T @ np.linalg.inv(a @ s2 @ a.T)
    vc = np.zeros((n, m))
    vc[np.ix_(free, active)] = -inverse
    cc = jacobian[:, free] @ vc[free]
    cc[active] = 0.0
    cc[active, active] = 1.0
    vp = np.eye(n)
    vp[np.ix_(free, parameters)] = -inverse @ jacobian[np.ix_(active, parameters)]
    cp = np.zeros((m + 1, n))
    cp[:, parameters] = jacobian[:, parameters] + jacobian[:, free] @ vp[np.ix_(free, parameters)]
    cp[active] = 0.0
    return cc, cp, vc, vp


def engine_order(jacobian):
    """pygmo order [objective, constraints] -> engine order [constraints, objective]."""
    return np.roll(jacobian, -1, axis=0)


# -- the documented one-dimensional example --------------------------------------------------
@pytest.mark.parametrize("bounds_to_constraints", [False, True])
def test_documented_example(bounds_to_constraints):
    problem = pygmo.problem(HalfLine(lower=-50.0, upper=100.0))
    algo = pyoptgra.optgra(bounds_to_constraints=bounds_to_constraints)
    algo.prepare_sensitivity(problem, [10.0])
    m = 3 if bounds_to_constraints else 1
    active, cc, cp, vc, vp = algo.sensitivity_matrices()
    assert active == [1] + [0] * (m - 1)
    assert np.array(cc).shape == (m + 1, m) and np.array(cp).shape == (m + 1, 1)
    assert np.array(vc).shape == (1, m) and vp == [[1.0]]
    assert np.allclose(np.array(cc)[:, 0], [1.0] + [1.0, -1.0][: m - 1] + [2.0], atol=1e-12)
    assert np.allclose(vc[0][0], 1.0, atol=1e-12) and np.allclose(cp, 0.0)

    fevals = problem.get_fevals()
    zeros = [0.0] * (m - 1)
    for delta, x_new in [(2.0, 8.0), (5.0, 5.0), (-2.0, 12.0), (0.5, 9.5)]:
        x, y, flag = algo.linear_update_delta([delta] + zeros)
        assert flag == 1 and x == pytest.approx([x_new], abs=1e-12)
        # every output is the linear model's prediction at the new x, the merit included
        assert y[0] == pytest.approx(0.0, abs=1e-12) and y[-1] == pytest.approx(2.0 * x_new, abs=1e-11)
        if bounds_to_constraints:
            assert y[1:3] == pytest.approx([x_new + 50.0, 100.0 - x_new], abs=1e-11)
    assert problem.get_fevals() == fevals  # linear_update_delta evaluates nothing

    moved = pygmo.problem(HalfLine(bound=12.0, lower=-50.0, upper=100.0))
    x, y, flag = algo.linear_update_new_callable(moved)
    assert flag == 1 and x == pytest.approx([12.0], abs=1e-12) and y[-1] == pytest.approx(24.0, abs=1e-11)
    assert moved.get_fevals() == 1 and moved.get_gevals() == 0


def test_prepare_does_not_move_and_costs_one_evaluation():
    problem = pygmo.problem(HalfLine())
    algo = pyoptgra.optgra(bounds_to_constraints=False)
    algo.prepare_sensitivity(problem, [10.0])
    state = algo.sensitivity_state
    assert problem.get_fevals() == 1 and problem.get_gevals() == 1
    assert state.point.tolist() == [10.0] and state.values.tolist() == [0.0, 20.0] and state.feasible


def test_tolerance_is_honoured_in_the_active_set():
    # 0.5 above the boundary with c_tol 1e-6: clearly inside, not active (the reference's fixed
    # tolerance of 1.0 made it active); within c_tol of the boundary: active
    for x, expected in [(10.5, [0]), (10.0 + 5e-7, [1]), (9.0, [1])]:
        algo = pyoptgra.optgra(bounds_to_constraints=False)
        algo.prepare_sensitivity(pygmo.problem(HalfLine()), [x])
        assert algo.sensitivity_matrices()[0] == expected, x
    # a shift within the tolerance is still carried out
    algo.prepare_sensitivity(pygmo.problem(HalfLine()), [10.0])
    x, _, flag = algo.linear_update_delta([1e-3])
    assert flag == 1 and x[0] == pytest.approx(10.0 - 1e-3, abs=1e-12)


def test_update_beyond_the_trust_radius_fails_and_keeps_the_point():
    algo = pyoptgra.optgra(bounds_to_constraints=False, max_distance_per_iteration=10)
    algo.prepare_sensitivity(pygmo.problem(HalfLine()), [10.0])
    x, y, flag = algo.linear_update_delta([30.0])
    assert flag == 0 and x == [10.0] and y == pytest.approx([-30.0, 20.0])  # C - Delta at the old x


def test_scaling_is_honoured():
    # SPEC 4.4: the reference reports 0.5 here with variable scale 2
    algo = pyoptgra.optgra(bounds_to_constraints=False, variable_scaling_factors=[2.0])
    algo.prepare_sensitivity(pygmo.problem(HalfLine()), [10.0])
    assert algo.sensitivity_matrices()[3] == [[pytest.approx(1.0, abs=1e-12)]]
    assert algo.linear_update_delta([2.0])[0] == [pytest.approx(8.0, abs=1e-12)]


# -- two active constraints, a passive one, a parameter, scaling and tolerances ---------------
def test_two_active_matrices_equal_the_closed_form(two_active):
    algo, problem, x_star = two_active
    sens = algo.sensitivity()
    assert sens.active.tolist() == [True, True, False]
    jacobian = engine_order(TwoActive.jacobian(x_star))
    expected = closed_form(jacobian, [0, 1], [0, 1], [2], SCALES)
    for got, want in zip(
        (sens.constraint_vs_active, sens.constraint_vs_parameter, sens.variable_vs_active, sens.variable_vs_parameter),
        expected,
    ):
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-8 * max(1.0, np.abs(want).max())
    # the list API is the same numbers, with the reference's shapes
    lists = algo.sensitivity_matrices()
    assert [np.array(a).shape for a in lists] == [(3,), (4, 3), (4, 3), (3, 3), (3, 3)]
    assert np.array_equal(np.array(lists[1]), sens.constraint_vs_active)


def test_multipliers_make_the_lagrangian_stationary(two_active):
    algo, _, x_star = two_active
    sens = algo.sensitivity()
    jacobian = engine_order(TwoActive.jacobian(x_star))
    stationarity = jacobian[-1, :2] + sens.multipliers @ jacobian[:-1, :2]
    assert np.abs(stationarity).max() < 1e-7
    assert sens.multipliers[2] == 0.0


def test_two_active_matrices_agree_with_reoptimisation(two_active):
    algo, _, x_star = two_active
    sens = algo.sensitivity()
    delta = 1e-4

    def outputs(x):
        return np.roll(TwoActive().fitness(x), -1)

    for k in (0, 1):  # constraint k read as C_k + delta
        plus, minus = np.zeros(3), np.zeros(3)
        plus[k], minus[k] = delta, -delta
        x_plus, x_minus = reoptimised(plus), reoptimised(minus)
        dx = (x_plus - x_minus) / (2 * delta)
        assert np.abs(dx - sens.variable_vs_active[:, k]).max() < 1e-5
        dc = (outputs(x_plus) - outputs(x_minus)) / (2 * delta)
        for j in (2, 3):  # the passive constraint and the merit
            assert dc[j] == pytest.approx(sens.constraint_vs_active[j, k], abs=1e-5)
    x_plus, x_minus = reoptimised(p=2.0 + delta), reoptimised(p=2.0 - delta)
    dx = (x_plus - x_minus) / (2 * delta)
    assert np.abs(dx - sens.variable_vs_parameter[:, 2]).max() < 1e-5
    dc = (outputs(x_plus) - outputs(x_minus)) / (2 * delta)
    assert dc[2:] == pytest.approx(sens.constraint_vs_parameter[2:, 2], abs=1e-5)


def test_linear_update_predicts_the_reoptimised_point_to_second_order(two_active):
    algo, problem, _ = two_active
    fevals = problem.get_fevals()
    errors = []
    for delta in (2e-2, 1e-2):
        x, y, flag = algo.linear_update_delta([delta, -delta, 0.0])
        assert flag == 1
        x_star = reoptimised((-delta, delta, 0.0))  # C - Delta
        errors.append(np.abs(np.array(x) - x_star).max())
        assert errors[-1] <= 0.5 * delta**2
        # the active constraints of the linear model sit on their (shifted) boundary
        assert y[0] == pytest.approx(0.0, abs=1e-12) and y[1] == pytest.approx(0.0, abs=1e-12)
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.1)
    assert problem.get_fevals() == fevals


def test_minimum_norm_move_depends_on_scaling_as_documented():
    x_start = np.array([1.5, 1.6, 2.0, 0.5])
    for scales in ([1.0, 1.0, 1.0, 1.0], [2.0, 0.5, 1.0, 4.0]):
        problem = pygmo.problem(ThreeFree())
        problem.c_tol = C_TOL
        algo = pyoptgra.optgra(variable_types=[0, 0, 1, 0], variable_scaling_factors=scales, bounds_to_constraints=False)
        algo.prepare_sensitivity(problem, x_start)
        sens = algo.sensitivity()
        active = np.nonzero(sens.active)[0].tolist()
        assert 0 in active  # the equality is always active
        expected = closed_form(engine_order(ThreeFree.jacobian(x_start)), active, [0, 1, 3], [2], scales)
        for got, want in zip(
            (sens.constraint_vs_active, sens.constraint_vs_parameter, sens.variable_vs_active, sens.variable_vs_parameter),
            expected,
        ):
            assert np.abs(got - want).max() <= 1e-8 * max(1.0, np.abs(want).max())


# -- the state ---------------------------------------------------------------------------------
def _matrices_in_a_fresh_process(payload):
    state = pickle.loads(payload)
    algo = pyoptgra.optgra(variable_scaling_factors=SCALES)
    algo.sensitivity_state = state
    return algo.sensitivity_matrices(), algo.linear_update_delta([1e-2, 0.0, 0.0])


def test_state_survives_pickle_and_a_new_process(two_active):
    algo = two_active[0]
    state = algo.sensitivity_state
    copy = pickle.loads(pickle.dumps(state))
    assert copy == state and copy is not state
    fresh = pyoptgra.optgra(variable_scaling_factors=SCALES)
    fresh.sensitivity_state = copy
    assert fresh.sensitivity_matrices() == algo.sensitivity_matrices()
    # the optimizer object itself pickles with its state
    assert pickle.loads(pickle.dumps(algo)).sensitivity_matrices() == algo.sensitivity_matrices()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        matrices, update = pool.apply(_matrices_in_a_fresh_process, (pickle.dumps(state),))
    assert matrices == algo.sensitivity_matrices()
    assert update == algo.linear_update_delta([1e-2, 0.0, 0.0])


# -- errors ------------------------------------------------------------------------------------
def test_methods_need_a_prepared_state():
    algo = pyoptgra.optgra()
    for call in (algo.sensitivity_matrices, lambda: algo.linear_update_delta([1.0]),
                 lambda: algo.linear_update_new_callable(HalfLine())):
        with pytest.raises(RuntimeError, match="prepare_sensitivity"):
            call()


def test_invalid_sensitivity_arguments():
    algo = pyoptgra.optgra(bounds_to_constraints=False)
    with pytest.raises(ValueError, match=r"x must have shape \(1,\)"):
        algo.prepare_sensitivity(HalfLine(), [1.0, 2.0])
    with pytest.raises(ValueError, match="not finite"):
        algo.prepare_sensitivity(HalfLine(), [np.nan])
    with pytest.raises(ValueError, match="objectives"):
        algo.prepare_sensitivity(pygmo.problem(pygmo.zdt(1, 2)), [0.5, 0.5])
    with pytest.raises(ValueError, match="variable_scaling_factors"):
        pyoptgra.optgra(variable_scaling_factors=[1.0, 2.0]).prepare_sensitivity(HalfLine(), [10.0])
    algo.prepare_sensitivity(HalfLine(), [10.0])
    with pytest.raises(ValueError, match="1 values"):
        algo.linear_update_delta([1.0, 2.0])
    with pytest.raises(ValueError, match="constraint types"):
        algo.linear_update_new_callable(TwoActive())
    with pytest.raises(TypeError, match="SensitivityState"):
        algo.sensitivity_state = (1, 2, 3)
    # after all these, the prepared state still works
    assert algo.linear_update_delta([2.0])[0] == [pytest.approx(8.0)]
