"""Lazy imports of the optional ``nir`` extra and the warning/error types of ``neuro.nir``."""

from __future__ import annotations

import importlib
from types import ModuleType


class NIRError(ValueError):
    """A NIR graph or file that neuro cannot import or a model it cannot export (names the culprit)."""


class NIRFixupWarning(UserWarning):
    """Lenient import changed something in a non-conforming NIR graph (the message says what)."""


class NIRExportWarning(UserWarning):
    """Export wrote a graph whose standard NIR fields do not capture the model exactly."""


def require_nir() -> ModuleType:
    """The ``nir`` package, or an ImportError naming the extra that provides it."""
    try:
        return importlib.import_module("nir")
    except ImportError as err:
        raise ImportError("NIR export needs the 'nir' package: pip install 'neuro[nir]'") from err
