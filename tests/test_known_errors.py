"""Known errors vs bugs (issue 15, item 6, after qutebrowser's KnownError/BugError).

The file's and the environment's faults get their own message; a bug of ours says so, never blames
the file, and offers its traceback (Copy details) for a bug report.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QPushButton

from storage.core.errors import BUG_MESSAGE, ParseError, classify
from tests.support.gui_helpers import launch, wait_documents


def _raise(exc: BaseException):
    def broken(*_args, **_kwargs):
        raise exc
    return broken


# -- classifying (storage, no Qt) --------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: ParseError("not valid JSON"),
    lambda: FileNotFoundError(2, "No such file or directory", "/gone"),
    lambda: MemoryError(),
    lambda: RecursionError("maximum recursion depth exceeded"),
    lambda: json.JSONDecodeError("Expecting value", "x", 0),
    lambda: pickle.UnpicklingError("invalid load key, 'x'."),
    lambda: sqlite3.DatabaseError("file is not a database"),
    lambda: EOFError("Compressed file ended before the end-of-stream marker was reached"),
])
def test_the_file_s_and_the_environment_s_faults_are_not_bugs(make) -> None:
    failure = classify(make())
    assert not failure.bug and failure.details == ""
    assert failure.message and BUG_MESSAGE not in failure.message


@pytest.mark.parametrize("exc", [ZeroDivisionError("division by zero"), KeyError("x"),
                                 AttributeError("no attribute"), ValueError("bad"), TypeError("t")])
def test_anything_else_is_a_bug_of_ours_with_its_traceback(exc) -> None:
    try:
        raise exc
    except Exception as caught:
        failure = classify(caught)
    assert failure.bug and failure.message.startswith(BUG_MESSAGE)
    assert type(exc).__name__ in failure.message
    assert "Traceback" in failure.details and "test_known_errors.py" in failure.details


# -- in the window -------------------------------------------------------------------------------

def _copy_details(qtbot, window) -> str:
    [notice] = window.notices.notices()
    button = notice.findChild(QPushButton, "copyDetails")
    assert button is not None and button.text() == "Copy details"
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return QGuiApplication.clipboard().text()


def test_a_bug_while_sniffing_says_so_with_its_traceback(qtbot, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"a": 1}')
    monkeypatch.setattr("storage.sniff.detect.sniff", _raise(ZeroDivisionError("division by zero")))
    window = launch(qtbot, tmp_path / "settings")
    with qtbot.waitSignal(window.openFailed, timeout=5000) as failed:
        window.open_paths([str(path)])
    assert BUG_MESSAGE in failed.args[1]
    [message] = window.notices.messages()
    assert str(path) in message and BUG_MESSAGE in message
    assert "Unexpected error" not in message
    details = _copy_details(qtbot, window)
    assert "Traceback" in details and "ZeroDivisionError: division by zero" in details
    assert window.all_documents() == []


@pytest.mark.parametrize(("name", "content", "target"), [
    ("data.pkl", pickle.dumps({"a": 1}), "storage.formats.objects.file.open_objects"),
    ("data.json", b'{"a": 1}', "gui.json.document.load_for_editor"),
])
def test_a_bug_while_loading_a_document_never_blames_the_file(qtbot, tmp_path: Path, monkeypatch,
                                                              name, content, target) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    monkeypatch.setattr(target, _raise(ZeroDivisionError("division by zero")))
    window = launch(qtbot, tmp_path / "settings")
    window.open_paths([str(path)])
    (document,) = wait_documents(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.notices.messages() != [])
    [message] = window.notices.messages()
    assert message.startswith(f"{path.name}: {BUG_MESSAGE}")
    details = _copy_details(qtbot, window)
    assert "ZeroDivisionError: division by zero" in details
    texts = " ".join(label.text() for label in document.findChildren(QLabel) if label.isVisibleTo(document))
    assert BUG_MESSAGE in texts and "Unexpected error" not in texts


def test_a_truncated_file_still_gets_the_file_s_message(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"key": list(range(100))}, protocol=4)[:-20])
    window = launch(qtbot, tmp_path / "settings")
    window.open_paths([str(path)])
    (document,) = wait_documents(qtbot, window, 1)
    texts = " ".join(label.text() for label in document.findChildren(QLabel) if label.isVisibleTo(document))
    assert "not a valid pickle" in texts and BUG_MESSAGE not in texts
    assert all(notice.findChild(QPushButton, "copyDetails") is None
               for notice in window.notices.notices())
