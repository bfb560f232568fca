"""The Objects tab driven as a user would: open safely, read the report, edit, undo, save."""

from __future__ import annotations

import collections
import datetime
import fractions
import ipaddress
import os
import pathlib
import pickle
import shelve
import uuid
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt

from gui.objects.document import ObjectsDocument
from gui.objects.model import ObjectTreeModel
from storage.formats.objects.doc import ObjectDoc
from storage.formats.objects.pickle.safe import load_safe
from tests.support.gui_helpers import launch, wait_documents


class Canary:
    """Unpickling this writes the file named in it: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def open_one(qtbot, tmp_path: Path, path: Path) -> tuple:
    window = launch(qtbot, tmp_path / "settings", path)
    (document,) = wait_documents(qtbot, window, 1)
    assert isinstance(document, ObjectsDocument), type(document)
    return window, document


def index_of(document: ObjectsDocument, path: list, column: int = 1) -> QModelIndex:
    index = document.view.model.index_for_path(path)
    assert index.isValid(), path
    return index.siblingAtColumn(column)


def test_a_malicious_pickle_is_shown_flagged_and_never_run(qtbot, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"name": "model", "payload": Canary(str(canary))}, 2))
    os.utime(path, ns=(10**9, 10**9))
    before = path.read_bytes()
    window, document = open_one(qtbot, tmp_path, path)
    assert document.safety.level == "dangerous"
    assert "builtins.open" in document.safety.summary.text() or "io.open" in document.safety.summary.text()
    call = index_of(document, [0, "payload"])
    assert "call" in call.data() and call.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert index_of(document, [0, "name"]).data() == "'model'"  # a string is quoted
    window.close_document(document)
    assert not canary.exists()
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == 10**9


def test_edit_undo_redo_and_save_in_the_original_protocol(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "data.pkl"
    original = {"count": 3, "pair": (1, "two"), "tags": {"a"}, "when": datetime.date(2024, 1, 2),
                "flag": True, "counter": collections.Counter("aab")}
    path.write_bytes(pickle.dumps(original, 2))
    window, document = open_one(qtbot, tmp_path, path)
    model = document.view.model
    assert model.setData(index_of(document, [0, "count"]), "41")
    assert index_of(document, [0, "count"]).data() == "41" and document.is_modified()
    window.undo_group.undo()
    assert index_of(document, [0, "count"]).data() == "3" and not document.is_modified()
    window.undo_group.redo()
    assert model.setData(index_of(document, [0, "pair", 1]), "deux")  # inside a tuple
    assert model.setData(index_of(document, [0, "count"], 0), "total")  # rename a key
    assert model.setData(index_of(document, [0, "when"]), "2025-03-04")
    assert not model.setData(index_of(document, [0, "when"]), "not a date")
    assert model.setData(index_of(document, [0, "flag"]), False)  # the delegate's true/false choice
    assert window.save_current()
    saved = pickle.loads(path.read_bytes())
    assert saved == {"total": 41, "pair": (1, "deux"), "tags": {"a"}, "when": datetime.date(2025, 3, 4),
                     "flag": False,
                     "counter": collections.Counter("aab")}
    assert path.read_bytes()[:2] == b"\x80\x02"  # protocol 2 kept
    assert not document.is_modified()


def test_add_delete_move_and_change_type_through_the_view(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps({"items": [1, 2, 3], "s": frozenset({1})}, 4))
    window, document = open_one(qtbot, tmp_path, path)
    view = document.view
    assert view.insert([0, "items"], 3, 3, "four")
    view.delete([0, "items"], 0)
    view.undo_stack.push(__import__("gui.values.commands", fromlist=["MoveCommand"]).MoveCommand(
        view.model, [0, "items"], 0, 2))
    assert view.change_type([0, "items", 0], "str")
    assert view.insert([0, "s"], 1, 1, 7)
    assert not view.insert([0, "s"], 1, 1, 7)  # already in the set: refused, nothing pushed
    assert document.save_as(str(tmp_path / "copy.pkl"))
    assert pickle.loads((tmp_path / "copy.pkl").read_bytes()) == {"items": ["3", "four", 2],
                                                                  "s": frozenset({1, 7})}
    for _ in range(5):
        window.undo_group.undo()
    assert document.view.model.doc.value == {"items": [1, 2, 3], "s": frozenset({1})}


def test_save_as_in_another_protocol(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps([1, "x", (2.5, None)], 4))
    _window, document = open_one(qtbot, tmp_path, path)
    document.protocol_combo.setCurrentIndex(0)
    assert document.save_as(str(tmp_path / "p0.pkl"))
    data = (tmp_path / "p0.pkl").read_bytes()
    assert not data.startswith(b"\x80") and pickle.loads(data) == [1, "x", (2.5, None)]


def test_shelf_keys_values_and_save(qtbot, tmp_path: Path) -> None:
    base = tmp_path / "prefs"
    canary = tmp_path / "canary"
    with shelve.open(str(base), protocol=2) as shelf:
        shelf["colour"] = "blue"
        shelf["sizes"] = [1, 2, 3]
        shelf["evil"] = Canary(str(canary))
    window, document = open_one(qtbot, tmp_path, Path(str(base) + ".dat"))
    panel = document.shelf_panel
    assert panel is not None and document.safety.level == "dangerous"
    assert sorted(panel.keys.item(i).text() for i in range(panel.keys.count())) == ["colour", "evil", "sizes"]
    with qtbot.waitSignal(document.valueShown):
        assert panel.select_key("sizes")
    assert index_of(document, [0, 1]).data() == "2"
    assert document.view.model.setData(index_of(document, [0, 1]), "20")
    assert panel.add_key("new") and panel.rename_key("colour", "color") and panel.delete_key("evil")
    assert window.save_current()
    with shelve.open(str(base), flag="r") as shelf:
        assert dict(shelf) == {"color": "blue", "sizes": [1, 20, 3], "new": None}
    assert not canary.exists()


def test_arrays_show_shape_range_table_and_plot(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.arange(12.0).reshape(3, 4))
    _window, document = open_one(qtbot, tmp_path, path)
    pane = document.view.array_pane
    assert pane is not None and pane.isVisibleTo(document)
    qtbot.waitUntil(lambda: "max 11" in pane.info.text())  # the range is computed on a worker
    assert "shape (3, 4)" in pane.info.text() and "min 0" in pane.info.text()
    assert pane.model.rowCount() == 3 and pane.model.columnCount() == 4
    assert not document.can_save()


def test_joblib_with_compression_round_trips(qtbot, tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "m.joblib"
    joblib.dump({"w": np.arange(4.0), "n": 1}, path, compress=("gzip", 3))
    window, document = open_one(qtbot, tmp_path, path)
    assert "gzip" in document.facts.text()
    assert document.view.model.setData(index_of(document, [0, "n"]), "2")
    assert window.save_current()
    loaded = joblib.load(path)
    assert loaded["n"] == 2 and list(loaded["w"]) == [0.0, 1.0, 2.0, 3.0]
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # still gzip


def test_object_tree_model_passes_the_tester(qtmodeltester) -> None:
    value = {"list": list(range(5)), "tuple": (1, (2, 3)), "set": {1, 2}, "frozen": frozenset({"x"}),
             "counter": collections.Counter("ab"), "array": np.zeros(3), "bytes": b"\x00",
             # rebuilt by the safe loader since issue 14
             "deque": collections.deque([1, 2], 3), "fraction": fractions.Fraction(1, 3),
             "uuid": uuid.UUID(int=1),
             "address": ipaddress.ip_address("::1"), "path": pathlib.PurePosixPath("/a"),
             "zoned": datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))}
    load = load_safe(pickle.dumps(value, 4))
    model = ObjectTreeModel(ObjectDoc(load.value, load.protocol, label="x.pkl"))
    qtmodeltester.check(model, force_py=True)
    top = model.index(0, 0)
    while model.canFetchMore(top):
        model.fetchMore(top)
    for row in range(model.rowCount(top)):
        child = model.index(row, 0, top)
        if model.canFetchMore(child):
            model.fetchMore(child)  # the tester stays connected: it checks each batch as it arrives
    assert model.rowCount(model.index_for_path([0, "counter"])) == 2  # its keys: rebuilt since issue 14
    assert model.index_for_path([0, "zoned"]).siblingAtColumn(1).data() == "2024-01-01 00:00:00+01:00"


def test_a_million_items_open_lazily(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps(list(range(1_000_000)), 4))
    _window, document = open_one(qtbot, tmp_path, path)
    top = document.view.model.index(0, 0)
    qtbot.waitUntil(lambda: document.view.model.rowCount(top) > 0)
    assert document.view.model.rowCount(top) < 1_000_000  # made in batches, not all at once


def test_old_joblib_companion_arrays_are_shown(qtbot, tmp_path: Path) -> None:
    from joblib.numpy_pickle_compat import NDArrayWrapper

    array = np.arange(12, dtype="<i8").reshape(3, 4)
    data = pickle.dumps({"weights": NDArrayWrapper("old.pkl_01.npy", np.ndarray)}, protocol=2)
    path = tmp_path / "old.pkl"
    path.write_bytes(data.replace(b"joblib.numpy_pickle_compat\n", b"joblib.numpy_pickle\n"))
    np.save(tmp_path / "old.pkl_01.npy", array)
    _window, document = open_one(qtbot, tmp_path, path)
    assert document.view.select_path([0, "weights"])
    pane = document.view.array_pane
    assert pane is not None and "shape (3, 4)" in pane.info.text()
    assert document.view.detail.currentWidget() is pane
    (tmp_path / "old.pkl_01.npy").unlink()
    document.view.refresh_detail()
    assert "missing" in document.view.text.toPlainText()


def test_trust_and_load_runs_in_another_process_and_shows_reprs(qtbot, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    canary = tmp_path / "canary"
    path = tmp_path / "trusted.pkl"
    path.write_bytes(pickle.dumps({"data": collections.OrderedDict(a=1), "ran": Canary(str(canary))}, 4))
    window, document = open_one(qtbot, tmp_path, path)
    assert not canary.exists()
    asked = []

    def answer(box: QMessageBox) -> int:
        asked.append(box.text())
        box.done(0)
        return 0

    # The confirmation names the dangerous call; cancelling loads nothing.
    monkeypatch.setattr(QMessageBox, "exec", answer)
    document.trust.trust_and_load()
    assert asked and "open" in asked[0] and not document.trusted and not canary.exists()
    document.trust.load_trusted()  # what "Trust and load" does once confirmed
    qtbot.waitUntil(lambda: document.trusted, timeout=30_000)
    assert canary.exists()  # the file's code ran: in the child process
    model = document.view.model
    ran = model.index_for_path([0, "ran"])
    assert ran.isValid() and "TextIOWrapper" in ran.siblingAtColumn(2).data()
    assert model.index_for_path([0, "data", "(value)", "a"]).siblingAtColumn(1).data() == "1"
    assert not document.can_save() and not window.save_current()
    document.safety.trust_button.click()  # "Back to the safe view": read again, safely
    qtbot.waitUntil(lambda: not document.trusted and document.stack.currentIndex() == 2)
    assert "call" in document.view.model.index_for_path([0, "ran"]).siblingAtColumn(1).data()


def test_python_313_sqlite_shelf_opens_and_saves(qtbot, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "cache.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Dict (key BLOB UNIQUE NOT NULL, value BLOB NOT NULL)")
    conn.executemany("INSERT INTO Dict VALUES (?, ?)", [(b"a", pickle.dumps({"n": 1}, 5)),
                                                        (b"b", pickle.dumps([1, 2], 5))])
    conn.commit()
    conn.close()
    window, document = open_one(qtbot, tmp_path, path)
    assert document.shelf_panel is not None and "sqlite" in document.shelf_panel.title.text()
    qtbot.waitUntil(lambda: document.view.model.index_for_path([0, "n"]).isValid())
    assert document.view.model.setData(index_of(document, [0, "n"]), "5")
    assert window.save_current()
    conn = sqlite3.connect(path)
    raw = conn.execute("SELECT value FROM Dict WHERE key = ?", (b"a",)).fetchone()[0]
    conn.close()
    assert pickle.loads(raw) == {"n": 5} and raw[1] == 5  # written back in protocol 5
