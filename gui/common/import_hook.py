"""A cheaper answer to the question PySide6 asks about every module imported after it.

PySide6's ``__feature__`` support (``from __feature__ import snake_case``) hooks ``import``: each new
module is asked whether it uses PySide, by looking for "PySide6" in its source through
``inspect.getsource``. That call maps every loaded module to its file each time, so it costs
about 0.3–1 ms per module: tens of milliseconds of every launch, and more when a tab imports
NumPy or h5py (issue 16). :func:`lighten` gives the same answer from the file's bytes.
"""

from __future__ import annotations

from types import ModuleType


def uses_pyside(module: ModuleType) -> bool:
    """Whether ``module``'s source mentions PySide6 (False without a readable .py source), as
    PySide's own check decides it."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:
        return False


def lighten() -> bool:
    """Replace PySide's check (once PySide6 is imported); False when this PySide has none."""
    try:
        from shibokensupport import feature  # PySide6's embedded support package
    except ImportError:
        return False
    if not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = uses_pyside
    return True
