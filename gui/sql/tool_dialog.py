"""Result windows of the SQL tools: a list of findings, and a query plan as a tree.

A :class:`ToolDialog` shows "Working…" with Cancel while its worker runs, then the rows it
found (or the error). :class:`PlanModel` is a thin tree model over
:class:`storage.formats.sql.explain.PlanNode`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.common.model_guard import guard_model
from gui.sql.tasks import esc
from storage.formats.sql.explain import Plan, PlanNode

PLAN_COLUMNS = ("Step", "Relation", "Cost", "Rows", "Time", "Detail")


@guard_model
class PlanModel(QAbstractItemModel):
    """A plan's steps as a tree; each node knows its own row, so ``parent()`` is O(1)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.root = PlanNode("plan")

    def set_plan(self, root: PlanNode) -> None:
        self.beginResetModel()
        self.root = root
        self.endResetModel()

    def _node(self, index: QModelIndex | QPersistentModelIndex) -> PlanNode:
        return index.internalPointer() if index.isValid() else self.root

    def index(self, row: int, column: int,
              parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        node = self._node(parent)
        if not (0 <= row < len(node.children) and 0 <= column < len(PLAN_COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = self._node(index).parent
        if up is None or up is self.root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(PLAN_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(PLAN_COLUMNS):
            return PLAN_COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._node(index)
        values = (node.title, node.relation, node.cost, node.rows, node.time, node.detail)
        if role == Qt.ItemDataRole.DisplayRole:
            return values[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return node.detail or node.title
        return None


class ToolDialog(QDialog):
    """Runs one tool: busy with Cancel while it works, then its findings or its error."""

    cancelled = Signal()
    done = Signal()

    def __init__(self, title: str, headers: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(720, 150)  # grows when there are findings to list
        self.status = QLabel("Working…", self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)
        self.bar.setMaximumHeight(14)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.results = QTreeWidget(self)
        self.results.setHeaderLabels(headers)
        self.results.setRootIsDecorated(False)
        self.results.setAlternatingRowColors(True)
        self.results.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.results.header().setStretchLastSection(True)
        self.results.hide()
        self.finished_ok = False
        self.found: list[Any] = []  # what the tool found, row by row (for actions on a row)
        busy = QHBoxLayout()
        busy.addWidget(self.bar, 1)
        busy.addWidget(self.cancel_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(self.status)
        box.addLayout(busy)
        box.addWidget(self.results, 1)
        box.addWidget(buttons)

    def _on_cancel(self) -> None:
        self.status.setText("Cancelling…")
        self.cancel_button.setEnabled(False)
        self.cancelled.emit()

    def reject(self) -> None:
        if not self.finished_ok and self.cancel_button.isEnabled():
            self.cancelled.emit()  # closing a running check cancels it
        super().reject()

    def show_rows(self, summary: str, rows: list[list[Any]], ok: bool = True) -> None:
        self.results.clear()
        for row in rows:
            QTreeWidgetItem(self.results, ["" if v is None else str(v) for v in row])
        if rows:
            self.results.show()
            self.resize(self.width(), max(self.height(), 420))
        self._finish(summary, ok)

    def show_error(self, message: str) -> None:
        self._finish(message, False)

    def _finish(self, text: str, ok: bool) -> None:
        self.finished_ok = True
        colour = "#067647" if ok else "#b42318"
        self.status.setText(f"<span style='color:{colour}'>{esc(text).replace(chr(10), '<br>')}</span>")
        self.bar.hide()
        self.cancel_button.hide()
        self.done.emit()

    def rows(self) -> list[list[str]]:
        return [[self.results.topLevelItem(i).text(c) for c in range(self.results.columnCount())]
                for i in range(self.results.topLevelItemCount())]


class PlanDialog(ToolDialog):
    """A query plan as an expandable tree (SQLite's steps, or PostgreSQL's nodes with costs)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, ["Finding"], parent)
        self.resize(900, 460)  # the tree is there from the start
        self.plan_model = PlanModel(self)
        self.tree = QTreeView(self)
        self.tree.setModel(self.plan_model)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.layout().replaceWidget(self.results, self.tree)
        self.results.hide()

    def show_plan(self, plan: Plan, sql: str) -> None:
        self.plan_model.set_plan(plan.root)
        self.tree.expandAll()
        nodes = list(plan.root.walk())[1:]
        for column, attr in enumerate(("title", "relation", "cost", "rows", "time", "detail")):
            self.tree.setColumnHidden(column, column > 0 and not any(getattr(n, attr) for n in nodes))
            self.tree.resizeColumnToContents(column)
        first = " ".join(sql.split())
        label = f"{'EXPLAIN ANALYZE' if plan.analyzed else 'EXPLAIN'}: {first[:120]}"
        self._finish(label + (f"\n{plan.summary}" if plan.summary else ""), True)


def run_tool(document: Any, dialog: ToolDialog, work: Callable[..., Any],
             on_result: Callable[[Any], None], interrupt: Callable[[], None] | None = None) -> Any:
    """Start ``work`` on a worker for ``dialog``; its Cancel cancels the worker (and interrupts)."""
    def failed(exc: BaseException) -> None:
        dialog.show_error(document.describe_failure(exc))

    task = document.start_task(work, on_result=on_result, on_error=failed)

    def cancel() -> None:
        task.cancel()
        if interrupt is not None:
            interrupt()

    dialog.cancelled.connect(cancel)
    return task
