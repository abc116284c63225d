"""FEniCSx forward models and generators for the boundary-flux problems of docs/problems.md §2–4.

Pure NumPy: :mod:`.prior` (GP flux prior), :mod:`.masks` (sensor masks, docs/math.md §8), :mod:`.draws`
(seeded inputs, file attributes), :mod:`.chunks` (resumable chunk files); the geometry (domain, segments,
sensors, mesh sizes) is :mod:`diffinv.problems.flux.geometry`. DOLFINx: :mod:`.mesh`, :mod:`.velocity`,
:mod:`.sensors`, :mod:`.flux_space` (what the linear and nonlinear solvers share), :mod:`.advdiff`,
:mod:`.adr`. Entry points: :mod:`.linear_generate`, :mod:`.adr_generate` (called by ``python -m data_gen``),
:mod:`.convergence`, :mod:`.figures`. See ``data_gen/README.md``.
"""
