"""Import and export in the SQL tab: rows to CSV or JSON, CSV into a table, in workers.

:class:`TransferPanel` is the progress line above the document's tabs (label, bar, Cancel); it
starts exports and imports and talks to its document only through :class:`TransferHost`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from gui.common.convert_dialog import export_target
from gui.common.convert_dialog import open_in_window as host_window_open
from gui.common.file_dialogs import start_folder
from gui.common.workers import Worker as Task
from gui.common.workers import run_in_worker as run_task
from storage.core.convert import Target
from storage.formats.sql.db import Database
from storage.formats.sql.pager import Pager
from storage.formats.sql.schema_types import Schema
from storage.formats.sql.sqlite_db import Reader

if TYPE_CHECKING:  # the dialogs and the transfers are imported when first used
    from gui.sql.csv_dialog import CsvImportDialog, ImportPlan


class TransferHost(Protocol):
    """What the transfers need from their document."""

    read_only: bool
    schema: Schema | None
    database: Database | None
    path: str | None  # the database file (None for a server)

    def rows_shown(self) -> tuple[Any, Reader] | None: ...
    def show_message(self, text: str, kind: str = "info") -> None: ...
    def reopen(self, table: str | None) -> None: ...


class TransferPanel(QWidget):
    """One transfer at a time, with a progress bar and Cancel; hidden when none runs."""

    def __init__(self, host: TransferHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(120)
        self.cancel_button = QPushButton("Cancel", self)
        self.task: Task | None = None
        self.cancel_button.clicked.connect(self.cancel)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        for widget in (self.label, self.bar, self.cancel_button):
            box.addWidget(widget)
        self.setVisible(False)

    def _dialog_parent(self) -> QWidget:
        return self.parentWidget() or self

    # -- import and export -------------------------------------------------------------------
    def export_rows_to(self, path: str | None = None, target: Target | None = None) -> Any:
        """Export the Browse rows (sorted, filtered) to CSV, JSON, JSON Lines, Parquet or a table
        in an SQLite file (``target``; asked for when the chosen file is SQLite)."""
        from gui.sql.csv_dialog import ask_export_path, export_format
        from storage.formats.sql.transfer import export_rows

        shown = self.host.rows_shown()
        if shown is None:
            return None
        pager, counter = shown
        name = pager.query.spec.table if isinstance(pager, Pager) else "rows"
        if target is not None:
            path, fmt = target.path, target.format
        elif path is None:
            asked = ask_export_path(self._dialog_parent(), "Export Rows", self.host.path, name)
            if asked is None:
                return None
            path, fmt = asked
        else:
            fmt = export_format(path)
        types: list[str] | None = None
        if isinstance(pager, Pager):
            sql, params = pager.query.rows_statement()
            columns = list(pager.query.spec.columns)
            types = self._declared_types(pager.query.spec.table, columns)
        else:
            sql, params, columns = f"SELECT * FROM ({pager.sql})", {}, list(pager.columns)
        total = pager.total

        def start(chosen: Target | None, open_when_done: bool) -> Task:
            dest = chosen.path if chosen is not None else path
            task = self.run(f"Exporting to {os.path.basename(dest)}…",
                            lambda cancel, progress: counter.run(lambda conn: export_rows(
                                conn, sql, params, columns, dest, fmt, total, cancel, progress,
                                target=chosen, types=types)),
                            lambda n: f"Exported {n:,} rows to {dest}")
            if open_when_done:
                task.signals.returned.connect(lambda _n: host_window_open(self, dest))
            return task

        if target is not None:
            return start(target, False)
        return export_target(self._dialog_parent(), path, fmt, name, start)

    def _declared_types(self, table: str, columns: list[str]) -> list[str] | None:
        """The declared types of ``columns`` of ``table`` (an SQLite DATE column of ISO text is
        exported as a date)."""
        schema = self.host.schema
        found = schema.find(table) if schema is not None else None
        if found is None:
            return None
        declared = {c.name: c.decl_type for c in found.columns}
        return [declared.get(name, "") for name in columns]

    def import_csv_file(self, csv_path: str | None = None) -> CsvImportDialog | None:
        """Ask for a CSV file, then show the import preview (non-modal over the document)."""
        from gui.sql.csv_dialog import CsvImportDialog

        schema = self.host.schema
        if self.host.read_only or schema is None:
            return None
        if csv_path is None:
            csv_path, _ = QFileDialog.getOpenFileName(self._dialog_parent(), "Import CSV",
                                                      start_folder(self.host.path),
                                                      "CSV (*.csv *.tsv *.txt);;All files (*)")
            if not csv_path:
                return None
        dialog = CsvImportDialog(csv_path, schema.tables, self._dialog_parent())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.importRequested.connect(self.start_import)
        dialog.open()
        return dialog

    def start_import(self, plan: ImportPlan) -> Task | None:
        """Run an import in a worker (one transaction; progress and Cancel in the status line)."""
        from storage.formats.sql.transfer import import_csv

        if self.host.read_only:
            return None
        database, host = self.host.database, self.host

        def done(rows: int) -> str:
            host.reopen(plan.table)
            return f"Imported {rows:,} rows into {plan.table}"

        schema = self.host.schema
        existing = schema.find(plan.table) if schema is not None and not plan.create else None
        db_schema = existing.schema if existing is not None else None  # a server table outside public
        name = existing.name if existing is not None else plan.table
        return self.run(f"Importing {os.path.basename(plan.csv_path)}…",
                        lambda cancel, progress: import_csv(
                            database, plan.csv_path, name, plan.create, cancel, progress,
                            plan.options, plan.columns, plan.types, schema=db_schema), done)

    def run(self, label: str, work: Callable[..., Any], finished: Callable[[Any], str],
            busy: bool = False) -> Task:
        """Run ``work(cancel, progress)`` with the bar and Cancel shown; ``finished(result)`` says
        what was done. ``busy`` when the number of rows is not known (a result still being read):
        the bar moves without a percentage."""
        from storage.formats.sql.transfer import Cancelled

        self.label.setText(label)
        self.bar.setRange(0, 0 if busy else 100)
        self.bar.setValue(0)
        self.setVisible(True)

        def body(cancel, progress):
            return work(cancel, progress)

        def on_result(result: Any) -> None:
            self.setVisible(False)
            self.host.show_message(finished(result), "info")

        def on_error(exc: BaseException) -> None:
            self.setVisible(False)
            self.host.show_message(str(exc), "info" if isinstance(exc, Cancelled) else "error")

        self.task = run_task(body, on_result=on_result, on_error=on_error,
                             on_progress=lambda f: self.bar.setValue(int(f * 100)))
        return self.task

    @Slot()
    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
