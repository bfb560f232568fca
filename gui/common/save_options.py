"""What every document's save honours: the "keep a .bak copy" preference (File menu).

The main window sets it from the settings at launch and when the menu item is toggled; the
documents read it when they save. Shelves (several files) and HDF5 (its own .bak before the
first in-place write) do not use it.
"""

from __future__ import annotations

_state = {"backup": False}


def set_backup(enabled: bool) -> None:
    _state["backup"] = bool(enabled)


def backup() -> bool:
    """True when a save should keep the file it replaces as NAME.bak."""
    return _state["backup"]
