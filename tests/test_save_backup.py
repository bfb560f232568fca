"""File ▸ Keep a .bak Copy When Saving: every document's save keeps the previous version."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from tests.support.gui_helpers import close_window, launch, wait_documents


def test_backup_on_save_for_text_json_pickle_and_hex(qtbot, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("old text\n")
    data = tmp_path / "data.json"
    data.write_text('{"n": 1}\n')
    obj = tmp_path / "obj.pkl"
    obj.write_bytes(pickle.dumps({"n": 1}, 4))
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01\x02")
    window = launch(qtbot, tmp_path / "settings", text, data, obj, blob)
    documents = {Path(d.path).name: d for d in wait_documents(qtbot, window, 4)}

    # Off by default: a save keeps no copy.
    json_doc = documents["data.json"]
    json_doc.model.setData(json_doc.model.index_for_path(["n"]).siblingAtColumn(1), "2")
    assert json_doc.save() and not (tmp_path / "data.json.bak").exists()

    window.actions.backup.trigger()
    assert window.actions.backup.isChecked() and window.settings["files.backup_on_save"]
    json_doc.model.setData(json_doc.model.index_for_path(["n"]).siblingAtColumn(1), "3")
    assert json_doc.save()
    assert json.loads((tmp_path / "data.json.bak").read_text()) == {"n": 2}
    assert json.loads(data.read_text()) == {"n": 3}

    text_doc = documents["notes.txt"]
    editor = text_doc.pages["text"].editor
    editor.setPlainText("new text\n")
    assert text_doc.save()
    assert (tmp_path / "notes.txt.bak").read_text() == "old text\n" and text.read_text() == "new text\n"

    obj_doc = documents["obj.pkl"]
    model = obj_doc.view.model
    assert model.setData(model.index_for_path([0, "n"]).siblingAtColumn(1), "5")
    assert obj_doc.save()
    assert pickle.loads((tmp_path / "obj.pkl.bak").read_bytes()) == {"n": 1}
    assert pickle.loads(obj.read_bytes()) == {"n": 5}

    hex_doc = documents["blob.bin"]
    hex_doc.pages["hex"].view.go_to(0)
    assert hex_doc.pages["hex"].view.type_text("ff")
    assert hex_doc.save()
    assert (tmp_path / "blob.bin.bak").read_bytes() == b"\x00\x01\x02"
    assert blob.read_bytes() == b"\xff\x01\x02"

    close_window(qtbot, window)
    again = launch(qtbot, tmp_path / "settings")  # the choice is remembered
    assert again.actions.backup.isChecked()
