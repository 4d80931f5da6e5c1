"""Reliability (issue 5, items 1-2): concurrent and nested solves.

The engine keeps all its state in a per-call handle and releases the GIL while it runs, so four
threads can solve at once, and a solve can run inside the fitness of another one.
"""

import threading
import time

import numpy as np
import pygmo
import pytest

import pyoptgra


class SleepyQuartic:
    """A constrained quartic whose fitness sleeps (releasing the GIL) and does some numpy work.

    min sum(d^2 + 0.1 d^4), d = x - c,  s.t.  sum(x) = s,  x0 + x1 <= 3,  box [-5, 5].
    The stationarity condition 2 d_i + 0.4 d_i^3 = lambda makes every d_i equal, so the solution
    is x = c - (sum(c) - s) / n whenever the inequality is inactive.  No gradient: the engine
    uses central differences, 2 n + 1 evaluations per iteration."""

    def __init__(self, center=(1.0, -2.0, 0.5, 3.0), total=1.0, sleep=0.0, work=0):
        self.center = list(center)
        self.total = total
        self.sleep = sleep
        self.work = work

    def fitness(self, x):
        if self.sleep:
            time.sleep(self.sleep)
        if self.work:  # a ufunc over a large array: numpy releases the GIL while it runs
            assert np.isfinite(np.sin(np.linspace(0.0, 1.0, self.work)).sum())
        d = np.asarray(x) - np.asarray(self.center)
        objective = float(d @ d + 0.1 * np.sum(d**4))
        return [objective, float(np.sum(x) - self.total), float(x[0] + x[1] - 3.0)]

    def get_bounds(self):
        return ([-5.0] * len(self.center), [5.0] * len(self.center))

    def get_nec(self):
        return 1

    def get_nic(self):
        return 1


class SleepyQuadratic(SleepyQuartic):
    """The same constraints, a quadratic objective and an exact gradient."""

    def fitness(self, x):
        f = super().fitness(x)
        d = np.asarray(x) - np.asarray(self.center)
        return [float(d @ d), *f[1:]]

    def gradient(self, x):
        c = np.asarray(self.center)
        return np.concatenate([2.0 * (x - c), np.ones(len(x)), [1.0, 1.0] + [0.0] * (len(x) - 2)])


def expected_solution(center, total):
    """KKT solution of SleepyQuadratic (the inequality is inactive for the centres used here)."""
    c = np.asarray(center, dtype=float)
    return c - (np.sum(c) - total) / c.size


def solve(udp, x0, **settings):
    population = pygmo.population(pygmo.problem(udp))
    population.push_back(x0)
    algo = pygmo.algorithm(pyoptgra.optgra(**settings))
    population = algo.evolve(population)
    return population.get_x()[0], population.get_f()[0], algo.extract(pyoptgra.optgra).last_result


CASES = [
    ((1.0, -2.0, 0.5, 3.0), 1.0, [0.0, 0.0, 0.0, 0.0]),
    ((-1.0, -2.0, 2.5, 1.0), -1.0, [1.0, 2.0, -1.0, 0.5]),
    ((0.5, -1.0, 1.5, -3.0), 2.0, [-2.0, 0.0, 3.0, 1.0]),
    ((2.0, -0.5, -1.0, 0.0), 0.0, [4.0, -4.0, 4.0, -4.0]),
]


def run_in_threads(jobs):
    results = [None] * len(jobs)
    errors = []

    def work(i, job):
        try:
            results[i] = job()
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i, job), daemon=True) for i, job in enumerate(jobs)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    wall = time.perf_counter() - start
    assert not any(t.is_alive() for t in threads), "a thread did not finish: deadlock or hang"
    assert not errors, errors
    return results, wall


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sleep, work", [(0.0, 200_000), (0.005, 0)], ids=["numpy", "sleep"])
def test_four_threads_give_the_serial_results(sleep, work):
    jobs = [lambda c=c, t=t, x0=x0: solve(SleepyQuartic(c, t, sleep, work), x0) for c, t, x0 in CASES]
    serial, serial_wall = [], 0.0
    for job in jobs:
        start = time.perf_counter()
        serial.append(job())
        serial_wall += time.perf_counter() - start
    threaded, wall = run_in_threads(jobs)
    for (c, t, _), (xs, fs, rs), (xt, ft, rt) in zip(CASES, serial, threaded):
        assert np.array_equal(xs, xt) and np.array_equal(fs, ft)
        assert (rs.status, rs.evaluations["fitness"], rs.evaluations["gradient"]) == (
            rt.status, rt.evaluations["fitness"], rt.evaluations["gradient"]
        )
        assert rs.status == 1
        assert xs == pytest.approx(expected_solution(c, t), abs=1e-3)
    print(f"\nfour threads ({'sleep' if sleep else 'numpy'} fitness): serial {serial_wall:.3f} s, threaded {wall:.3f} s, "
          f"ratio {wall / serial_wall:.2f}")
    if sleep:
        # Each solve spends most of its time asleep with the GIL released: four of them overlap.
        # Perfect overlap would give 0.25; allow for a busy 2-core machine.
        assert wall < 0.6 * serial_wall


@pytest.mark.timeout(60)
def test_threads_with_failing_and_succeeding_solves():
    """An exception in one thread's solve does not disturb the solves of the others."""

    class Boom(Exception):
        pass

    class FailsOnFifthCall(SleepyQuadratic):
        def __init__(self):
            super().__init__(sleep=0.001)
            self.calls = 0

        def fitness(self, x):
            self.calls += 1
            if self.calls == 3:  # call 1 is pygmo's evaluation of the start individual
                raise Boom("thread failure")
            return super().fitness(x)

    def failing():
        with pytest.raises(Boom, match="thread failure"):
            solve(FailsOnFifthCall(), [0.0] * 4)
        return None

    good = lambda: solve(SleepyQuadratic(sleep=0.001), [0.0] * 4)  # noqa: E731
    results, _ = run_in_threads([failing, good, failing, good])
    for r in (results[1], results[3]):
        assert r[0] == pytest.approx(expected_solution(*CASES[0][:2]), abs=1e-5)


class Nested:
    """Outer problem min (x0 - a)^2 + (x1 - b)^2 s.t. x0 + x1 <= 1, where (a, b) is the solution of
    an inner problem solved by pyoptgra inside each outer fitness call, for a centre depending on
    the outer point only through its integer part (so the inner solution is piecewise constant)."""

    def __init__(self, depth):
        self.depth = depth
        self.inner_solves = 0

    def inner_target(self):
        if self.depth == 0:
            return np.array([2.0, 3.0])
        # inner problem: min sum((y - c)^2) s.t. sum(y) = 5 with c = (3, 1): solution (3.5, 1.5)
        x, _, result = solve(NestedInner(self.depth - 1), [0.0, 0.0])
        assert result.status == 1
        self.inner_solves += 1
        return x

    def fitness(self, x):
        a, b = self.inner_target()
        return [(x[0] - a) ** 2 + (x[1] - b) ** 2, x[0] + x[1] - 1.0]

    def get_bounds(self):
        return ([-10.0, -10.0], [10.0, 10.0])

    def get_nic(self):
        return 1


class NestedInner:
    def __init__(self, depth):
        self.depth = depth

    def fitness(self, x):
        shift = 0.0
        if self.depth > 0:  # a third level: solve again inside this fitness
            y, _, result = solve(NestedInner(self.depth - 1), [0.0, 0.0])
            assert result.status == 1
            shift = y[0] - 3.5  # == 0 when the innermost solve is right
        return [(x[0] - 3.0 - shift) ** 2 + (x[1] - 1.0) ** 2, x[0] + x[1] - 5.0]

    def get_bounds(self):
        return ([-10.0, -10.0], [10.0, 10.0])

    def get_nec(self):
        return 1


@pytest.mark.timeout(120)
def test_nested_solve_two_levels():
    x, f, result = solve(Nested(depth=1), [0.0, 0.0])
    # inner solution (3.5, 1.5); outer: projection of (3.5, 1.5) onto x0 + x1 <= 1 -> (1.5, -0.5)
    assert result.status == 1
    assert x == pytest.approx([1.5, -0.5], abs=1e-5)
    assert f[0] == pytest.approx(8.0, abs=1e-4)


@pytest.mark.timeout(120)
def test_nested_solve_three_levels_with_max_iterations():
    x, _, result = solve(Nested(depth=2), [0.0, 0.0], max_iterations=20)
    assert result.status == 1
    assert x == pytest.approx([1.5, -0.5], abs=1e-4)


@pytest.mark.timeout(60)
def test_exception_in_nested_solve_reaches_the_outer_caller():
    class InnerError(Exception):
        pass

    class Raising:
        """Fails at its second call: inside the inner engine, not in pygmo's start evaluation."""

        def __init__(self):
            self.calls = 0

        def fitness(self, x):
            self.calls += 1
            if self.calls == 2:
                raise InnerError("inner solve failed")
            return [(x[0] - 0.25) ** 2]

        def get_bounds(self):
            return ([-1.0], [1.0])

    class Outer:
        def __init__(self):
            self.calls = 0

        def fitness(self, x):
            self.calls += 1
            if self.calls == 3:  # inside the outer engine
                solve(Raising(), [0.5])
            return [x[0] ** 2]

        def get_bounds(self):
            return ([-1.0], [1.0])

    with pytest.raises(InnerError, match="inner solve failed"):
        solve(Outer(), [0.5])
    x, _, result = solve(Nested(depth=1), [0.0, 0.0])
    assert x == pytest.approx([1.5, -0.5], abs=1e-5)
