"""Icons from ``resources/``, found next to the package so they work from any folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


@cache
def app_icon() -> QIcon:
    icon = QIcon()
    for png in sorted((RESOURCES / "icons").glob("datashelf-*.png")):
        icon.addFile(str(png))
    svg = RESOURCES / "datashelf.svg"
    if icon.isNull() and svg.exists():
        icon.addFile(str(svg))
    return icon


@cache
def tab_icon(tab_id: str) -> QIcon:
    path = RESOURCES / "icons" / f"tab-{tab_id}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()
