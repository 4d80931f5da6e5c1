"""Small pygmo problems shared by the tests."""

import time

import numpy as np
import pygmo


class LuksanVlcek:
    """Modified Luksan-Vlcek problem 5.9 from pygmo's constrained-UDP tutorial, as used in the
    reference's regression test: 4 equalities, 2 inequalities, bounds [-5, 5], the objective
    without its exponential term, and a gradient by numerical estimation."""

    def fitness(self, x):
        x1, x2, x3, x4, x5, x6 = x
        obj = sum((a - 3.0) ** 2 / 1000.0 - (a - b) for a, b in ((x1, x2), (x3, x4), (x5, x6)))
        ce1 = 4 * (x1 - x2) ** 2 + x2 - x3**2 + x3 - x4**2
        ce2 = 8 * x2 * (x2**2 - x1) - 2 * (1 - x2) + 4 * (x2 - x3) ** 2 + x1**2 + x3 - x4**2 + x4 - x5**2
        ce3 = 8 * x3 * (x3**2 - x2) - 2 * (1 - x3) + 4 * (x3 - x4) ** 2 + x2**2 - x1 + x4 - x5**2 + x1**2 + x5 - x6**2
        ce4 = 8 * x4 * (x4**2 - x3) - 2 * (1 - x4) + 4 * (x4 - x5) ** 2 + x3**2 - x2 + x5 - x6**2 + x2**2 + x6 - x1
        ci1 = 8 * x5 * (x5**2 - x4) - 2 * (1 - x5) + 4 * (x5 - x6) ** 2 + x4**2 - x3 + x6 + x3**2 - x2
        ci2 = -(8 * x6 * (x6**2 - x5) - 2 * (1 - x6) + x5**2 - x4 + x4**2 - x5)
        return [obj, ce1, ce2, ce3, ce4, ci1, ci2]

    def get_bounds(self):
        return ([-5.0] * 6, [5.0] * 6)

    def get_nec(self):
        return 4

    def get_nic(self):
        return 2

    def gradient(self, x):
        return pygmo.estimate_gradient_h(self.fitness, x)


class BoxLinear:
    """f = x0 - x1 with bounds x0 >= 0, x1 <= 1 (the others infinite)."""

    def fitness(self, x):
        return [x[0] - x[1]]

    def get_bounds(self):
        return ([0.0, -np.inf], [np.inf, 1.0])


class Failing:
    """A quadratic whose fitness or gradient raises (or returns NaN) at the k-th call."""

    def __init__(self, fail_fitness_at=0, fail_gradient_at=0, exception=None, nan_output=None):
        self.fail_fitness_at = fail_fitness_at
        self.fail_gradient_at = fail_gradient_at
        self.exception = exception
        self.nan_output = nan_output
        self.fitness_calls = 0
        self.gradient_calls = 0

    def fitness(self, x):
        self.fitness_calls += 1
        f = [float(np.sum((x - 1.0) ** 2)), float(x[0] + x[1] - 1.0), float(x[0] - 3.0)]
        if self.fitness_calls == self.fail_fitness_at:
            if self.nan_output is not None:
                f[self.nan_output] = np.nan
            else:
                raise self.exception
        return f

    def gradient(self, x):
        self.gradient_calls += 1
        if self.gradient_calls == self.fail_gradient_at:
            raise self.exception
        return [*(2.0 * (x - 1.0)), 1.0, 1.0, 1.0, 0.0]

    def get_bounds(self):
        return ([-10.0, -10.0], [10.0, 10.0])

    def get_nec(self):
        return 1

    def get_nic(self):
        return 1


class MixedInteger:
    """f = (x0 - 0.3)^2 + (x1 - 2)^2 with x1 an integer variable."""

    def fitness(self, x):
        return [(x[0] - 0.3) ** 2 + (x[1] - 2) ** 2]

    def get_bounds(self):
        return ([-5, -5], [5, 5])

    def get_nix(self):
        return 1


class Forwarding:
    """The wrapped UDP's fitness, bounds and constraint counts (no gradient): a base for
    wrappers that add or observe something."""

    def __init__(self, udp):
        self.udp = udp

    def fitness(self, x):
        return self.udp.fitness(x)

    def get_bounds(self):
        return self.udp.get_bounds()

    def get_nec(self):
        return self.udp.get_nec()

    def get_nic(self):
        return self.udp.get_nic()


class Batched(Forwarding):
    """A problem without gradient that also evaluates batches (for ``pygmo.member_bfe``): the
    wrapped UDP's fitness, bounds and constraint counts, point by point.  Module level, so that
    it pickles into the processes of ``pygmo.mp_bfe``."""

    def batch_fitness(self, dvs):
        nx = len(self.get_bounds()[0])
        return np.concatenate([np.asarray(self.fitness(x), dtype=float) for x in np.reshape(dvs, (-1, nx))])


# Hock-Schittkowski 71 in pygmo's formulation (pygmo.hock_schittkowski_71), for problems that
# wrap it (failures, recordings).
def hs71_fitness(x):
    x1, x2, x3, x4 = x
    return np.array([x1 * x4 * (x1 + x2 + x3) + x3, x1**2 + x2**2 + x3**2 + x4**2 - 40.0, 25.0 - x1 * x2 * x3 * x4])


def hs71_gradient(x):
    x1, x2, x3, x4 = x
    return np.array([
        [x4 * (2 * x1 + x2 + x3), x1 * x4, x1 * x4 + 1.0, x1 * (x1 + x2 + x3)],
        [2 * x1, 2 * x2, 2 * x3, 2 * x4],
        [-x2 * x3 * x4, -x1 * x3 * x4, -x1 * x2 * x4, -x1 * x2 * x3],
    ])


class Hs71:
    """Hock-Schittkowski 71 (pygmo's formulation) with an optional failure at fitness call k."""

    def __init__(self, fail_at=0, exception=None, sleep=0.0):
        self.fail_at, self.exception, self.sleep = fail_at, exception, sleep
        self.calls = 0

    def fitness(self, x):
        self.calls += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.calls == self.fail_at:
            raise self.exception
        return hs71_fitness(x)

    def gradient(self, x):
        return hs71_gradient(x).ravel()

    def get_bounds(self):
        return ([1.0] * 4, [5.0] * 4)

    def get_nec(self):
        return 1

    def get_nic(self):
        return 1
