"""A big JSON file shows its first lines while it is parsed (issue 16: content on screen at once)."""

from __future__ import annotations

import gzip
import json
import threading

from gui.json import document as json_document
from gui.json.document import JsonDocument
from storage.inspect.preview import first_lines
from tests.support.gui_helpers import launch, wait_documents


def test_first_lines_show_while_parsing_then_the_tree(qtbot, tmp_path, _private_dirs, monkeypatch) -> None:
    path = tmp_path / "records.json"
    records = (json.dumps({"id": n, "name": f"row {n}"}) for n in range(5000))
    path.write_text("[\n" + ",\n".join(records) + "\n]\n")
    parse_may_finish = threading.Event()
    real_load = json_document.load_for_editor

    def slow_load(*args):  # the parse of a big file: it ends when the test says so
        parse_may_finish.wait(30)
        return real_load(*args)

    monkeypatch.setattr(json_document, "load_for_editor", slow_load)
    window = launch(qtbot, _private_dirs, path)
    (document,) = wait_documents(qtbot, window, 1, loaded=False)
    assert isinstance(document, JsonDocument)
    preview = document.loading_page.preview
    try:
        qtbot.waitUntil(preview.isVisible)
        lines = preview.toPlainText().splitlines()
        assert lines[:2] == ["[", json.dumps({"id": 0, "name": "row 0"}) + ","]
        assert len(lines) < 5000  # only the start: the whole file is the parser's work
        assert preview.isReadOnly() and document.stack.currentIndex() == 0
    finally:
        parse_may_finish.set()
    qtbot.waitUntil(lambda: document.is_loaded)
    assert document.stack.currentIndex() == 1 and document.model.rowCount() > 0  # the tree (fetched lazily)
    document.reload()  # a reload starts from the busy page again, without the old lines
    assert not preview.isVisible() or preview.toPlainText() == ""
    qtbot.waitUntil(lambda: document.stack.currentIndex() == 1)


def test_first_lines_only_of_text(tmp_path) -> None:
    packed = tmp_path / "packed.json"
    packed.write_bytes(gzip.compress(b'{"a": 1}' * 1000))
    assert first_lines(str(packed), "json") is None  # compressed bytes are no preview
    long = tmp_path / "long.json"
    long.write_text("[\n" + "1,\n" * 40_000 + "1]\n")
    text = first_lines(str(long), "json")
    assert text is not None and text.startswith("[\n1,\n") and text.endswith("1,")  # whole lines only
