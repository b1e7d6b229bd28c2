"""NIR (Neuromorphic Intermediate Representation) export and import.

* :func:`to_nir` / :func:`write_nir` — a neuro model (``Sequential``, ``Graph``, any layer) -> a
  ``nir.NIRGraph`` / a ``.nir`` file (written atomically);
* :func:`from_nir` — a ``.nir`` file or ``nir.NIRGraph`` -> a runnable :class:`neuro.nn.Graph`;
* :func:`describe` — a printable summary of a graph (``neuro inspect``).

The discretisation of NIR's continuous-time neurons is documented in
:mod:`neuro.nir.discretization`, the lenient fix-ups in :mod:`neuro.nir.spec`. Writing and
``nir.NIRGraph`` objects need the ``nir`` extra (``pip install 'neuro[nir]'``); reading files does
not.
"""

from neuro.nir._deps import NIRError, NIRExportWarning, NIRFixupWarning
from neuro.nir.exporter import to_nir, write_nir
from neuro.nir.importer import from_nir, load_spec

__all__ = ["NIRError", "NIRExportWarning", "NIRFixupWarning", "from_nir", "load_spec", "to_nir",
           "write_nir"]
