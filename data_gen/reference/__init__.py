"""MCMC reference posteriors for the flux problems (docs/math.md §18; the file: docs/design.md §6).

Pure NumPy/SciPy, no DOLFINx: :mod:`.forward` (the linear map as a forward model), :mod:`.posterior` (the
log-posterior on the whitened latent Gaussian and its gradient), :mod:`.laplace` (MAP and Laplace covariance),
:mod:`.gpcn` (the generalised pCN move for emcee, the chains, ArviZ diagnostics, the stopping rule),
:mod:`.cases` (one resumable file per test case), :mod:`.generate` (the sharded run). The forward model of
the nonlinear problem is :class:`data_gen.fem.adr.NonlinearADR`. Entry point: ``python -m data_gen.reference``
(``data_gen/README.md``).
"""
