"""Demo: solve Hock-Schittkowski 71 with pyoptgra as a pygmo algorithm.

    minimise  x1 x4 (x1 + x2 + x3) + x3
    subject to  x1^2 + x2^2 + x3^2 + x4^2 = 40,  x1 x2 x3 x4 >= 25,  1 <= x_i <= 5
"""

import numpy as np
import pygmo

import pyoptgra

problem = pygmo.problem(pygmo.hock_schittkowski_71())
population = pygmo.population(problem)
population.push_back([1.0, 5.0, 5.0, 1.0])  # the standard start point

algorithm = pygmo.algorithm(pyoptgra.optimize(max_iterations=150))
population = algorithm.evolve(population)

x, f = population.get_x()[0], population.get_f()[0]
print("pyoptgra on Hock-Schittkowski 71 from x0 = [1, 5, 5, 1]")
print(f"  x          = {np.array2string(x, precision=8)}")
print(f"  objective  = {f[0]:.10f}   (published optimum 17.0140173)")
print(f"  equality   = {f[1]:+.2e}   inequality = {f[2]:+.2e}")
print(f"  evaluations: {population.problem.get_fevals()} fitness, {population.problem.get_gevals()} gradient")
print(algorithm.extract(pyoptgra.optgra).get_extra_info().splitlines()[-1].strip())
