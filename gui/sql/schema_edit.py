"""Schema editing in the SQL tab: Create Table, Modify Table (columns), Create/Drop Index, Drop Table.

:class:`SchemaEditPanel` is the tab's "Schema" button; it also gives the schema tree its context
menu, and talks to its document only through :class:`SchemaEditHost`. Every change shows its SQL
first; Run executes it on a worker, pushes an undo command (or clears the undo history, saying so,
when the change cannot be undone) and reloads the schema tree. Nothing here is offered in read-only mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QPoint, Qt, Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QDialog, QMenu, QToolButton, QTreeWidget, QTreeWidgetItem, QWidget

from gui.sql.ddl_view import DDL_READ_ROLE, DDL_ROLE
from storage.formats.sql.db import Database, SqliteDatabase
from storage.formats.sql.schema_types import Schema, Table

if TYPE_CHECKING:  # the dialogs and the plans (SQLAlchemy's DDL) are imported when first used
    from storage.formats.sql import schema_plans as plans
    from storage.formats.sql.ddl import Plan
    from storage.formats.sql.table_edit import TableEdit


def _read(ctx: plans.Context, table: str) -> tuple[TableEdit, dict[str | None, bool]]:
    """Worker body of Modify Table: the table's columns, and which of them hold data."""
    from storage.formats.sql.table_edit import current_edit, data_probe

    edit = current_edit(ctx, table)
    return edit, data_probe(ctx, edit)


class SchemaEditHost(Protocol):
    """What schema editing needs from its document."""

    path: str | None
    read_only: bool
    schema: Schema | None
    table: Table | None  # the table the grid shows
    database: Database | None
    undo_stack: QUndoStack

    def start_task(self, fn: Any, *args: Any, on_result: Any = None, on_error: Any = None) -> Any: ...
    def show_message(self, text: str, kind: str = "info") -> None: ...
    def note_error(self, error: BaseException) -> bool: ...
    def note_own_write(self) -> None: ...
    def close_readers(self) -> None: ...
    def reopen(self, table: str | None) -> None: ...


class SchemaEditPanel(QToolButton):
    """Menus, dialogs and runs of schema changes; the plans come from
    :mod:`storage.formats.sql.schema_plans`."""

    def __init__(self, host: SchemaEditHost, tree: QTreeWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.tree = tree  # the schema tree: its context menu is this panel's
        self.schema_dialog: Any = None  # the dialog on screen (tests drive it)
        self.ddl_dialog: Any = None  # the last Show DDL window
        self.setText("Schema")
        self.setToolTip("Create Table, Modify Table, Create Index, Drop…")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.schema_menu = QMenu(self)
        self.schema_menu.aboutToShow.connect(self._fill_schema_menu)
        self.setMenu(self.schema_menu)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._on_tree_menu)

    # -- where things are ----------------------------------------------------------------------
    def schema_database(self) -> Database:
        return self.host.database or SqliteDatabase(self.host.path or "")

    def _dialect(self) -> Any:
        from storage.formats.sql.schema_run import SQLITE

        database = self.host.database
        return SQLITE if database is None or database.is_sqlite else database.dialect

    def _target(self, qualified: str | None) -> tuple[str, str | None]:
        """(the table's own name, its server schema) for a name of the tree (``schema.table``)."""
        found = self.host.schema.find(qualified) if (qualified and self.host.schema is not None) else None
        name = found.name if found is not None else (qualified or "")
        return name, self._db_schema(qualified)

    def _db_schema(self, qualified: str | None = None) -> str | None:
        """The server schema changes go to: the table's, else the current table's, else public."""
        if self._dialect().name == "sqlite":
            return None
        found = self.host.schema.find(qualified) if (qualified and self.host.schema is not None) else None
        found = found or self.host.table
        return getattr(found, "schema", None) or "public"

    def _context(self, qualified: str | None = None) -> plans.Context:
        """A context from the schema already loaded, without database access (for live previews)."""
        from storage.formats.sql import schema_plans as plans

        return plans.Context(self._dialect(), self.host.schema or Schema(),
                             db_schema=self._db_schema(qualified))

    def _names(self) -> list[str]:
        return [t.name for t in self.host.schema.tables] if self.host.schema is not None else []

    def _can_edit_schema(self) -> bool:
        return not self.host.read_only and self.host.schema is not None

    # -- menus ---------------------------------------------------------------------------------
    def _table_actions(self, menu: QMenu, table: str | None) -> None:
        enabled = self._can_edit_schema()
        menu.addAction("Create Table…", self.create_table_dialog).setEnabled(enabled)
        name = table or ""
        menu.addAction(f"Modify Table {name}…" if table else "Modify Table…",
                       lambda: self.modify_table_dialog(table)).setEnabled(enabled and table is not None)
        menu.addAction("Add Column…", lambda: self.add_column_dialog(table)).setEnabled(
            enabled and table is not None)
        menu.addAction("Create Index…", lambda: self.create_index_dialog(table)).setEnabled(
            enabled and table is not None)
        menu.addAction(f"Drop Table {table}…" if table else "Drop Table…",
                       lambda: self.drop_table(table)).setEnabled(enabled and table is not None)

    @Slot()
    def _fill_schema_menu(self) -> None:
        self.schema_menu.clear()
        shown = self.host.table
        table = shown.qualified if shown is not None and shown.kind == "table" else None
        self._table_actions(self.schema_menu, table)

    @Slot(QPoint)
    def _on_tree_menu(self, pos: QPoint) -> None:
        menu = self.tree_menu(self.tree.itemAt(pos))
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def tree_menu(self, item: QTreeWidgetItem | None) -> QMenu:
        """The schema tree's context menu for ``item`` (a table, a column, an index or nothing)."""
        menu = QMenu(self.tree)
        enabled = self._can_edit_schema()
        ddl = item.data(0, DDL_ROLE) if item is not None else None
        read = item.data(0, DDL_READ_ROLE) if item is not None and not ddl else None
        if ddl:
            menu.addAction("Show DDL…", lambda: self.show_ddl(item.text(0), ddl))
            menu.addSeparator()
        elif read:
            menu.addAction("Show DDL…", lambda: self.read_ddl(item.text(0), *read))
            menu.addSeparator()
        table = column = index = space = None
        if item is not None:
            if item.data(0, Qt.ItemDataRole.UserRole) is not None:
                table = item.data(0, Qt.ItemDataRole.UserRole)
            elif item.parent() is not None and item.parent().data(0, Qt.ItemDataRole.UserRole) is not None:
                table, column = item.parent().data(0, Qt.ItemDataRole.UserRole), item.text(0)
            elif item.text(2) == "index":
                index = item.text(0)
                node = item.parent()
                while node is not None and node.text(2) != "schema":
                    node = node.parent()
                space = node.text(0) if node is not None else None
        found = self.host.schema.find(table) if (table and self.host.schema is not None) else None
        if found is not None and found.kind != "table":
            table = column = None
        if column is not None:
            rename = menu.addAction(f"Rename Column {column}…",
                                    lambda: self.rename_column_dialog(table, column))
            drop = menu.addAction(f"Drop Column {column}…", lambda: self.drop_column(table, column))
            for action in (rename, drop):
                action.setEnabled(enabled)
            menu.addSeparator()
        if index is not None:
            menu.addAction(f"Drop Index {index}…", lambda: self.drop_index(index, space)).setEnabled(enabled)
            menu.addSeparator()
        self._table_actions(menu, table)
        return menu

    def read_ddl(self, title: str, kind: str, name: str, schema: str | None) -> None:
        """Read a server object's DDL in a worker, then show it (or say why it could not be read)."""
        from storage.formats.sql.ddl_read import read_server_ddl

        if self.host.database is None:
            return
        self.host.show_message(f"Reading the DDL of {title}…")

        def shown(sql: str) -> None:
            self.host.show_message("")
            self.show_ddl(title, sql)

        def failed(exc: BaseException) -> None:
            self.host.note_error(exc)
            self.host.show_message(f"Could not read the DDL of {title}: {exc}", "error")

        self.host.start_task(read_server_ddl, self.host.database, kind, name, schema,
                             on_result=shown, on_error=failed)

    def show_ddl(self, title: str, sql: str) -> QDialog:
        """The definition of a schema object, read-only, with Copy (not modal)."""
        from gui.sql.ddl_view import DdlDialog

        dialog = DdlDialog(title, sql, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.ddl_dialog = dialog
        return dialog

    # -- dialogs -------------------------------------------------------------------------------
    def _open(self, dialog: Any, build: Callable[[plans.Context, Any], Plan], value: Callable[[], Any],
              qualified: str | None, space: str | None = None) -> None:
        """Show ``dialog``; on Run, run its plan. Undo/redo rebuild it with ``build`` from the form."""
        self.schema_dialog = dialog

        def run() -> None:
            taken = value()
            self.run_schema_change(dialog.plan, lambda c: build(c, taken), qualified, space)

        dialog.accepted.connect(run)
        dialog.open()

    def modify_table_dialog(self, qualified: str | None) -> None:
        """The combined column editor: read the table's columns (and which hold data) on a worker,
        then show the dialog; its plan runs as one undoable change."""
        from storage.formats.sql.schema_run import build_plan

        schema = self.host.schema
        found = schema.find(qualified) if (qualified and schema is not None) else None
        if not self._can_edit_schema() or found is None or found.kind != "table":
            return
        table, space = found.name, self._db_schema(qualified)
        self.host.start_task(build_plan, self.schema_database(), lambda c: _read(c, table), space,
                             on_result=lambda got: self._show_modify(qualified, *got),
                             on_error=lambda e: self.host.show_message(f"Modify Table {table}: {e}", "error"))

    def _show_modify(self, qualified: str, before: TableEdit, data: dict[str | None, bool]) -> None:
        from gui.sql.modify_dialog import ModifyTableDialog
        from storage.formats.sql.modify_plans import modify_recipe, modify_table

        ctx = self._context(qualified)
        ctx.has_data = lambda _t, column, _d: data.get(column, True)
        dialog = ModifyTableDialog(before, lambda after: modify_table(ctx, before, after), ctx.dialect.name,
                                   self._names(), self)
        self.schema_dialog = dialog

        def run() -> None:
            after = dialog.edit()
            self.run_schema_change(dialog.plan, modify_recipe(before.name, after), qualified)

        dialog.accepted.connect(run)
        dialog.open()

    def create_table_dialog(self) -> None:
        from gui.sql.table_dialog import CreateTableDialog
        from storage.formats.sql import schema_plans as plans

        if not self._can_edit_schema():
            return
        ctx = self._context()
        dialog = CreateTableDialog(lambda spec: plans.create_table(ctx, spec), ctx.dialect.name,
                                   self._names(), self)
        self._open(dialog, plans.create_table, dialog.spec, None)

    def add_column_dialog(self, qualified: str) -> None:
        from gui.sql.schema_dialogs import AddColumnDialog
        from storage.formats.sql import schema_plans as plans

        if not self._can_edit_schema():
            return
        table, _space = self._target(qualified)
        ctx = self._context(qualified)
        dialog = AddColumnDialog(table, lambda col: plans.add_column(ctx, table, col), ctx.dialect.name,
                                 self._names(), self)
        self._open(dialog, lambda c, spec: plans.add_column(c, table, spec), dialog.spec, qualified)

    def rename_column_dialog(self, qualified: str, column: str) -> None:
        from gui.sql.schema_dialogs import RenameDialog
        from storage.formats.sql import schema_plans as plans

        if not self._can_edit_schema():
            return
        table, _space = self._target(qualified)
        ctx = self._context(qualified)
        dialog = RenameDialog(f"Rename Column {column}", column,
                              lambda new: plans.rename_column(ctx, table, column, new), self)
        self._open(dialog, lambda c, new: plans.rename_column(c, table, column, new),
                   lambda: dialog.name.text().strip(), qualified)

    def create_index_dialog(self, qualified: str | None) -> None:
        from gui.sql.schema_dialogs import CreateIndexDialog
        from storage.formats.sql import schema_plans as plans

        found = self.host.schema.find(qualified) if (qualified and self.host.schema is not None) else None
        if not self._can_edit_schema() or found is None:
            return
        ctx = self._context(qualified)
        dialog = CreateIndexDialog(found.name, [c.name for c in found.columns],
                                   lambda spec: plans.create_index(ctx, spec), self)
        self._open(dialog, plans.create_index, dialog.spec, qualified)

    def drop_table(self, qualified: str | None) -> None:
        from storage.formats.sql import schema_plans as plans

        if qualified:
            table, _space = self._target(qualified)
            self._confirm(f"Drop Table {qualified}", lambda c: plans.drop_table(c, table), qualified)

    def drop_column(self, qualified: str, column: str) -> None:
        from storage.formats.sql import schema_plans as plans

        table, _space = self._target(qualified)
        self._confirm(f"Drop Column {column}", lambda c: plans.drop_column(c, table, column), qualified)

    def drop_index(self, index: str, space: str | None = None) -> None:
        from storage.formats.sql import schema_plans as plans

        self._confirm(f"Drop Index {index}", lambda c: plans.drop_index(c, index), None, space)

    def _confirm(self, title: str, recipe: plans.Recipe, qualified: str | None,
                 space: str | None = None) -> None:
        """Build the plan on a worker (it probes for data), then show it with Run and Cancel."""
        from gui.sql.schema_dialogs import PreviewDialog
        from storage.formats.sql.schema_run import build_plan

        if not self._can_edit_schema():
            return

        def show(plan: Plan) -> None:
            self._open(PreviewDialog(title, self, plan), lambda c, _v: recipe(c), lambda: None, qualified,
                       space)

        self.host.start_task(build_plan, self.schema_database(), recipe, space or self._db_schema(qualified),
                    on_result=show, on_error=lambda e: self.host.show_message(f"{title}: {e}", "error"))

    # -- running -------------------------------------------------------------------------------
    def run_schema_change(self, plan: Plan | None, recipe: plans.Recipe, qualified: str | None,
                          space: str | None = None) -> None:
        """Run the previewed plan on a worker; then push its undo command and reload the schema."""
        from storage.formats.sql.schema_run import apply_plan

        if plan is None or self.host.read_only:
            return
        db_schema = space or self._db_schema(qualified)
        database = self.schema_database()
        self.quiet_readers()
        self.host.start_task(apply_plan, database, plan, db_schema,
                    on_result=lambda done: self._on_schema_run(done, recipe, db_schema),
                    on_error=lambda e: self._on_schema_failed(e, plan))

    def quiet_readers(self) -> None:
        """Stop the grid's and the counts' reads before a schema change: in rollback-journal mode a
        long count would otherwise hold the lock the change needs to commit. The reload reopens them."""
        self.host.close_readers()

    def _on_schema_failed(self, exc: BaseException, plan: Plan) -> None:
        self.schema_changed(plan.table)
        self.host.show_message(f"Not changed ({plan.title}): {exc}", "error")

    def _on_schema_run(self, plan: Plan, recipe: plans.Recipe, db_schema: str | None) -> None:
        from gui.sql.schema_commands import SchemaChange

        if plan.irreversible:
            self.host.undo_stack.clear()
            self.host.show_message(f"Done: {plan.title}. It cannot be undone ({plan.irreversible}), "
                              "so the undo history was cleared.")
        else:
            self.host.undo_stack.push(SchemaChange(self, plan, recipe, db_schema))
            self.host.show_message(f"Done: {plan.title}.")
        self.schema_changed(plan.table)

    def schema_changed(self, table: str | None) -> None:
        """Reload the schema tree (and the grid), staying on ``table`` when it still exists."""
        self.host.note_own_write()
        self.host.reopen(self.host.table.qualified if self.host.table is not None else table)
