"""How the JSON tab looks: objects and arrays preview their first members in the tree."""

from __future__ import annotations

from tests.gui.json.test_json import index_of, open_json, write_sample
from tests.support.gui_helpers import close_window


def test_objects_preview_their_first_keys(qtbot, tmp_path, _private_dirs) -> None:
    value = {"user": {"name": "Ada", "age": 36, "langs": ["en", "fr"], "address": {"city": "London"},
                      "admin": False, "note": None},
             "ids": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9],
             "wide": {f"key{i}": "a long value " * 4 for i in range(30)},
             "empty": {}}
    document = open_json(qtbot, _private_dirs, write_sample(tmp_path, value=value))
    tree = document.tree

    def shown(*path) -> str:
        return index_of(document, *path).siblingAtColumn(1).data()

    assert shown("user") == '{"name": "Ada", "age": 36, "langs": […], "address": {…}, "admin": false, …}'
    assert shown("user", "address") == '{"city": "London"}'
    assert shown("ids").startswith("[3, 1, 4, 1, 5") and shown("ids").endswith(", …]")
    wide = shown("wide")
    assert wide.startswith('{"key0": "a long value a long valu…"') and wide.endswith(", …}")
    assert len(wide) < 120  # a bounded line, however big the object
    assert shown("empty") == "{}"
    tree.expand(index_of(document, "user"))
    document.window().resize(900, 500)
    document.window().grab().save(str(tmp_path / "json-tree.png"))
    close_window(qtbot, document.window())
