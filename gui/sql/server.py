"""The SQL tab on a database server: the connection, its Reconnect bar, the statement timeout.

A document opened from a URL keeps its :class:`ServerConnection` (URL, password, the open
database, whether the connection is lost); :class:`ServerBar` shows a lost connection with
Reconnect, and the edits that failed to write (:class:`gui.sql.commands.PendingEdits`) with
Retry and Discard. The worker bodies at the end touch no widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from gui.sql.tasks import esc
from storage.core.errors import KnownError
from storage.core.url_redact import redact
from storage.formats.sql.db import Database, ServerDatabase
from storage.formats.sql.errors import ConnectionLost, StatementTimeout
from storage.formats.sql.estimate import (
    SLOW_COUNT,
    RowEstimate,
    has_estimates,
    query_estimate,
    table_estimate,
)
from storage.formats.sql.schema_types import Table
from storage.formats.sql.sqlite_db import Interrupted

if TYPE_CHECKING:
    from gui.sql.commands import PendingEdits


class ServerConnection(QObject):
    """Who the document is connected to (a URL, its password, the open database) and whether the
    connection is lost; inert for an SQLite file (``url`` None)."""

    lostChanged = Signal()

    def __init__(self, url: str | None, password: str | None, name: str | None,
                 database: ServerDatabase | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.url = url or (str(database.url) if database is not None else None)
        self.password = password
        self.name = name  # the saved connection's name, if any
        self.db: ServerDatabase | None = database
        self.lost: KnownError | None = None  # the connection loss shown, until it is back
        # Told a password typed into the document once the server took it (the window's
        # connector remembers it for the run, and in the keyring when the connection says so).
        self.password_listener: Callable[[str], None] | None = None

    @property
    def is_server(self) -> bool:
        return self.url is not None

    @property
    def location(self) -> str:
        """The URL without the password (the status bar's location)."""
        return redact(self.url) if self.url else ""

    @property
    def kind_label(self) -> str:
        """The server's product (POSTGRESQL, MARIADB), or empty for a file."""
        if self.url is None:
            return ""
        kind = self.db.product if self.db is not None else self.url.split(":", 1)[0].split("+", 1)[0]
        return kind.upper()

    def title(self) -> str:
        if self.name:
            return self.name
        if self.db is not None:
            return self.db.label
        try:
            from storage.formats.sql.url import label_of, parse_url  # SQLAlchemy: servers only

            return label_of(parse_url(self.url or ""))
        except KnownError:
            return redact(self.url or "")

    def note_error(self, error: BaseException) -> bool:
        """Remember ``error`` when it means the connection is gone; True if it did."""
        if isinstance(error, ConnectionLost):
            self.set_lost(error)
            return True
        return False

    def set_lost(self, error: KnownError | None) -> None:
        self.lost = error
        self.lostChanged.emit()

    def take_password(self, password: str, database: ServerDatabase) -> None:
        """The server took ``password``: ``database`` is the connection from now on."""
        old, self.db = self.db, database
        if old is not None:
            old.close()
        self.password = password
        if self.password_listener is not None:
            self.password_listener(password)

    def renew(self) -> None:
        """Forget the loss and renew every connection of the engine (Reconnect)."""
        if self.db is not None:
            self.db.renew()
        self.lost = None

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


class ServerBar(QFrame):
    """A bar above the content: the connection was lost, or edits are waiting to be written."""

    def __init__(self, connection: ServerConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.pending: PendingEdits | None = None  # the document's, once it has some (see follow)
        self.setObjectName("serverBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#serverBar { background: #fef3f2; border: 1px solid #fda29b; }")
        box = QHBoxLayout(self)
        box.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reconnect_button = QPushButton("Reconnect", self)
        self.retry_button = QPushButton("Retry edits", self)
        self.discard_button = QPushButton("Discard edits", self)
        box.addWidget(self.label, 1)
        for button in (self.reconnect_button, self.retry_button, self.discard_button):
            box.addWidget(button)
        self.setVisible(False)
        connection.lostChanged.connect(self.update_bar)

    def follow(self, pending: PendingEdits) -> None:
        """Show ``pending``'s edits with Retry and Discard (the document builds its list of edits
        not written when first needed)."""
        self.pending = pending
        self.retry_button.clicked.connect(pending.retry)
        self.discard_button.clicked.connect(pending.discard)
        pending.changed.connect(self.update_bar)

    @Slot()
    def update_bar(self) -> None:
        """Show what is wrong now: the connection lost and the edits not written."""
        lost, edits = self.connection.lost, self.pending.edits if self.pending is not None else []
        parts = []
        if lost is not None:
            parts.append(f"<b>Connection lost.</b> {esc(lost.message)}")
        if edits:
            count = len(edits)
            parts.append(f"<b>{count} edit{'s' if count != 1 else ''} not written</b> (shown marked in "
                         f"the grid): {esc(edits[-1].error)}")
        self.label.setText("<br>".join(parts))
        self.reconnect_button.setVisible(lost is not None or (self.connection.is_server and bool(edits)))
        self.retry_button.setVisible(bool(edits))
        self.discard_button.setVisible(bool(edits))
        self.setVisible(bool(parts))


class TimeoutBox(QWidget):
    """The statement timeout next to Run (servers only): the server stops longer statements."""

    def __init__(self, host: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host  # has ``database``
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Timeout:", self))
        from PySide6.QtWidgets import QDoubleSpinBox  # with Execute SQL, not the first screen

        self.spin = QDoubleSpinBox(self)
        self.spin.setRange(0, 24 * 3600)
        self.spin.setDecimals(0)
        self.spin.setSuffix(" s")
        self.spin.setSpecialValueText("none")
        self.spin.setToolTip("The server stops a statement that runs longer (0: no limit)")
        self.spin.valueChanged.connect(self._on_changed)
        box.addWidget(self.spin)

    def show_value(self, seconds: float) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(seconds)
        self.spin.blockSignals(False)

    @Slot(float)
    def _on_changed(self, seconds: float) -> None:
        database = self.host.database
        if database is not None:
            database.statement_timeout = float(seconds)


# -- worker bodies -------------------------------------------------------------------------------
def open_server(url: str, password: str | None, database: ServerDatabase | None) -> dict[str, Any]:
    """Worker body: connect (unless already connected), open two readers, read the schema."""
    from storage.formats.sql.url import open_database_url

    db = database if database is not None else open_database_url(url, password)
    reader = db.reader()
    try:
        schema = db.load_schema()
        counter = db.reader()
    except BaseException:
        reader.close()
        raise
    return {"reader": reader, "counter": counter, "schema": schema, "immutable": False, "wal": False,
            "database": db}


def count_server_tables(db: Database, tables: list[Table], cap: int | None,
                        cancel) -> dict[str, int | str | RowEstimate]:
    """Worker body: row counts of server tables (capped, or exact) on a connection of its own.

    On PostgreSQL a table whose statistics say it is big, or whose count runs past the statement
    timeout, gets the server's estimate instead of an exact count."""
    from storage.formats.sql.query import quote_table

    counts: dict[str, int | str | RowEstimate] = {}
    estimates = has_estimates(db.dialect)
    reader = db.reader()

    def estimate(table: Table) -> int | None:
        if not estimates:
            return None
        return reader.run(lambda conn: table_estimate(conn, db.dialect, table.name, table.schema))

    try:
        for table in tables:
            if cancel():
                break
            inner = f"SELECT 1 FROM {quote_table(table.name, table.schema, db.dialect)}"
            inner += f" LIMIT {cap + 1}" if cap is not None else ""
            try:
                rows = estimate(table) if cap is None else None  # a table this big: slow to count
                if rows is not None and rows >= SLOW_COUNT:
                    counts[table.qualified] = RowEstimate(rows)
                    continue
                sql = f"SELECT count(*) FROM ({inner}) AS counted"
                counts[table.qualified] = int(reader.run(
                    lambda conn, sql=sql: conn.execute(sql).fetchone()[0]))
            except StatementTimeout as exc:
                rows = estimate(table)
                counts[table.qualified] = RowEstimate(rows) if rows is not None else f"error: {exc}"
            except Interrupted:
                break
            except ConnectionLost:
                raise
            except KnownError as exc:
                counts[table.qualified] = f"error: {exc}"
    finally:
        reader.close()
    return counts


def estimate_rows(counter: Any, pager: Any) -> int | None:
    """Worker body: PostgreSQL's estimate of the rows of the grid's query."""
    return counter.run(lambda conn: query_estimate(conn, pager.query))
