"""The shared find bar and PathFinder: Enter / Shift+Enter / Esc, matches found in a worker and
stepped through both ways, a stale search's answer dropped, and a search that outlives its
document's widgets answering no one."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from shiboken6 import isValid

from gui.common.find_bar import FindBar, PathFinder, walk_paths
from gui.common.workers import _running

TREE = {"a": {"apple": 1, "b": ["pineapple", "pear"]}, "c": "grape apple"}


def _children(value):
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return list(enumerate(value))
    return None


def _job_for(text: str):
    def matches(path, value, _parent) -> bool:
        return text in str(path[-1]) or (isinstance(value, str) and text in value)

    return lambda limit, cancel: walk_paths(TREE, _children, matches, limit, cancel)


def test_walk_paths_in_document_order_with_limit_and_cancel() -> None:
    assert _job_for("apple")(100, lambda: False) == [["a", "apple"], ["a", "b", 0], ["c"]]
    assert _job_for("apple")(2, lambda: False) == [["a", "apple"], ["a", "b", 0]]


def test_bar_and_finder_by_keyboard(qtbot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    bar = FindBar(host)
    selected: list = []
    finder = PathFinder(bar, _job_for, lambda path: selected.append(path) or True, host)
    host.show()
    bar.open()
    assert bar.isVisible()
    qtbot.keyClicks(bar.edit, "apple")
    with qtbot.waitSignal(finder.stepped, timeout=5000):
        qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert selected[-1] == ["a", "apple"] and bar.note.text() == "1 of 3"
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert selected[-1] == ["a", "b", 0]
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert selected[-1] == ["c"] and bar.note.text() == "3 of 3"  # wrapped to the last
    qtbot.keyClick(bar.edit, Qt.Key.Key_Escape)
    assert not bar.isVisible()


def test_a_stale_or_orphaned_answer_is_dropped(qtbot) -> None:
    gate = threading.Event()

    def slow_job(text: str):
        def job(limit, cancel):
            gate.wait(5)
            return [["first"]]

        return job

    host = QWidget()
    qtbot.addWidget(host)
    bar = FindBar(host)
    selected: list = []
    finder = PathFinder(bar, slow_job, lambda path: selected.append(path) or True, host)
    bar.edit.setText("x")
    finder.find()
    assert finder.busy and bar.note.text() == "Searching…"
    bar.edit.setText("y")  # another text: the running search is forgotten
    assert not finder.busy
    gate.set()
    qtbot.waitUntil(lambda: not _running)
    assert selected == []
    # the widgets go while a search runs: its answer finds no one and raises nothing
    gate.clear()
    finder.find()
    host.deleteLater()
    qtbot.waitUntil(lambda: not isValid(bar))
    gate.set()
    qtbot.waitUntil(lambda: not _running)
    assert selected == []
