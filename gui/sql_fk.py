"""Foreign keys in the SQLite tab's grid: choose a referenced row, jump to it, and come back.

A mixin of :class:`gui.sqlite_document.SqliteDocument`. The foreign keys of the table shown are
read on a worker (composite ones with all their columns); until they arrive, the schema's
single-column ones are used. "Go to referenced row" (context menu, or Ctrl+click) shows the
referenced table filtered to that row and selects it; Back returns to the grid as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QHBoxLayout, QMenu, QPushButton, QWidget

from storage.sql_filter import Filter
from storage.sql_fk import ForeignKeyInfo, display_column, foreign_keys, referencing

from .sql_fk_check import MissingRefs
from .sql_fk_delegate import FkCellDelegate
from .sql_fk_editor import FkEditor

MAX_BACK = 50


@dataclass(frozen=True)
class FkTarget:
    """Where a single-column foreign key points: the referenced table, its key and display column."""

    table: str
    key: str
    display: str | None
    schema: str | None = None


def qualified(name: str, schema: str | None) -> str:
    """The document's name for a table: ``schema.name`` outside the default schema (as Table.qualified)."""
    return name if schema in (None, "public", "main") else f"{schema}.{name}"


def _as_filter_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


class FkMixin:
    """Foreign-key editing and navigation of the grid."""

    def _build_fk(self, page: QWidget, top: QHBoxLayout) -> None:
        self._fk_cache: dict[str, list[ForeignKeyInfo]] = {}  # by table, for the schema read last
        self._fk_schema: Any = None
        self._fk_back: list[dict[str, Any]] = []
        self._fk_select: tuple[int, int, int] | None = None  # (row, column, grid generation) to select
        self._fk_delegate = FkCellDelegate(self)
        self._fk_missing = MissingRefs(self)
        self.model.dataChanged.connect(self._on_fk_data_changed)
        self._fk_columns: list[int] = []  # grid columns drawn with the arrow
        self.back_button = QPushButton("◀ Back", page)
        self.back_button.setToolTip("Return to the rows shown before the last jump")
        self.back_button.clicked.connect(self.go_back)
        self.back_button.setVisible(False)
        back = QShortcut(QKeySequence(QKeySequence.StandardKey.Back), self.grid)  # Alt+Left
        back.activated.connect(self.go_back)
        self.back_button.setToolTip(f"{self.back_button.toolTip()} ({back.key().toString()})")
        top.insertWidget(0, self.back_button)
        self.model.modelReset.connect(self._on_fk_reset)
        self.model.rowsInserted.connect(self._on_fk_rows)
        self.grid.clicked.connect(self._on_fk_clicked)

    # -- backend -------------------------------------------------------------------------------
    def db_kind(self) -> str:
        database = getattr(self, "database", None)
        return getattr(database, "kind", "sqlite")

    def db_dialect(self) -> Any:
        database = getattr(self, "database", None)
        return getattr(database, "dialect", None)

    # -- which columns reference what ------------------------------------------------------------
    @Slot()
    def _on_fk_reset(self) -> None:
        if self.schema is not self._fk_schema:  # reopened, or the schema was edited: read again
            self._fk_schema = self.schema
            self._fk_cache.clear()
        self._fk_missing.clear()
        self._mark_fk_columns()
        table, reader = self.table, self.reader
        if table is None or reader is None or table.kind != "table" or table.qualified in self._fk_cache:
            return
        kind, name, schema, key = self.db_kind(), table.name, table.schema, table.qualified

        def loaded(found: list[ForeignKeyInfo]) -> None:
            self._fk_cache[key] = found
            self._mark_fk_columns()

        self.start_task(lambda: reader.run(lambda conn: foreign_keys(conn, kind, name, schema)),
                    on_result=loaded, on_error=lambda _e: None)

    def _mark_fk_columns(self) -> None:
        """Foreign-key columns of the grid get the delegate that draws their arrow."""
        for column in self._fk_columns:
            self.grid.setItemDelegateForColumn(column, None)
        count = self.model.columnCount()
        self._fk_columns = [c for c in range(count) if self.foreign_key_of(c) is not None] \
            if self.table is not None else []
        for column in self._fk_columns:
            self.grid.setItemDelegateForColumn(column, self._fk_delegate)
        self.grid.viewport().update()

    def _on_fk_data_changed(self, top: QModelIndex, bottom: QModelIndex, _roles: Any = None) -> None:
        if bottom.row() > top.row():  # a reload, not one edited cell: the references may have changed
            self._fk_missing.clear()

    def fk_missing(self, index: QModelIndex) -> bool:
        """Whether the cell's key names no referenced row (known after a check on a worker)."""
        if self.fk_target(index.column()) is None:
            return False
        return self._fk_missing.missing(index.column(), index.data(Qt.ItemDataRole.EditRole))

    def foreign_key_of(self, column: int) -> ForeignKeyInfo | None:
        """The foreign key the grid's ``column`` belongs to, if any."""
        table = self.table
        if table is None or not 0 <= column < len(table.columns):
            return None
        name = table.columns[column].name
        cached = self._fk_cache.get(table.qualified)
        if cached is not None:
            return next((fk for fk in cached if name in fk.columns), None)
        fk = table.columns[column].foreign_key
        if fk is None:
            return None
        ref = fk.column or self._primary_key(fk.table)
        return ForeignKeyInfo((name,), fk.table, (ref,), table.schema) if ref else None

    def _primary_key(self, table_name: str) -> str | None:
        target = self.schema.find(table_name) if self.schema is not None else None
        if target is None:
            return None
        pks = sorted((c for c in target.columns if c.pk), key=lambda c: c.pk)
        return pks[0].name if len(pks) == 1 else (target.key_columns or [None])[0]

    def fk_target(self, column: int) -> FkTarget | None:
        """The target of a single-column foreign key (composite ones are shown, not edited)."""
        fk = self.foreign_key_of(column)
        if fk is None or fk.composite:
            return None
        target = self.schema.find(qualified(fk.ref_table, fk.ref_schema)) if self.schema is not None else None
        return FkTarget(fk.ref_table, fk.ref_columns[0], display_column(target, fk.ref_columns[0]),
                        fk.ref_schema or getattr(target, "schema", None))

    def fk_editor(self, index: QModelIndex, parent: QWidget) -> FkEditor | None:
        """The grid's editor for a foreign-key cell, or None for other cells."""
        target = self.fk_target(index.column())
        if target is None or self.table is None:
            return None
        return FkEditor(self, target, self.table.columns[index.column()].affinity, parent)

    # -- jumping -------------------------------------------------------------------------------
    @Slot(QModelIndex)
    def _on_fk_clicked(self, index: QModelIndex) -> None:
        if QApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier:
            self.go_to_referenced(index)

    def go_to_referenced(self, index: QModelIndex) -> bool:
        """Show the row the cell's foreign key points at (filtered to it, selected)."""
        fk = self.foreign_key_of(index.column())
        table = self.table
        if fk is None or table is None or not index.isValid():
            return False
        names = [c.name for c in table.columns]
        values = [self.model.index(index.row(), names.index(c)).data(Qt.ItemDataRole.EditRole)
                  if c in names else None for c in fk.columns]
        if any(v is None for v in values):
            self.show_message("This cell is NULL: it references no row.", "info")
            return False
        pairs = list(zip(fk.ref_columns, values, strict=True))
        return self.show_rows(qualified(fk.ref_table, fk.ref_schema), pairs, fk.ref_columns[0])

    def referencing_columns(self) -> list[tuple[str, str, str | None]]:
        if self.schema is None or self.table is None:
            return []
        return referencing(self.schema, self.table.name, self.table.schema)

    def show_referencing(self, index: QModelIndex, table_name: str, column: str,
                         ref_column: str | None) -> bool:
        """Show the rows of ``table_name`` whose ``column`` points at this row."""
        table = self.table
        if table is None or not index.isValid():
            return False
        key = ref_column or self._primary_key(table.name)
        names = [c.name for c in table.columns]
        if key in names:
            value = self.model.index(index.row(), names.index(key)).data(Qt.ItemDataRole.EditRole)
        else:
            value = (self.key_of(index.row()) or {}).get(key)
        if value is None:
            return False
        return self.show_rows(table_name, [(column, value)], column)

    def _browse_state(self) -> dict[str, Any]:
        current = self.grid.currentIndex()
        return {"table": self.table.qualified if self.table else None, "sort": list(self.sort),
                "filters": list(self.filters), "search": self.search.text(),
                "row": max(current.row(), 0), "column": max(current.column(), 0)}

    def show_rows(self, table_name: str, pairs: list[tuple[str, Any]], select: str) -> bool:
        if self._table_item(table_name) is None or self.schema is None:
            self.show_message(f"{table_name} is not in this database.", "error")
            return False
        self._fk_back = [*self._fk_back, self._browse_state()][-MAX_BACK:]
        self._switch_table(table_name)
        target = self.schema.find(table_name)
        names = [c.name for c in target.columns] if target is not None else []
        self._apply_browse(sort=[], filters=[Filter(c, "=", _as_filter_text(v)) for c, v in pairs],
                           search="", select=(0, names.index(select) if select in names else 0))
        return True

    def _switch_table(self, table_name: str) -> None:
        if self.table is None or self.table.qualified != table_name:
            self.tree.setCurrentItem(self._table_item(table_name))

    def _apply_browse(self, sort: list, filters: list, search: str, select: tuple[int, int]) -> None:
        self.sort, self.filters = list(sort), list(filters)
        for edit, text in ((self.search, search), (self.filter_value, ""), (self.filter_value2, "")):
            edit.blockSignals(True)
            edit.setText(text)
            edit.blockSignals(False)
        self._apply_query()
        self._fk_select = (*select, self._generation)  # only for this query: a later one drops it
        self.back_button.setVisible(bool(self._fk_back))
        self.views.setCurrentIndex(0)

    @Slot()
    def go_back(self) -> None:
        """Return to the table, filters and row shown before the last jump."""
        if not self._fk_back:
            return
        *self._fk_back, state = self._fk_back
        if self._table_item(state["table"]) is None:
            self.back_button.setVisible(bool(self._fk_back))
            return
        self._switch_table(state["table"])
        self._apply_browse(state["sort"], state["filters"], state["search"], (state["row"], state["column"]))

    @Slot(QModelIndex, int, int)
    def _on_fk_rows(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        if self._fk_select is None:
            return
        row, column, generation = self._fk_select
        if generation != self._generation:
            self._fk_select = None
        elif row < self.model.rowCount():
            self._fk_select = None
            index = self.model.index(row, column)
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)

    # -- context menu --------------------------------------------------------------------------
    def add_fk_actions(self, menu: QMenu, index: QModelIndex) -> None:
        """The grid menu's foreign-key entries for the cell at ``index``."""
        fk = self.foreign_key_of(index.column()) if index.isValid() else None
        menu.addSeparator()
        go = menu.addAction(f"Go to Referenced Row ({fk.ref_table})" if fk else "Go to Referenced Row",
                            lambda: self.go_to_referenced(index))
        go.setEnabled(fk is not None)
        if fk is not None:
            go.setToolTip(fk.describe())
        sources = self.referencing_columns()
        sub = menu.addMenu("Show Referencing Rows")
        sub.setEnabled(bool(sources) and index.isValid())
        for table_name, column, ref_column in sources:
            sub.addAction(f"{table_name}.{column}",
                          lambda t=table_name, c=column, r=ref_column: self.show_referencing(index, t, c, r))
        menu.addAction("Back", self.go_back).setEnabled(bool(self._fk_back))
