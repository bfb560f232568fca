"""Import and export in the SQLite tab: rows to CSV or JSON, CSV into a table, in workers.

A mixin of :class:`gui.sqlite_document.SqliteDocument`; it shares the document's state.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from storage.sql_pager import Pager
from storage.sql_transfer import Cancelled, export_rows, import_csv

from .sqlite_csv_dialog import CsvImportDialog, ImportPlan
from .workers import Worker as Task
from .workers import run_in_worker as run_task


class TransferMixin:
    """Starts exports and imports in workers, with a progress bar and Cancel."""

    def _build_transfer(self, page: QWidget) -> QWidget:
        self.transfer = QWidget(page)
        self.transfer_bar = QProgressBar(self.transfer)
        self.transfer_bar.setRange(0, 100)
        self.transfer_bar.setMaximumWidth(120)
        self.transfer_cancel = QPushButton("Cancel", self.transfer)
        self._transfer_task: Task | None = None
        self.transfer_cancel.clicked.connect(self._on_transfer_cancel)
        transfer_box = QHBoxLayout(self.transfer)
        transfer_box.setContentsMargins(0, 0, 0, 0)
        self.transfer_label = QLabel(self.transfer)
        for widget in (self.transfer_label, self.transfer_bar, self.transfer_cancel):
            transfer_box.addWidget(widget)
        self.transfer.setVisible(False)
        return self.transfer

    # -- import and export -------------------------------------------------------------------
    def export_rows_to(self, path: str | None = None, source: str = "browse") -> Task | None:
        """Export the Browse rows (sorted, filtered) or the last query's result to CSV or JSON."""
        if source == "result":  # streamed from the result's cursor: the query does not run again
            return self.sql_panel.export_result(path)
        pager = self.model.pager
        if pager is None or self.counter is None:
            return None
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, "Export Rows", "", "CSV (*.csv);;JSON (*.json)")
            if not path:
                return None
            if not path.lower().endswith((".csv", ".json")):
                path += ".json" if chosen.startswith("JSON") else ".csv"
        fmt = "json" if path.lower().endswith(".json") else "csv"
        if isinstance(pager, Pager):
            sql, params = pager.query.rows_statement()
            columns = list(pager.query.spec.columns)
        else:
            sql, params, columns = f"SELECT * FROM ({pager.sql})", {}, list(pager.columns)
        counter, total = self.counter, pager.total
        return self._transfer(f"Exporting to {os.path.basename(path)}…",
                              lambda cancel, progress: counter.run(lambda conn: export_rows(
                                  conn, sql, params, columns, path, fmt, total, cancel, progress)),
                              lambda n: f"Exported {n:,} rows to {path}")

    def import_csv_file(self, csv_path: str | None = None) -> CsvImportDialog | None:
        """Ask for a CSV file, then show the import preview (non-modal over the document)."""
        if self.read_only or self.schema is None:
            return None
        if csv_path is None:
            csv_path, _ = QFileDialog.getOpenFileName(self, "Import CSV", "",
                                                      "CSV (*.csv *.tsv *.txt);;All files (*)")
            if not csv_path:
                return None
        dialog = CsvImportDialog(csv_path, self.schema.tables, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.importRequested.connect(self.start_import)
        dialog.open()
        return dialog

    def start_import(self, plan: ImportPlan) -> Task | None:
        """Run an import in a worker (one transaction; progress and Cancel in the status line)."""
        if self.read_only:
            return None
        database = self.database

        def done(rows: int) -> str:
            self._pending_view_state = {"table": plan.table}
            self.table = None
            self.open_database()
            return f"Imported {rows:,} rows into {plan.table}"

        existing = self.schema.find(plan.table) if self.schema is not None and not plan.create else None
        schema = existing.schema if existing is not None else None  # a server table outside public
        name = existing.name if existing is not None else plan.table
        return self._transfer(f"Importing {os.path.basename(plan.csv_path)}…",
                              lambda cancel, progress: import_csv(
                                  database, plan.csv_path, name, plan.create, cancel, progress,
                                  plan.options, plan.columns, plan.types, schema=schema), done)

    def _transfer(self, label: str, work, finished) -> Task:
        self.transfer_label.setText(label)
        self.transfer_bar.setRange(0, 100)
        self.transfer_bar.setValue(0)
        self.transfer.setVisible(True)

        def body(cancel, progress):
            return work(cancel, progress)

        def on_result(result: Any) -> None:
            self.transfer.setVisible(False)
            self.show_message(finished(result), "info")

        def on_error(exc: BaseException) -> None:
            self.transfer.setVisible(False)
            self.show_message(str(exc), "info" if isinstance(exc, Cancelled) else "error")

        task = run_task(body, on_result=on_result, on_error=on_error,
                        on_progress=lambda f: self.transfer_bar.setValue(int(f * 100)))
        self._workers.append(task)
        self._transfer_task = task
        return task

    @Slot()
    def _on_transfer_cancel(self) -> None:
        if self._transfer_task is not None:
            self._transfer_task.cancel()

