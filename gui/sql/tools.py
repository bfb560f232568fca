"""The Tools menu of the SQL tab: checks, VACUUM, pragmas, ANALYZE and EXPLAIN.

:class:`ToolsPanel` is the Tools button with its menu; it talks to its document only through
:class:`ToolsHost`. Every tool runs on a worker with a dialog that shows it working and can cancel
it. Checks read on a connection of their own, so the grid keeps scrolling; VACUUM closes the
document's readers first and reopens them after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QMenu, QMessageBox, QPushButton, QToolButton, QWidget

from storage.core.sizes import size_text
from storage.formats.sql.db import Database
from storage.formats.sql.schema_types import Schema, Table
from storage.formats.sql.sqlite_db import Reader

if TYPE_CHECKING:  # the dialogs, and the tools themselves, are imported when first used
    from gui.sql.pragmas import PragmasDialog
    from gui.sql.tool_dialog import PlanDialog, ToolDialog


class ToolsHost(Protocol):
    """What the tools need from their document."""

    path: str | None
    immutable: bool
    read_only: bool
    schema: Schema | None
    table: Table | None  # the table the grid shows
    reader: Reader | None
    database: Database | None
    undo_stack: QUndoStack

    def title(self) -> str: ...
    def describe_failure(self, exc: BaseException) -> str: ...
    def db_kind(self) -> str: ...
    def db_dialect(self) -> Any: ...
    def start_task(self, fn: Any, *args: Any, on_result: Any = None, on_error: Any = None) -> Any: ...
    def show_message(self, text: str, kind: str = "info") -> None: ...
    def show_rows(self, table_name: str, pairs: list[tuple[str, Any]], select: str) -> bool: ...
    def close_readers(self) -> None: ...
    def reopen(self, table: str | None) -> None: ...
    def note_own_write(self) -> None: ...
    def current_statement(self) -> str: ...


class ToolsPanel(QToolButton):
    """The Tools button; each tool opens a dialog (kept in ``self.tool_dialog`` for tests)."""

    def __init__(self, host: ToolsHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.tool_dialog: ToolDialog | PragmasDialog | None = None
        self.explain_button: QPushButton | None = None
        self.setText("Tools")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        self.tool_actions = {
            "integrity": menu.addAction("Integrity Check", lambda: self.check_integrity(False)),
            "quick": menu.addAction("Quick Check", lambda: self.check_integrity(True)),
            "fk": menu.addAction("Foreign Key Check", self.check_foreign_keys),
        }
        menu.addSeparator()
        self.tool_actions["analyze_table"] = menu.addAction("ANALYZE Table", lambda: self.analyze(True))
        self.tool_actions["analyze_all"] = menu.addAction("ANALYZE Database", lambda: self.analyze(False))
        self.tool_actions["explain"] = menu.addAction("Explain Query Plan", lambda: self.explain_query(False))
        self.tool_actions["explain_analyze"] = menu.addAction("Explain Analyze (runs the query)",
                                                              lambda: self.explain_query(True))
        menu.addSeparator()
        self.tool_actions["vacuum"] = menu.addAction("VACUUM…", lambda: self.vacuum_database())
        self.tool_actions["pragmas"] = menu.addAction("Pragmas…", self.show_pragmas)
        menu.aboutToShow.connect(self._update_tools)
        self.setMenu(menu)

    def add_explain_button(self, row: QHBoxLayout, parent: QWidget) -> None:
        """Explain next to Run in the Execute SQL panel."""
        self.explain_button = QPushButton("Explain", parent)
        self.explain_button.setToolTip("Show the plan of the statement under the cursor (nothing runs)")
        self.explain_button.clicked.connect(lambda: self.explain_query(False))
        row.addWidget(self.explain_button)

    @Slot()
    def _update_tools(self) -> None:
        sqlite = self.host.db_kind() == "sqlite"
        writable = not self.host.read_only
        for name in ("integrity", "quick", "fk", "pragmas"):
            self.tool_actions[name].setEnabled(sqlite)
        self.tool_actions["vacuum"].setEnabled(sqlite and writable)
        self.tool_actions["analyze_table"].setEnabled(writable and self.host.table is not None
                                                      and self.host.table.kind == "table")
        self.tool_actions["analyze_all"].setEnabled(writable)
        self.tool_actions["explain_analyze"].setEnabled(not sqlite)

    def _dialog(self, dialog: Any) -> Any:
        if self.tool_dialog is not None:
            self.tool_dialog.close()
        self.tool_dialog = dialog
        dialog.show()
        return dialog

    # -- checks --------------------------------------------------------------------------------
    def check_integrity(self, quick: bool = False) -> ToolDialog:
        """PRAGMA integrity_check (or quick_check) on a connection of its own."""
        from gui.sql.tool_dialog import ToolDialog, run_tool
        from storage.formats.sql import tools as sql_tools

        name = "Quick check" if quick else "Integrity check"
        dialog = self._dialog(ToolDialog(f"{name} — {self.host.title()}", ["Problem"], self))
        path, immutable = self.host.path or "", self.host.immutable

        def work(cancel) -> list[str]:
            reader = Reader(path, immutable=immutable)
            try:
                return reader.run(lambda conn: sql_tools.integrity_check(conn, quick, cancel=cancel))  # type: ignore[return-value]
            finally:
                reader.close()

        def shown(problems: list[str]) -> None:
            if problems == ["ok"]:
                dialog.show_rows(f"{name}: ok — no problems found.", [])
            else:
                dialog.show_rows(f"{name}: {len(problems):,} problem(s) found.",
                                 [[p] for p in problems], False)

        run_tool(self.host, dialog, work, shown)
        return dialog

    def check_foreign_keys(self) -> ToolDialog:
        """PRAGMA foreign_key_check: rows whose foreign key names no row."""
        from gui.sql.tool_dialog import ToolDialog, run_tool
        from storage.formats.sql import tools as sql_tools

        dialog = self._dialog(ToolDialog(f"Foreign key check — {self.host.title()}",
                                         ["Table", "Row id", "References", "Foreign key #"], self))
        path, immutable = self.host.path or "", self.host.immutable

        def work(cancel) -> list[Any]:
            reader = Reader(path, immutable=immutable)
            try:
                return reader.run(lambda conn: sql_tools.foreign_key_check(conn, cancel=cancel))  # type: ignore[return-value]
            finally:
                reader.close()

        def shown(found: list[Any]) -> None:
            rows = [[v.table, v.rowid, v.parent, v.fk_index] for v in found]
            dialog.show_rows(f"{len(rows):,} row(s) reference missing rows (double-click one to show it)."
                             if rows else "Every foreign key points at an existing row.", rows, not rows)
            dialog.found = found

        dialog.results.itemDoubleClicked.connect(
            lambda item, _c: self.show_violation(dialog.found[dialog.results.indexOfTopLevelItem(item)]))
        run_tool(self.host, dialog, work, shown)
        return dialog

    def show_violation(self, violation: Any) -> bool:
        """Show the row a foreign key check reported, in the grid (Back returns)."""
        table = self.host.schema.find(violation.table) if self.host.schema is not None else None
        if table is None or violation.rowid is None or not table.rowid_name:
            self.host.show_message(f"The row of {violation.table} cannot be shown (a WITHOUT ROWID table).",
                              "info")
            return False
        return self.host.show_rows(table.qualified, [(table.rowid_name, violation.rowid)],
                                   table.columns[0].name)

    # -- VACUUM and ANALYZE --------------------------------------------------------------------
    def vacuum_database(self, ask: bool = True) -> ToolDialog | None:
        """Rebuild the file without free pages: asks first; the readers are reopened after."""
        from gui.sql.tool_dialog import ToolDialog
        from storage.formats.sql import tools as sql_tools

        if self.host.read_only or self.host.db_kind() != "sqlite":
            return None
        if ask and QMessageBox.question(
                self, "VACUUM", f"Rebuild {self.host.title()} to reclaim free space? This rewrites the whole "
                "file and needs as much free disk space again; it cannot be undone.") \
                != QMessageBox.StandardButton.Yes:
            return None
        dialog = self._dialog(ToolDialog(f"VACUUM — {self.host.title()}", ["Result"], self))
        path = self.host.path or ""
        reopen = self._close_for_reopen()  # VACUUM needs the file to itself

        def shown(sizes: tuple[int, int]) -> None:
            before, after = sizes
            dialog.show_rows(f"VACUUM done: {size_text(before)} → {size_text(after)}.", [])
            reopen()

        def failed(exc: BaseException) -> None:
            dialog.show_error(str(exc))
            reopen()

        task = self.host.start_task(lambda cancel: sql_tools.vacuum(path, cancel), on_result=shown,
                                    on_error=failed)
        dialog.cancelled.connect(task.cancel)
        return dialog

    def _close_for_reopen(self) -> Any:
        """Close the readers; the function returned reopens the document on the same table."""
        table = self.host.table.name if self.host.table else None
        self.host.close_readers()

        return lambda: self.host.reopen(table)

    def with_readers_closed(self, work: Any) -> Any:
        """Run a short ``work()`` with no reader open (a journal mode change), then reopen."""
        reopen = self._close_for_reopen()
        try:
            return work()
        finally:
            reopen()

    def analyze(self, table_only: bool) -> ToolDialog | None:
        """ANALYZE the current table or the whole database, so the planner has statistics."""
        from gui.sql.tool_dialog import ToolDialog, run_tool
        from storage.formats.sql import tools as sql_tools

        if self.host.read_only:
            return None
        table = self.host.table.name if table_only and self.host.table is not None else None
        what = table or "the database"
        dialog = self._dialog(ToolDialog(f"ANALYZE {what}", ["Result"], self))
        kind = self.host.db_kind()
        if kind == "sqlite":
            path = self.host.path or ""

            def work(cancel) -> None:
                sql_tools.analyze_sqlite(path, table, cancel)
        else:
            database = self.host.database
            sql = sql_tools.analyze_statement(kind, table,
                                              getattr(self.host.table, "schema", None) if table else None,
                                              self.host.db_dialect())

            def work(cancel) -> None:
                database.write(lambda conn: conn.execute(sql), table)

        def shown(_none: Any) -> None:
            dialog.show_rows(f"ANALYZE {what}: statistics updated.", [])
            self.host.note_own_write()

        run_tool(self.host, dialog, work, shown)
        return dialog

    # -- EXPLAIN -------------------------------------------------------------------------------
    def explain_query(self, analyze: bool = False, sql: str | None = None,
                      ask: bool = True) -> PlanDialog | None:
        """The plan of the Execute SQL statement under the cursor, as a tree."""
        from gui.sql.tool_dialog import PlanDialog, run_tool
        from storage.formats.sql import explain

        sql = sql if sql is not None else self.host.current_statement()
        reader, kind = self.host.reader, self.host.db_kind()
        if not sql or reader is None:
            self.host.show_message("Write a statement in Execute SQL to explain it.", "info")
            return None
        if analyze and kind != "sqlite" and ask and QMessageBox.warning(
                self, "Explain Analyze", "EXPLAIN ANALYZE runs the statement for real, taking the time and "
                "locks it needs; what an INSERT, UPDATE or DELETE changes is rolled back after. Run it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel) \
                != QMessageBox.StandardButton.Yes:
            return None
        dialog = self._dialog(PlanDialog(f"Query plan — {self.host.title()}", self))

        def work() -> Any:
            if kind == "sqlite":
                return reader.run(lambda conn: explain.explain_sqlite(conn, sql))
            return reader.run(lambda conn: explain.explain_postgres(conn, sql, analyze))

        def shown(plan: Any) -> None:
            dialog.show_plan(plan, sql)

        run_tool(self.host, dialog, work, shown, interrupt=reader.interrupt)
        return dialog

    def show_pragmas(self) -> PragmasDialog | None:
        from gui.sql.pragmas import PragmasDialog

        if self.host.db_kind() != "sqlite" or self.host.reader is None:
            return None
        return self._dialog(PragmasDialog(self, self))

    def pragma_written(self, name: str, value: Any) -> None:
        """A SetPragma command wrote: refresh the panel, and the grid when the mode changed."""
        from gui.sql.pragmas import PragmasDialog

        self.host.note_own_write()
        self.host.show_message(f"PRAGMA {name} is now {value}.")
        if isinstance(self.tool_dialog, PragmasDialog):
            self.tool_dialog.refresh()

