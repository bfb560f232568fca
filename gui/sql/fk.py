"""Foreign keys in the SQL tab's grid: choose a referenced row, jump to it, and come back.

:class:`ForeignKeys` serves the grid (:class:`gui.sql.browse.BrowsePanel`) and talks to its
document through :class:`FkHost`. The foreign keys of the table shown are
read on a worker (composite ones with all their columns); until they arrive, the schema's
single-column ones are used. "Go to referenced row" (context menu, or Ctrl+click) shows the
referenced table filtered to that row and selects it; Back returns to the grid as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMenu, QPushButton, QWidget

from storage.formats.sql.filters import Filter
from storage.formats.sql.fk import ForeignKeyInfo, display_column, foreign_keys, referencing
from storage.formats.sql.schema_types import Schema, Table
from storage.formats.sql.sqlite_db import Reader

if TYPE_CHECKING:  # the arrow delegate and the check are imported with the first key column shown
    from gui.sql.browse import BrowsePanel
    from gui.sql.fk_check import MissingRefs
    from gui.sql.fk_delegate import FkCellDelegate
    from gui.sql.fk_editor import FkEditor

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


class FkHost(Protocol):
    """What foreign-key navigation needs from its document (and its grid)."""

    table: Table | None  # the table the grid shows
    schema: Schema | None
    reader: Reader | None

    def db_kind(self) -> str: ...
    def db_dialect(self) -> Any: ...
    def start_task(self, fn: Any, *args: Any, on_result: Any = None, on_error: Any = None) -> Any: ...
    def show_message(self, text: str, kind: str = "info") -> None: ...
    def has_table(self, qualified: str) -> bool: ...
    def show_table(self, qualified: str) -> None: ...
    def show_browse_tab(self) -> None: ...


class ForeignKeys(QObject):
    """Foreign-key editing and navigation of the grid: the arrow delegate, the editor with the
    referenced rows, jumps to referenced and referencing rows, and Back."""

    def __init__(self, host: FkHost, browse: BrowsePanel, page: QWidget) -> None:
        super().__init__(page)
        self.host, self.browse, self.grid = host, browse, browse.grid
        self.cache: dict[str, list[ForeignKeyInfo]] = {}  # by table, for the schema read last
        self._schema: Any = None
        self.back: list[dict[str, Any]] = []
        self._select: tuple[int, int, int] | None = None  # (row, column, grid generation) to select
        self._delegate: FkCellDelegate | None = None  # built for the first foreign-key column shown
        self._missing_refs: MissingRefs | None = None
        model = browse.model
        model.dataChanged.connect(self._on_data_changed)
        self._columns: list[int] = []  # grid columns drawn with the arrow
        self.back_button = QPushButton("◀ Back", page)
        self.back_button.setToolTip("Return to the rows shown before the last jump")
        self.back_button.clicked.connect(self.go_back)
        self.back_button.setVisible(False)
        back = QShortcut(QKeySequence(QKeySequence.StandardKey.Back), self.grid)  # Alt+Left
        back.activated.connect(self.go_back)
        self.back_button.setToolTip(f"{self.back_button.toolTip()} ({back.key().toString()})")
        model.modelReset.connect(self._on_reset)
        model.rowsInserted.connect(self._on_rows)
        self.grid.clicked.connect(self._on_clicked)

    @property
    def missing_refs(self) -> MissingRefs:
        """The keys found missing in the referenced tables (checked when an arrow is drawn)."""
        if self._missing_refs is None:
            from gui.sql.fk_check import MissingRefs

            self._missing_refs = MissingRefs(self)
        return self._missing_refs

    def _clear_missing(self) -> None:
        if self._missing_refs is not None:
            self._missing_refs.clear()

    # -- which columns reference what ------------------------------------------------------------
    @Slot()
    def _on_reset(self) -> None:
        if self.host.schema is not self._schema:  # reopened, or the schema was edited: read again
            self._schema = self.host.schema
            self.cache.clear()
        self._clear_missing()
        self._mark_fk_columns()
        table, reader = self.host.table, self.host.reader
        if table is None or reader is None or table.kind != "table" or table.qualified in self.cache:
            return
        kind, name, schema, key = self.host.db_kind(), table.name, table.schema, table.qualified

        def loaded(found: list[ForeignKeyInfo]) -> None:
            self.cache[key] = found
            self._mark_fk_columns()

        self.host.start_task(lambda: reader.run(lambda conn: foreign_keys(conn, kind, name, schema)),
                    on_result=loaded, on_error=lambda _e: None)

    def _mark_fk_columns(self) -> None:
        """Foreign-key columns of the grid get the delegate that draws their arrow."""
        for column in self._columns:
            self.grid.setItemDelegateForColumn(column, None)
        count = self.browse.model.columnCount()
        self._columns = [c for c in range(count) if self.foreign_key_of(c) is not None] \
            if self.host.table is not None else []
        if self._columns and self._delegate is None:
            from gui.sql.fk_delegate import FkCellDelegate

            self._delegate = FkCellDelegate(self.host, self)
        for column in self._columns:
            self.grid.setItemDelegateForColumn(column, self._delegate)
        self.grid.viewport().update()

    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, _roles: Any = None) -> None:
        if bottom.row() > top.row():  # a reload, not one edited cell: the references may have changed
            self._clear_missing()

    def fk_missing(self, index: QModelIndex) -> bool:
        """Whether the cell's key names no referenced row (known after a check on a worker)."""
        if self.fk_target(index.column()) is None:
            return False
        return self.missing_refs.missing(index.column(), index.data(Qt.ItemDataRole.EditRole))

    def foreign_key_of(self, column: int) -> ForeignKeyInfo | None:
        """The foreign key the grid's ``column`` belongs to, if any."""
        table = self.host.table
        if table is None or not 0 <= column < len(table.columns):
            return None
        name = table.columns[column].name
        cached = self.cache.get(table.qualified)
        if cached is not None:
            return next((fk for fk in cached if name in fk.columns), None)
        fk = table.columns[column].foreign_key
        if fk is None:
            return None
        ref = fk.column or self._primary_key(fk.table)
        return ForeignKeyInfo((name,), fk.table, (ref,), table.schema) if ref else None

    def _primary_key(self, table_name: str) -> str | None:
        target = self.host.schema.find(table_name) if self.host.schema is not None else None
        if target is None:
            return None
        pks = sorted((c for c in target.columns if c.pk), key=lambda c: c.pk)
        return pks[0].name if len(pks) == 1 else (target.key_columns or [None])[0]

    def fk_target(self, column: int) -> FkTarget | None:
        """The target of a single-column foreign key (composite ones are shown, not edited)."""
        fk = self.foreign_key_of(column)
        if fk is None or fk.composite:
            return None
        schema = self.host.schema
        target = schema.find(qualified(fk.ref_table, fk.ref_schema)) if schema is not None else None
        return FkTarget(fk.ref_table, fk.ref_columns[0], display_column(target, fk.ref_columns[0]),
                        fk.ref_schema or getattr(target, "schema", None))

    def fk_editor(self, index: QModelIndex, parent: QWidget) -> FkEditor | None:
        """The grid's editor for a foreign-key cell, or None for other cells."""
        from gui.sql.fk_editor import FkEditor

        target = self.fk_target(index.column())
        if target is None or self.host.table is None:
            return None
        return FkEditor(self.host, target, self.host.table.columns[index.column()].affinity, parent)

    # -- jumping -------------------------------------------------------------------------------
    @Slot(QModelIndex)
    def _on_clicked(self, index: QModelIndex) -> None:
        if QApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier:
            self.go_to_referenced(index)

    def go_to_referenced(self, index: QModelIndex) -> bool:
        """Show the row the cell's foreign key points at (filtered to it, selected)."""
        fk = self.foreign_key_of(index.column())
        table = self.host.table
        if fk is None or table is None or not index.isValid():
            return False
        names = [c.name for c in table.columns]
        values = [self.browse.model.index(index.row(), names.index(c)).data(Qt.ItemDataRole.EditRole)
                  if c in names else None for c in fk.columns]
        if any(v is None for v in values):
            self.host.show_message("This cell is NULL: it references no row.", "info")
            return False
        pairs = list(zip(fk.ref_columns, values, strict=True))
        return self.show_rows(qualified(fk.ref_table, fk.ref_schema), pairs, fk.ref_columns[0])

    def referencing_columns(self) -> list[tuple[str, str, str | None]]:
        if self.host.schema is None or self.host.table is None:
            return []
        return referencing(self.host.schema, self.host.table.name, self.host.table.schema)

    def show_referencing(self, index: QModelIndex, table_name: str, column: str,
                         ref_column: str | None) -> bool:
        """Show the rows of ``table_name`` whose ``column`` points at this row."""
        table = self.host.table
        if table is None or not index.isValid():
            return False
        key = ref_column or self._primary_key(table.name)
        names = [c.name for c in table.columns]
        if key in names:
            value = self.browse.model.index(index.row(), names.index(key)).data(Qt.ItemDataRole.EditRole)
        else:
            value = (self.browse.key_of(index.row()) or {}).get(key)
        if value is None:
            return False
        return self.show_rows(table_name, [(column, value)], column)

    def show_rows(self, table_name: str, pairs: list[tuple[str, Any]], select: str) -> bool:
        """Show the rows of ``table_name`` where each (column, value) of ``pairs`` matches, with the
        cell of column ``select`` selected; Back returns to what was shown."""
        if not self.host.has_table(table_name) or self.host.schema is None:
            self.host.show_message(f"{table_name} is not in this database.", "error")
            return False
        self.back = [*self.back, self.browse.browse_state()][-MAX_BACK:]
        self.host.show_table(table_name)
        target = self.host.schema.find(table_name)
        names = [c.name for c in target.columns] if target is not None else []
        self._apply_browse(sort=[], filters=[Filter(c, "=", _as_filter_text(v)) for c, v in pairs],
                           search="", select=(0, names.index(select) if select in names else 0))
        return True

    def _apply_browse(self, sort: list, filters: list, search: str, select: tuple[int, int]) -> None:
        generation = self.browse.set_browse(sort, filters, search)
        self._select = (*select, generation)  # only for this query: a later one drops it
        self.back_button.setVisible(bool(self.back))
        self.host.show_browse_tab()

    @Slot()
    def go_back(self) -> None:
        """Return to the table, filters and row shown before the last jump."""
        if not self.back:
            return
        *self.back, state = self.back
        if not self.host.has_table(state["table"]):
            self.back_button.setVisible(bool(self.back))
            return
        self.host.show_table(state["table"])
        self._apply_browse(state["sort"], state["filters"], state["search"], (state["row"], state["column"]))

    @Slot(QModelIndex, int, int)
    def _on_rows(self, _parent: QModelIndex, _first: int, _last: int) -> None:
        if self._select is None:
            return
        row, column, generation = self._select
        if generation != self.browse.query_generation():
            self._select = None
        elif row < self.browse.model.rowCount():
            self._select = None
            index = self.browse.model.index(row, column)
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
        menu.addAction("Back", self.go_back).setEnabled(bool(self.back))
