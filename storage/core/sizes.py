"""The one way Datashelf writes a size for people, in the window and in ``inspect`` alike.

Binary multiples with the familiar names (1 KB = 1,024 bytes, as Windows and most file managers
write them), one decimal that is dropped when it is zero: "900 bytes", "1.5 KB", "984 KB",
"1 GB".
"""

from __future__ import annotations

_UNITS = (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10))


def size_text(size: int) -> str:
    """``size`` bytes for people: "1 byte", "900 bytes", "1.5 KB", "984 KB", "1 GB"."""
    for unit, scale in _UNITS:
        if size >= scale:
            return f"{size / scale:,.1f} {unit}".replace(".0 ", " ")
    return f"{size:,} byte" + ("" if size == 1 else "s")
