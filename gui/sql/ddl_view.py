"""Show DDL: the definition of a table, view, sequence, function, index or trigger of the schema tree.

The tree keeps each object's definition in :data:`DDL_ROLE` of its item when the schema holds it
(SQLite's, PostgreSQL's views and routines); a server table's, and MariaDB's objects', are read
when asked, in a worker (:data:`DDL_READ_ROLE`). The dialog shows it read-only in a fixed-width
font, with Copy.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

DDL_ROLE = Qt.ItemDataRole.UserRole + 1
# A server object whose DDL is read when asked (a table, or MariaDB's views and routines):
# (kind, name, schema), for storage.formats.sql.ddl_read.read_server_ddl in a worker.
DDL_READ_ROLE = Qt.ItemDataRole.UserRole + 2


def view_ddl(kind: str, qualified_name: str, sql: str) -> str:
    """A view's CREATE statement: SQLite keeps it whole; PostgreSQL gives the query only."""
    if sql.lstrip()[:6].upper() == "CREATE" or not sql.strip():
        return sql
    what = "MATERIALIZED VIEW" if kind == "materialized view" else "VIEW"
    return f"CREATE {what} {qualified_name} AS\n{sql.rstrip()}"


class DdlDialog(QDialog):
    def __init__(self, title: str, sql: str, parent: QWidget | None = None) -> None:
        # Imported here: the schema tree needs only the roles above for its first screen.
        from PySide6.QtGui import QFontDatabase, QGuiApplication
        from PySide6.QtWidgets import QDialogButtonBox, QPlainTextEdit

        super().__init__(parent)
        self.setObjectName("ddlDialog")
        self.setWindowTitle(f"DDL of {title}")
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setPlainText(sql)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(sql))
        buttons.rejected.connect(self.close)
        box = QVBoxLayout(self)
        box.addWidget(self.text)
        box.addWidget(buttons)
        self.resize(720, 420)
