"""A big pickle's first screen (gui/objects/first_stage.py): its first items and, when the census can
vouch for it, its verdict, while the safe load still runs (held back here by a blocked loader)."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

import gui.objects.first_stage as first_stage_module
import storage.formats.objects.file as objects_file
from gui.objects.document import ObjectsDocument
from storage.formats.objects.file import open_objects
from storage.formats.objects.first import plain_verdict
from storage.formats.objects.pickle import keys
from storage.formats.objects.pickle.safe import LoadCancelled

needs_census = pytest.mark.skipif(keys.plain_census is None, reason="the _keywalk extension is not built")


class BlockedLoad:
    """``open_objects`` held until the test releases it (it stops when the worker is cancelled)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.cancelled = threading.Event()

    def __call__(self, path, kind, cancel=None, *, trusted_size=False, progress=None):
        self.started.set()
        if progress is not None:
            progress(0.25)
        while not self.release.wait(0.01):
            if cancel is not None and cancel():
                self.cancelled.set()
                raise LoadCancelled
        return open_objects(path, kind, cancel, trusted_size=trusted_size, progress=progress)


class Canary:
    """Unpickling this writes the file named in it: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _open(qtbot, path: Path) -> ObjectsDocument:
    document = ObjectsDocument(str(path), "pickle")
    qtbot.addWidget(document)
    document.resize(1000, 650)
    document.show()
    return document


def _key_shown(document: ObjectsDocument, key: str) -> bool:
    return document.view.model.index_for_path([0, key]).isValid()


@needs_census
def test_first_items_and_verdict_show_before_the_load_finishes(qtbot, tmp_path: Path, monkeypatch) -> None:
    load = BlockedLoad()
    monkeypatch.setattr(objects_file, "open_objects", load)
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({f"key {i}": f"value {i}" for i in range(5000)}, 4))
    document = _open(qtbot, path)
    try:
        qtbot.waitUntil(lambda: document.first.verdict is not None)  # the census vouched
        assert document.safety.level == "info"
        qtbot.waitUntil(load.started.is_set)
        assert not document.is_loaded
        assert document.stack.currentIndex() == 2
        assert "Safe:" in document.safety.summary.text()
        assert _key_shown(document, "key 0") and _key_shown(document, "key 99")
        assert not _key_shown(document, "key 100")  # the preview holds the first 100 only
        value = document.view.model.index_for_path([0, "key 7"]).siblingAtColumn(1)
        assert value.data() == "'value 7'"
        assert "dict of 5,000 items" in document.facts.text() and "first 100" in document.facts.text()
        assert document.first.progress.isVisible() and document.first.progress.value() == 25
        assert not document.can_save() and not document.safety.trust_button.isEnabled()
        assert not document.protocol_combo.isVisible()
        document.grab().save(str(tmp_path / "first.png"))
    finally:
        load.release.set()
    qtbot.waitUntil(lambda: document.is_loaded)
    assert document.safety.level == "info" and "Safe:" in document.safety.summary.text()
    assert _key_shown(document, "key 4999")
    assert document.first.progress.isHidden() and document.first.cancel_button.isHidden()
    assert document.can_save() and document.safety.trust_button.isEnabled()
    assert "protocol 4" in document.facts.text()
    document.close_document()


def test_a_pickle_with_a_global_says_checking_until_the_load_has_its_verdict(qtbot, tmp_path: Path,
                                                                             monkeypatch) -> None:
    load = BlockedLoad()
    monkeypatch.setattr(objects_file, "open_objects", load)
    answered = threading.Event()

    def census(path: str, kind: str):
        try:
            return plain_verdict(path, kind)
        finally:
            answered.set()

    monkeypatch.setattr(first_stage_module, "plain_verdict", census)
    canary = tmp_path / "canary"
    value: dict = {f"key {i}": i for i in range(3000)}
    value["zz"] = Canary(str(canary))  # after the items the first look reads
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(value, 4))
    document = _open(qtbot, path)
    try:
        qtbot.waitUntil(answered.is_set)
        qtbot.waitUntil(lambda: _key_shown(document, "key 0"))
        qtbot.wait(50)  # the census' answer (None: it cannot vouch) has been delivered
        assert document.safety.level == "checking" and "Checking…" in document.safety.summary.text()
        assert not document.safety.details_button.isEnabled()
    finally:
        load.release.set()
    qtbot.waitUntil(lambda: document.is_loaded)
    assert document.safety.level == "dangerous" and "open" in document.safety.summary.text()
    assert document.safety.details_button.isEnabled()
    assert not canary.exists()
    document.close_document()


def test_cancel_during_the_load_keeps_the_first_items_and_says_so(qtbot, tmp_path: Path, monkeypatch) -> None:
    load = BlockedLoad()
    monkeypatch.setattr(objects_file, "open_objects", load)
    census_held = threading.Event()

    def held_census(path: str, kind: str):  # the census has not answered when Cancel is pressed
        census_held.wait(10)

    monkeypatch.setattr(first_stage_module, "plain_verdict", held_census)
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({f"key {i}": [i, "x"] for i in range(5000)}, 4))
    document = _open(qtbot, path)
    try:
        qtbot.waitUntil(lambda: document.first.cancel_button.isVisible() and load.started.is_set())
        qtbot.mouseClick(document.first.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(load.cancelled.is_set)  # the worker stopped, not only its answer dropped
        assert "loading was cancelled" in document.facts.text() and "Load all" in document.facts.text()
        assert document.first.progress.isHidden() and document.first.cancel_button.isHidden()
        assert _key_shown(document, "key 0")  # the preview stays, read-only
        assert document.stack.currentIndex() == 2 and document.is_loaded
        assert not document.can_save() and not document.safety.trust_button.isEnabled()
        assert document.safety.level == "checking" and "Not checked" in document.safety.summary.text()
    finally:
        census_held.set()
    qtbot.wait(50)
    assert "Not checked" in document.safety.summary.text()  # a late census answer is dropped
    monkeypatch.setattr(objects_file, "open_objects", open_objects)
    document.facts.linkActivated.emit("reload")  # "Load all"
    qtbot.waitUntil(lambda: document.result is not None)
    assert _key_shown(document, "key 4999") and document.safety.level == "info"
    document.close_document()


@needs_census
def test_a_big_shelf_lists_its_keys_while_its_values_are_checked(qtbot, tmp_path: Path, monkeypatch) -> None:
    import dbm.dumb
    import shelve

    load = BlockedLoad()
    monkeypatch.setattr(objects_file, "open_objects", load)
    base = tmp_path / "big"
    with shelve.Shelf(dbm.dumb.open(str(base), "n")) as shelf:
        for number in range(3000):
            shelf[f"key {number}"] = {"v": list(range(50)), "name": "x" * 100}
    document = ObjectsDocument(str(base), "shelve")
    qtbot.addWidget(document)
    document.show()
    try:
        qtbot.waitUntil(lambda: document.first.verdict is not None)
        assert not document.is_loaded and document.shelf_panel is None
        assert document.safety.level == "info"
        assert "shelf of 3,000 keys" in document.facts.text() and "first 100 keys" in document.facts.text()
        first = document.view.model.index_for_path([0, 0]).siblingAtColumn(1)
        assert first.data() == "'key 0'"
    finally:
        load.release.set()
    qtbot.waitUntil(lambda: document.is_loaded)
    assert document.shelf_panel is not None and document.safety.level == "info"
    assert document.first.progress.isHidden()
    document.close_document()


SHOW_WITHOUT_NUMPY = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.objects.document import ObjectsDocument
document = ObjectsDocument(sys.argv[1], "pickle")
document.show()
def poll():
    if document.is_loaded:
        print(document.safety.level, "numpy" in sys.modules)
        app.quit()
    else:
        QTimer.singleShot(10, poll)
poll()
app.exec()
"""


def _run_child(script: str, path: Path):
    """``script`` in a fresh interpreter (offscreen) on ``path``: what a launch has imported."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    return subprocess.run([sys.executable, "-c", script, str(path)], cwd=root, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(root), "QT_QPA_PLATFORM": "offscreen"})


def test_a_plain_pickle_is_shown_without_importing_numpy(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({f"key {i}": [i, "value"] for i in range(20_000)}, 4))
    out = _run_child(SHOW_WITHOUT_NUMPY, path)
    assert out.stdout.split() == ["info", "False"], out.stderr[-2000:]


FIRST_PAINT = """
import os
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.objects.document import ObjectsDocument
document = ObjectsDocument(sys.argv[1], "pickle")
viewport = document.view.tree.viewport()

class Painted(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and watched is viewport and document.view.model.rowCount() > 0:
            print(document.first.look is not None, document.safety.level, document.is_loaded)
            print(" ".join(sorted(sys.modules)))
            sys.stdout.flush()
            os._exit(0)  # the load (started after this paint) is not waited for
        return False

painted = Painted()
viewport.installEventFilter(painted)
document.resize(900, 600)
document.show()
QTimer.singleShot(60_000, lambda: os._exit(3))
app.exec()
"""

# What the first stage of a big pickle does without: the safe loader (it starts once the first items
# are painted, on a worker), the details and Trust and load, Convert and the grids, the shelf panel,
# editing, find, the loading page (the first items come first).
DEFERRED = ("storage.formats.objects.file", "storage.formats.objects.pickle.safe",
            "storage.formats.objects.pickle.quickscan", "storage.formats.objects.pickle.scan",
            "storage.formats.objects.pickle.guards", "storage.formats.objects.pickle.danger",
            "gui.objects.convert", "gui.common.convert_dialog", "storage.core.convert", "sqlite3",
            "gui.objects.trust", "gui.objects.shelf", "gui.objects.add_item", "gui.values.commands",
            "gui.common.find_bar", "gui.common.loading_page", "gui.arrays.frame", "numpy")


def test_the_first_items_are_painted_before_the_load_and_its_modules(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({f"key {i}": [i, "value"] for i in range(40_000)}, 4))
    out = _run_child(FIRST_PAINT, path)
    assert out.returncode == 0, out.stderr[-2000:]
    stage, modules = out.stdout.splitlines()
    assert stage.split() == ["True", "checking", "False"]  # the preview, no verdict yet, still loading
    assert [name for name in DEFERRED if name in modules.split()] == []
