"""FEniCSx forward models for the boundary-flux problems of PROBLEMS.md §2–4.

Shared pieces (pure NumPy, no DOLFINx): :mod:`.layout` (domain, segments, sensors, mesh sizes),
:mod:`.prior` (GP flux prior), :mod:`.masks` (sensor masks). DOLFINx pieces: :mod:`.mesh`, :mod:`.velocity`,
:mod:`.sensors`, :mod:`.flux_space` (what the linear and nonlinear solvers share), :mod:`.advdiff`,
:mod:`.adr`. Generation: :mod:`.linear_generate`, :mod:`.adr_generate`, :mod:`.chunks`.
"""
