"""The Qt binding itself: guard against a known PySide6 release that corrupts None."""

from __future__ import annotations

import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QLabel


def test_void_calls_keep_none_alive(qtbot) -> None:
    """PySide6 6.12.0 on CPython 3.11 loses a reference to None per void call (then aborts).

    pyproject.toml excludes that release; this fails loudly if such a binding is installed.
    """
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
    after = sys.getrefcount(None)
    assert after - before > -100, f"PySide6 {pyside_version} leaks references to None"
