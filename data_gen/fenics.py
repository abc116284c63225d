"""The one place that imports FEniCSx, in the order the PyPI wheel needs.

``dolfinx-solver-real`` (PyPI) ships PETSc/MPI libraries that must be loaded by ``dolfinx_solver``
before ``dolfinx``, ``petsc4py`` or ``mpi4py`` are imported. With conda-forge's ``fenics-dolfinx``
there is no ``dolfinx_solver`` and nothing to order. Import DOLFINx objects from here::

    from data_gen.fenics import dolfinx, MPI, PETSc
"""

try:
    import dolfinx_solver  # noqa: F401  (must precede dolfinx / petsc4py / mpi4py)
except ImportError:  # conda-forge FEniCSx: nothing to pre-load
    dolfinx_solver = None

import dolfinx  # noqa: E402
import dolfinx.fem.petsc  # noqa: E402,F401
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

__all__ = ["MPI", "PETSc", "dolfinx"]
