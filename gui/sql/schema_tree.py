"""The schema tree of the SQL tab: tables, views, indexes and triggers with row counts.

On a server the tree has a level for each schema (PostgreSQL's namespaces), with materialized
views beside the views; tables are known by their qualified name (``schema.table`` outside public).

:class:`SchemaTree` counts the rows itself (in workers, through :class:`SchemaTreeHost`) and
emits ``tableChosen`` when a table is picked; the document shows it in the grid.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from gui.sql.ddl_view import DDL_READ_ROLE, DDL_ROLE, view_ddl
from gui.sql.server import count_server_tables
from gui.sql.tasks import count_tables
from storage.formats.sql.db import Database
from storage.formats.sql.estimate import RowEstimate
from storage.formats.sql.schema_types import Schema, Table
from storage.formats.sql.sqlite_db import COUNT_CAP


class SchemaTreeHost(Protocol):
    """What the schema tree needs from its document: where to count rows."""

    path: str | None
    immutable: bool
    is_server: bool
    database: Database | None

    def start_task(self, fn: Any, *args: Any, on_result: Any = None, on_error: Any = None) -> Any: ...
    def note_error(self, error: BaseException) -> bool: ...


class SchemaTree(QTreeWidget):
    """The schema tree: tables, views, indexes, triggers (per server schema), with row counts
    read in workers; picking a table emits :attr:`tableChosen`."""

    tableChosen = Signal(str)  # the qualified name of the table or view picked

    def __init__(self, host: SchemaTreeHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.schema: Schema | None = None
        self.items: dict[str, QTreeWidgetItem] = {}
        self._lazy_columns = False
        self._generation = 0  # bumped by each fill: counts for an older schema are dropped
        self.setHeaderLabels(["Name", "Rows", "Type", "Details"])
        self.setUniformRowHeights(True)
        self.setMinimumWidth(200)
        self.header().resizeSection(0, 150)
        self.header().resizeSection(1, 70)
        self.header().resizeSection(2, 70)
        self.currentItemChanged.connect(self._on_current)
        self.itemExpanded.connect(self._on_expanded)

    def fill(self, schema: Schema, count: bool = True) -> None:
        """Show ``schema`` and start counting its tables' rows (capped first), or leave the counts
        to :meth:`count_rows`."""
        self.schema = schema
        self._generation += 1
        self.clear()
        self.items = {}
        self._fill(schema)
        if count:
            self.count_rows()

    def count_rows(self) -> None:
        """Count the rows of every table and view of the schema shown (capped first)."""
        if self.schema is not None:
            schema = self.schema
            self._count(self._generation, schema.tables + schema.views + schema.materialized, COUNT_CAP)

    def recount(self, names: list[str] | None = None) -> None:
        """Rows were inserted or deleted (in ``names``, or anywhere): count those tables again."""
        if self.schema is None:
            return
        tables = self.schema.tables + self.schema.views + self.schema.materialized
        if names is not None:
            tables = [t for t in tables if t.qualified in names]
        if tables:
            self._count(self._generation, tables, COUNT_CAP)

    def _fill(self, schema: Schema) -> None:
        self._lazy_columns = len(schema.tables) + len(schema.views) + len(schema.materialized) > LAZY_FROM
        if not schema.schemas:
            self._fill_groups(self.invisibleRootItem(), schema.tables, schema.views, [],
                              schema.indexes, schema.triggers, schema.routines)
            return
        for space in schema.schemas:
            node = QTreeWidgetItem(self, [space, "", "schema", ""])
            self._fill_groups(node, [t for t in schema.tables if t.schema == space],
                              [t for t in schema.views if t.schema == space],
                              [t for t in schema.materialized if t.schema == space],
                              [o for o in schema.indexes if o.schema == space],
                              [o for o in schema.triggers if o.schema == space],
                              [o for o in schema.routines if o.schema == space])
            node.setExpanded(space == "public" or len(schema.schemas) == 1)

    def _fill_groups(self, parent: QTreeWidgetItem, tables: list, views: list, materialized: list,
                     indexes: list, triggers: list, routines: list) -> None:
        groups = [("Tables", tables), ("Views", views)]
        if materialized:
            groups.append(("Materialized views", materialized))
        for title, members in groups:
            group = QTreeWidgetItem(parent, [f"{title} ({len(members)})"])
            for table in members:
                details = "WITHOUT ROWID" if table.without_rowid else table.error
                if table.kind == "table" and table.key is not None and not table.key:
                    details = details or "no key: read-only"
                kind = "mat. view" if table.kind == "materialized view" else table.kind
                item = QTreeWidgetItem(group, [table.name, "", kind, details])
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight)
                item.setData(0, Qt.ItemDataRole.UserRole, table.qualified)
                item.setToolTip(0, table.sql)
                stored = table.kind != "table" or table.sql.lstrip()[:6].upper() == "CREATE"
                if stored and table.sql.strip():
                    ddl = table.sql  # SQLite keeps the whole CREATE statement
                    if ddl.lstrip()[:6].upper() != "CREATE":  # a server's view: its query only
                        from storage.formats.sql.query import quote_table

                        dialect = self.host.database.dialect if self.host.database is not None else None
                        ddl = view_ddl(table.kind, quote_table(table.name, table.schema, dialect), ddl)
                    item.setData(0, DDL_ROLE, ddl)
                elif self._server_ddl():
                    item.setData(0, DDL_READ_ROLE, (table.kind, table.name, table.schema))
                if table.key_note:
                    item.setToolTip(3, table.key_note)
                self.items[table.qualified] = item
                if self._lazy_columns:  # a big schema: columns are listed when the table is expanded
                    item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
                else:
                    _add_columns(item, table)
            group.setExpanded(True)
        sequences = [o for o in routines if o.kind == "sequence"]
        functions = [o for o in routines if o.kind != "sequence"]
        lists = [("Indexes", indexes), ("Triggers", triggers)]
        lists += [(title, found) for title, found in (("Sequences", sequences), ("Functions", functions))
                  if found]  # a server's: SQLite has neither
        for title, objects in lists:
            group = QTreeWidgetItem(parent, [f"{title} ({len(objects)})"])
            for obj in objects:
                where = f"on {obj.table}" if obj.table else ""
                child = QTreeWidgetItem(group, [obj.name, "", obj.kind, where])
                child.setToolTip(0, obj.sql[:2000])
                child.setData(0, DDL_ROLE, obj.sql)
                if not obj.sql and self._server_ddl():
                    child.setData(0, DDL_READ_ROLE, (obj.kind, obj.name, obj.schema))

    def _server_ddl(self) -> bool:
        """Whether the database is a server whose DDL can be read when asked."""
        return self.host.database is not None and not self.host.database.is_sqlite

    @Slot(QTreeWidgetItem)
    def _on_expanded(self, item: QTreeWidgetItem) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole)
        if self._lazy_columns and item.childCount() == 0 and isinstance(name, str) and self.schema:
            table = self.schema.find(name)
            if table is not None:
                _add_columns(item, table)

    def table_item(self, name: Any) -> QTreeWidgetItem | None:
        return self.items.get(name) if isinstance(name, str) else None

    def _on_counts(self, generation: int, counts: dict[str, Any], capped: bool) -> None:
        if generation != self._generation:
            return
        for name, count in counts.items():
            item = self.items.get(name)
            if item is None:
                continue
            if isinstance(count, str):
                item.setText(1, "?")
                item.setToolTip(1, count)
            elif isinstance(count, RowEstimate):
                item.setText(1, str(count))
                item.setToolTip(1, "PostgreSQL's estimate (pg_class.reltuples): counting exactly "
                                   "would be slow")
            elif capped and count > COUNT_CAP:
                item.setText(1, f"{COUNT_CAP:,}+")
            else:
                item.setText(1, f"{count:,}")
        if capped:
            # exact counts of tables only: a view is computed, and may never end
            large = [n for n, c in counts.items() if isinstance(c, int) and c > COUNT_CAP
                     and getattr(self.schema.find(n) if self.schema else None, "kind", "") == "table"]
            if large and self.schema is not None:
                self._count(generation, [t for t in (self.schema.find(n) for n in large) if t], None)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current(self, current: QTreeWidgetItem | None, _previous=None) -> None:
        while current is not None and current.data(0, Qt.ItemDataRole.UserRole) is None:
            current = current.parent()
        if current is not None:
            self.tableChosen.emit(current.data(0, Qt.ItemDataRole.UserRole))

    def _count(self, generation: int, tables: list[Table], cap: int | None) -> None:
        """Row counts for the schema tree, in a worker on a connection of its own."""
        host, capped = self.host, cap is not None
        if host.is_server and host.database is not None:
            host.start_task(count_server_tables, host.database, tables, cap,
                            on_result=lambda counts: self._on_counts(generation, counts, capped),
                            on_error=host.note_error)
            return
        host.start_task(count_tables, host.path or "", host.immutable, [t.name for t in tables], cap,
                        on_result=lambda counts: self._on_counts(generation, counts, capped))


LAZY_FROM = 300  # tables: above this, a table's columns are added to the tree when it is expanded

def _add_columns(item: QTreeWidgetItem, table: Any) -> None:
    for col in table.columns:
        details = []
        if col.pk:
            details.append("PK" if col.pk == 1 else f"PK {col.pk}")
        if col.notnull:
            details.append("NOT NULL")
        if col.default is not None:
            details.append(f"DEFAULT {col.default}")
        if col.foreign_key:
            target = col.foreign_key.column or "?"
            details.append(f"→ {col.foreign_key.table}.{target}")
        QTreeWidgetItem(item, [col.name, "", col.decl_type, " ".join(details)])
