"""Every item model of ours through pytest-qt's model tester, including while rows arrive."""

from __future__ import annotations

import datetime

from gui.values.overview import FindingsModel
from gui.values.tree import BATCH, ValueTreeModel

NESTED = {
    "name": "demo",
    "numbers": list(range(2500)),
    "nested": {"a": {"b": {"c": [1, {"d": None}]}}, "empty": {}, "none": None},
    "when": datetime.date(2024, 5, 1),
    "flags": [True, False],
    "tuple": (1, "two", 3.0),
    "long": "x" * 1000,
}


def expand_all(model: ValueTreeModel, parent=None, depth: int = 0) -> None:
    from PySide6.QtCore import QModelIndex

    parent = parent or QModelIndex()
    while model.canFetchMore(parent):
        model.fetchMore(parent)
    for row in range(model.rowCount(parent)):
        if depth < 6:
            expand_all(model, model.index(row, 0, parent), depth + 1)


def test_value_tree_model_passes_the_tester(qtmodeltester) -> None:
    model = ValueTreeModel(NESTED)
    qtmodeltester.check(model, force_py=True)
    expand_all(model)  # children fetched in batches while the tester listens
    qtmodeltester.check(model, force_py=True)


def test_value_tree_model_is_lazy(qtmodeltester) -> None:
    from PySide6.QtCore import QModelIndex

    model = ValueTreeModel(list(range(1_000_000)))
    root = QModelIndex()
    assert model.hasChildren(root)
    assert model.rowCount(root) == 0  # nothing made before the view asks
    model.fetchMore(root)
    assert model.rowCount(root) == BATCH
    assert model.data(model.index(BATCH - 1, 1)) == str(BATCH - 1)
    qtmodeltester.check(model, force_py=True)


def test_value_tree_model_big_dict_fetches_in_order() -> None:
    from PySide6.QtCore import QModelIndex

    model = ValueTreeModel({f"k{i}": i for i in range(5000)})
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 5000
    assert [model.data(model.index(r, 0)) for r in (0, 4999)] == ["k0", "k4999"]
    assert model.node(model.index(4321, 0)).row == 4321


def test_index_for_path_reaches_deep_nodes() -> None:
    model = ValueTreeModel(NESTED)
    index = model.index_for_path(["numbers", 2400])
    assert index.isValid() and model.data(index.siblingAtColumn(1)) == "2400"
    assert model.node(index).path() == ["numbers", 2400]
    assert not model.index_for_path(["nested", "missing"]).isValid()


def test_findings_model_passes_the_tester(qtmodeltester) -> None:
    model = FindingsModel()
    qtmodeltester.check(model, force_py=True)
    model.set_findings([
        {"severity": "dangerous", "message": "calls os.system", "global": "os.system"},
        {"severity": "info", "message": "2 pickles in one file"},
    ])
    qtmodeltester.check(model, force_py=True)
    assert model.data(model.index(0, 2)) == "os.system"
    assert model.data(model.index(1, 2)) == ""


def test_the_value_tree_room_needs_nothing_of_the_json_tab() -> None:
    """The Objects tab is built on the shared value tree model and commands, not on JSON's."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; import gui.values.editable, gui.values.commands, gui.objects.model, "
            "gui.objects.view; print(sorted(m for m in sys.modules "
            "if m.startswith(('gui.json', 'storage.json'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
