"""Sensitivity analysis on a small trajectory transcription.

A cart (a 1-D double integrator, x'' = u) moves from rest at 0 to rest at 1 in time T, with the
control held constant over each of N segments.  Minimise the control energy sum(u_k^2) dT/N with
the speed limited to v_max at every node.  The final time T is a *parameter*: a fixed variable,
so the sensitivity matrices say how the optimum follows it.

The script optimises, prepares the sensitivity at the optimum, prints the active constraints,
their Lagrange multipliers and how the optimum moves when the target or T changes, then compares
a linear update (no evaluation) with a full re-optimisation.

Run: python examples/sensitivity_transfer.py
"""

import numpy as np
import pygmo

import pyoptgra

N = 12
V_MAX = 0.1


class CartTransfer:
    """Variables u_0..u_{N-1}, T.  Constraints: x_N - target = 0, v_N = 0, v_k - v_max <= 0."""

    def __init__(self, target=1.0, v_max=V_MAX):
        self.target, self.v_max = target, v_max

    def _trajectory(self, u, dt):
        v = np.concatenate([[0.0], np.cumsum(u) * dt])             # v_k at the nodes
        x = np.sum(v[:-1] * dt + 0.5 * u * dt**2)                   # x_N
        return x, v

    def fitness(self, z):
        u, T = z[:N], z[N]
        dt = T / N
        x, v = self._trajectory(u, dt)
        energy = float(np.sum(u**2) * dt)
        return [energy, x - self.target, v[-1], *(v[1:-1] - self.v_max)]

    def gradient(self, z):
        u, T = z[:N], z[N]
        dt = T / N
        k = np.arange(N)
        # x_N = dt^2 sum_k u_k (N - k - 1/2),  v_j = dt sum_{k<j} u_k
        dx_du = dt**2 * (N - k - 0.5)
        dx_dT = 2.0 * dt / N * np.sum(u * (N - k - 0.5))
        rows = [
            np.concatenate([2 * u * dt, [np.sum(u**2) / N]]),
            np.concatenate([dx_du, [dx_dT]]),
            np.concatenate([np.full(N, dt), [np.sum(u) / N]]),
        ]
        for j in range(1, N):
            rows.append(np.concatenate([np.where(k < j, dt, 0.0), [np.sum(u[:j]) / N]]))
        return np.concatenate(rows)

    def get_bounds(self):
        return ([-1.0] * N + [1.0], [1.0] * N + [100.0])

    def get_nec(self):
        return 2

    def get_nic(self):
        return N - 1


def solve(udp, T, start):
    """Optimise the controls for a fixed final time T."""
    problem = pygmo.problem(udp)
    problem.c_tol = [1e-9] * problem.get_nc()
    population = pygmo.population(problem)
    population.push_back(np.concatenate([start, [T]]))
    algo = pyoptgra.optgra(variable_types=[0] * N + [1], bounds_to_constraints=False, max_iterations=200)
    population = pygmo.algorithm(algo).evolve(population)
    return problem, population.get_x()[0], population.get_f()[0]


def main():
    T = 15.0
    problem, z, f = solve(CartTransfer(), T, np.zeros(N))
    print(f"optimum at T = {T}: energy {f[0]:.6f}, max violation {np.abs(f[1:3]).max():.1e}")
    print("controls:", np.array2string(z[:N], precision=4))

    algo = pyoptgra.optgra(variable_types=[0] * N + [1], bounds_to_constraints=False)
    algo.prepare_sensitivity(problem, z)
    sens = algo.sensitivity()
    names = ["final position", "final speed"] + [f"speed limit at node {k}" for k in range(1, N)]
    print("\nactive constraints and Lagrange multipliers (d energy / d shift of the constraint):")
    for k in np.nonzero(sens.active)[0]:
        print(f"  {names[k]:<24} {sens.multipliers[k]: .6f}")
    print(f"\nd energy / d T along the optimum:  {sens.constraint_vs_parameter[-1, N]: .6f}")
    print("d u / d target (first four):     ", np.array2string(-sens.variable_vs_active[:4, 0], precision=4))

    # Move the target from 1 to 1.02: constraint 0 reads x_N - 1 - 0.02, i.e. C - Delta with Delta = 0.02.
    shift = 0.02
    delta = np.zeros(sens.active.size)
    delta[0] = shift
    z_linear, y_linear, flag = algo.linear_update_delta(delta)
    _, z_new, f_new = solve(CartTransfer(target=1.0 + shift), T, z[:N])
    error = np.abs(np.array(z_linear) - z_new).max()
    print(f"\ntarget 1 -> {1 + shift}: linear update (flag {flag}, no evaluation) predicts energy "
          f"{y_linear[-1]:.6f}; re-optimised energy {f_new[0]:.6f}")
    print(f"largest control difference, linear update vs re-optimisation: {error:.2e} "
          f"(the move itself: {np.abs(z_new - z).max():.2e})")
    return error, np.abs(z_new - z).max()


if __name__ == "__main__":
    main()
