"""The HDF5 tab's first stage (issue 16): the root's members on screen before NumPy and h5py load,
replaced by the real tree, the user's selection kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

import gui.hdf5.document as document_module
from tests.support.gui_helpers import launch, wait_documents
from tests.support.hdf5_samples import h5py

ROOT = Path(__file__).resolve().parents[3]


def _file(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        for number in range(40):
            f.create_dataset(f"d{number:02}", data=np.arange(12.0).reshape(3, 4))
        f.create_group("group").create_dataset("inner", data=[1, 2])
        f.create_dataset("text", data="hello", dtype=h5py.string_dtype())
        f["alias"] = h5py.SoftLink("/group")
        f["lost"] = h5py.SoftLink("/nowhere")
    return path


def _rows(model, parent) -> list[tuple[str, str, str]]:
    return [tuple(model.data(model.index(r, c, parent)) for c in range(3))
            for r in range(model.rowCount(parent))]


@pytest.fixture
def held(monkeypatch):
    """h5py's open waits until the test lets it go: the first stage stays on screen meanwhile."""
    gate = threading.Event()
    real = document_module.open_file

    def slow(*args):
        gate.wait(30)
        return real(*args)

    monkeypatch.setattr(document_module, "open_file", slow)
    yield gate
    gate.set()


def test_the_first_level_shows_before_h5py_and_the_real_tree_replaces_it(
        qtbot, qtmodeltester, tmp_path, _private_dirs, held) -> None:
    path = _file(tmp_path / "first.h5")
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1, loaded=False)
    qtbot.waitUntil(lambda: document.preview is not None)
    model = document.tree_model
    root = model.index(0, 0)
    assert model.h5 is None and model.preview
    assert model.data(root) == "first.h5" and model.data(root.siblingAtColumn(1)) == "44 members"
    preview = _rows(model, root)
    assert preview[:2] == [("alias", "1 member", "group"), ("d00", "3 × 4", "float64")]
    assert ("lost", "", "soft link") in preview and ("text", "scalar", "string (vlen, utf-8)") in preview
    assert document.message.isVisible() and "Reading…" in document.message.text()
    group = model.index(preview.index(("group", "1 member", "group")), 0, root)
    assert not model.hasChildren(group) and not model.canFetchMore(group)  # nothing below the first level
    qtmodeltester.check(model)
    # the user moves down the tree while h5py is still loading
    document.tree.setFocus()
    document.tree.setCurrentIndex(root)
    qtbot.keyClick(document.tree, Qt.Key.Key_Down)
    qtbot.keyClick(document.tree, Qt.Key.Key_Down)
    assert model.node(document.tree.currentIndex()).path == "/d00"
    assert "Shape:  3 × 4" in document.info_text.toPlainText()
    document.grab().save("/tmp/h5peek-first-stage.png")
    assert "numpy" not in sys.modules or not document.data_side  # the data side waits for h5py

    held.set()
    qtbot.waitUntil(lambda: document.is_loaded and document.h5 is not None)
    qtbot.waitUntil(lambda: document.info is not None and document.info.path == "/d00")
    model = document.tree_model
    root = model.index(0, 0)
    assert not model.preview and _rows(model, root) == preview
    assert model.node(document.tree.currentIndex()).path == "/d00"  # the selection is kept
    assert not document.message.isVisible()
    assert document.table_model.rowCount() == 3 and document.table_model.columnCount() == 4
    group = model.index(preview.index(("group", "1 member", "group")), 0, root)
    assert model.hasChildren(group)
    document.tree.expand(group)
    qtbot.waitUntil(lambda: model.rowCount(group) == 1)
    qtmodeltester.check(model)
    document.grab().save("/tmp/h5peek-after.png")


def test_a_file_outside_the_first_stage_opens_as_before(qtbot, tmp_path, _private_dirs, held) -> None:
    path = tmp_path / "paged.h5"
    with h5py.File(path, "w", fs_strategy="page") as f:  # a superblock extension: only h5py reads it
        for number in range(30):
            f.create_dataset(f"d{number}", data=[number])
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1, loaded=False)
    qtbot.waitUntil(lambda: document._open_worker is not None)  # straight to the h5py reader
    assert document.preview is None and document.tree_model.rowCount() == 0
    held.set()
    qtbot.waitUntil(lambda: document.is_loaded)
    root = document.tree_model.index(0, 0)
    qtbot.waitUntil(lambda: document.tree_model.rowCount(root) == 30)


def test_members_only_h5py_describes_end_the_first_stage_list(qtbot, tmp_path, _private_dirs, held) -> None:
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=[1])
    path = tmp_path / "linked.h5"
    with h5py.File(path, "w") as f:
        for name in ("a", "b", "link", "z"):
            f[name] = h5py.ExternalLink("other.h5", "/x") if name == "link" else [1]
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1, loaded=False)
    qtbot.waitUntil(lambda: document.preview is not None)
    root = document.tree_model.index(0, 0)
    assert [row[0] for row in _rows(document.tree_model, root)] == ["a", "b"]
    assert "first 2 members" in document.message.text()
    held.set()
    model = document.tree_model
    qtbot.waitUntil(lambda: document.is_loaded and model.rowCount(model.index(0, 0)) == 4)
    assert _rows(model, model.index(0, 0))[2] == ("link", "1", "int64")


# Launch as a user does; once the first-stage tree is painted, report what is imported.
CHILD = """
import json, sys
import main
import gui.hdf5.document as d

real = d.Hdf5Document._after_preview

def after(self):
    model = self.tree_model
    rows = model.rowCount(model.index(0, 0))
    print("PAINTED " + json.dumps({"rows": rows, "preview": model.preview,
                                   "modules": sorted(sys.modules)}), flush=True)
    sys.stdout.flush()
    import os
    os._exit(0)

d.Hdf5Document._after_preview = after
import os, threading
threading.Timer(60, lambda: (print("NEVER PAINTED", flush=True), os._exit(3))).start()
sys.exit(main.main(sys.argv[1:]))
"""


def test_numpy_and_h5py_wait_until_the_first_stage_is_painted(tmp_path) -> None:
    path = _file(tmp_path / "fresh.h5")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DATASHELF_SETTINGS_DIR", None)
    command = [sys.executable, "-c", CHILD, "--settings-dir", str(tmp_path / "settings"), str(path)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("PAINTED "))
    found = json.loads(line.removeprefix("PAINTED "))
    assert found["preview"] and found["rows"] == 44
    heavy = sorted(m for m in found["modules"] if m.split(".")[0] in ("numpy", "h5py"))
    assert heavy == []
