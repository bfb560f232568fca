"""Small text helpers shared by the views."""

from __future__ import annotations


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'; bytes below 1 KB are shown exactly."""
    if size < 1024:
        return f"{size} byte" + ("" if size == 1 else "s")
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} bytes"  # unreachable; keeps type checkers content
