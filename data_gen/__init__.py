"""Paired-data generators: FEniCSx forward models and the 2-D toy densities.

``data_gen`` is the only package that imports DOLFINx, always through :mod:`data_gen.fenics`.
"""
