"""The right side of the connection dialog: one connection's fields and its URL, kept in sync.

Editing a field rewrites the URL; typing a URL fills the fields (a PostgreSQL, MySQL or MariaDB
URL the host, port, database and user; a ``sqlite:///`` URL the file). A password typed into the URL moves to
the password field when the URL field is left, so the URL shown never holds it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QWidget,
)

from storage.settings.connections import (
    SERVER_DRIVERS,
    SERVER_PORTS,
    SSL_OPTIONS,
    Connection,
    ConnectionSpecError,
    from_url,
    split_password,
    wants_ssl,
)

KIND_LABELS = (("sqlite", "SQLite file"), ("postgresql", "PostgreSQL"), ("mysql", "MySQL / MariaDB"),
               ("url", "Other (SQLAlchemy URL)"))
NO_KEYRING = ("No system keyring is available: the password is kept in memory and asked once "
              "per run.")
PAGES = {"sqlite": 0, "postgresql": 1, "mysql": 1, "url": 2}  # kind -> page of fields


class ConnectionForm(QWidget):
    """Fields of one connection. :meth:`connection` and :meth:`password` read them back."""

    changed = Signal()  # any field: the dialog marks the connection edited

    def __init__(self, has_keyring: bool | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._syncing = False
        self._base = Connection(name="")
        self.name = QLineEdit(self)
        self.name.setObjectName("connectionName")
        self.kind = QComboBox(self)
        self.kind.setObjectName("connectionKind")
        for kind, label in KIND_LABELS:
            self.kind.addItem(label, kind)

        # SQLite: a file and Browse.
        sqlite_page = QWidget(self)
        self.path = QLineEdit(sqlite_page)
        self.path.setObjectName("connectionPath")
        self.path.setPlaceholderText("/path/to/database.sqlite")
        self.browse = QPushButton("Browse…", sqlite_page)
        self.browse.clicked.connect(self._on_browse)
        row = QHBoxLayout(sqlite_page)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        sqlite_form = QWidget(self)
        QFormLayout(sqlite_form).addRow("File:", sqlite_page)
        sqlite_form.layout().setContentsMargins(0, 0, 0, 0)

        # PostgreSQL, MySQL and MariaDB: the usual fields.
        pg_form = QWidget(self)
        self.host = QLineEdit(pg_form)
        self.host.setObjectName("connectionHost")
        self.port = QLineEdit(pg_form)
        self.port.setObjectName("connectionPort")
        self.port.setValidator(QIntValidator(1, 65535, self.port))
        self.port.setPlaceholderText("5432")
        self.database = QLineEdit(pg_form)
        self.database.setObjectName("connectionDatabase")
        self.user = QLineEdit(pg_form)
        self.user.setObjectName("connectionUser")
        self.driver = QComboBox(pg_form)
        self.driver.setEditable(True)
        self.driver.addItems(SERVER_DRIVERS["postgresql"])
        self.ssl = QCheckBox("Encrypt the connection (SSL/TLS)", pg_form)
        self.ssl.setObjectName("connectionSsl")
        self.options = QLineEdit(pg_form)
        self.options.setPlaceholderText("sslmode=require&connect_timeout=10")
        pg_layout = QFormLayout(pg_form)
        pg_layout.setContentsMargins(0, 0, 0, 0)
        pg_layout.addRow("Host:", self.host)
        pg_layout.addRow("Port:", self.port)
        pg_layout.addRow("Database:", self.database)
        pg_layout.addRow("User:", self.user)
        pg_layout.addRow("Driver:", self.driver)
        pg_layout.addRow("SSL:", self.ssl)
        pg_layout.addRow("Options:", self.options)

        url_form = QLabel("Any SQLAlchemy URL whose driver is installed, e.g. "
                          "mysql+pymysql://user@host/db.", self)
        url_form.setWordWrap(True)
        url_form.setStyleSheet("color: palette(placeholder-text);")

        self.pages = QStackedWidget(self)
        for page in (sqlite_form, pg_form, url_form):
            self.pages.addWidget(page)

        self.password = QLineEdit(self)
        self.password.setObjectName("connectionPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.save_password = QCheckBox("Save password in the system keyring", self)
        self.save_password.setObjectName("connectionSavePassword")
        self.password_note = QLabel(NO_KEYRING, self)
        self.password_note.setObjectName("connectionPasswordNote")
        self.password_note.setWordWrap(True)
        self.password_note.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self.has_keyring = has_keyring
        if has_keyring is None:  # not known yet: the box waits, disabled, for the keyring's answer
            self.save_password.setEnabled(False)
            self.save_password.setToolTip("Looking for the system keyring…")
            self.password_note.setVisible(False)
        else:
            self.save_password.setVisible(has_keyring)
            self.password_note.setVisible(not has_keyring)
        self.url = QLineEdit(self)
        self.url.setObjectName("connectionUrl")
        self.url.setPlaceholderText("postgresql+psycopg://user@host:5432/database")

        layout = QFormLayout(self)
        layout.addRow("Name:", self.name)
        layout.addRow("Type:", self.kind)
        layout.addRow(self.pages)
        self._password_label = QLabel("Password:", self)
        layout.addRow(self._password_label, self.password)
        layout.addRow("", self.save_password)
        layout.addRow("", self.password_note)
        layout.addRow("URL:", self.url)

        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        for edit in (self.path, self.host, self.port, self.database, self.user, self.options):
            edit.textEdited.connect(self._on_field_edited)
        self.options.textEdited.connect(self._on_options_edited)
        self.driver.currentTextChanged.connect(self._on_field_edited)
        self.ssl.toggled.connect(self._on_ssl_toggled)
        self.url.textEdited.connect(self._on_url_edited)
        self.url.editingFinished.connect(self._on_url_finished)
        for edit in (self.name, self.password):
            edit.textEdited.connect(self.changed)
        self.save_password.toggled.connect(self.changed)
        self._show_page()

    def set_keyring(self, usable: bool) -> None:
        """The keyring check answered: offer to save passwords there, or say why not."""
        self.has_keyring = usable
        self.save_password.setToolTip("")
        self.save_password.setVisible(usable)
        self.password_note.setVisible(not usable)
        self._show_page()

    # -- reading and writing -----------------------------------------------------------------
    def set_connection(self, connection: Connection, password: str | None) -> None:
        self._base = connection
        self._syncing = True
        try:
            self.name.setText(connection.name)
            self.kind.setCurrentIndex(self.kind.findData(connection.kind))
            self._show_fields(connection)
            self.password.setText(password or "")
            self.save_password.setChecked(connection.save_password)
            self.url.setText(connection.to_url() if connection.kind != "url" else
                             split_password(connection.url)[0] if connection.url else "")
        finally:
            self._syncing = False
        self._show_page()

    def connection(self) -> Connection:
        """The connection the fields describe (its password is :meth:`password`)."""
        kind = self.kind.currentData()
        port = int(self.port.text()) if self.port.text().isdigit() else None
        options = dict(parse_qsl(self.options.text().strip(), keep_blank_values=True))
        url_text = self.url.text().strip()
        return Connection(
            name=self.name.text().strip(), kind=kind, driver=self.driver.currentText().strip(),
            host=self.host.text().strip(), port=port, database=self.database.text().strip(),
            user=self.user.text().strip(), options=options,
            url=url_text if kind == "url" else "", path=self.path.text().strip(),
            save_password=self.save_password.isChecked() and self.has_keyring is not False,
            needs_password=bool(self.password_text()), id=self._base.id)

    def password_text(self) -> str | None:
        """The password field, or one still inside the URL field; None when empty."""
        if self.password.text():
            return self.password.text()
        try:
            return split_password(self.url.text())[1] if self.url.text().strip() else None
        except ConnectionSpecError:
            return None

    def url_text(self) -> str:
        """The URL to connect to, without its password ('' when the fields make none)."""
        try:
            return self.connection().to_url()
        except (ConnectionSpecError, ValueError):
            return ""

    # -- sync --------------------------------------------------------------------------------
    def _show_fields(self, connection: Connection) -> None:
        self.path.setText(connection.path)
        self.host.setText(connection.host)
        self.port.setText(str(connection.port) if connection.port else "")
        self.database.setText(connection.database)
        self.user.setText(connection.user)
        self._show_drivers(connection.kind)
        if connection.kind in SERVER_DRIVERS:
            self.driver.setCurrentText(connection.driver)
        self.options.setText(urlencode(connection.options))
        self._show_ssl(connection.kind, connection.options)

    def _show_drivers(self, kind: str) -> None:
        """The driver list and default port of a server kind (PostgreSQL's for other kinds)."""
        drivers = SERVER_DRIVERS.get(kind, SERVER_DRIVERS["postgresql"])
        if tuple(self.driver.itemText(i) for i in range(self.driver.count())) != drivers:
            blocked = self.driver.blockSignals(True)
            self.driver.clear()
            self.driver.addItems(drivers)
            self.driver.blockSignals(blocked)
        self.port.setPlaceholderText(str(SERVER_PORTS.get(kind, 5432)))
        self.options.setPlaceholderText("ssl_ca=/path/to/ca.pem&charset=utf8mb4" if kind == "mysql"
                                        else "sslmode=require&connect_timeout=10")

    def _show_ssl(self, kind: str, options: dict[str, str]) -> None:
        blocked = self.ssl.blockSignals(True)
        self.ssl.setChecked(wants_ssl(kind, options))
        self.ssl.blockSignals(blocked)

    @Slot(bool)
    def _on_ssl_toggled(self, checked: bool) -> None:
        """SSL on adds the kind's option that asks for it (kept when a stricter one is there);
        off removes every SSL option, so the URL says what the box says."""
        kind = self.kind.currentData()
        options = dict(parse_qsl(self.options.text().strip(), keep_blank_values=True))
        if checked and not wants_ssl(kind, options) and kind in SSL_OPTIONS:
            key, value = SSL_OPTIONS[kind]
            options[key] = value
        elif not checked:
            options = {k: v for k, v in options.items()
                       if not (k.startswith("ssl_") or k == "sslmode")}
        self.options.setText(urlencode(options))
        self._on_field_edited()

    @Slot()
    def _on_kind_changed(self) -> None:
        kind = self.kind.currentData()
        if kind in SERVER_DRIVERS and not self._syncing:
            # Another server kind: its driver, and its default port unless one was typed that
            # is not the other kind's default.
            self._show_drivers(kind)
            self.driver.setCurrentIndex(0)
            if not self.port.text() or int(self.port.text() or 0) in SERVER_PORTS.values():
                self.port.setText(str(SERVER_PORTS[kind]))
            options = dict(parse_qsl(self.options.text().strip(), keep_blank_values=True))
            self._show_ssl(kind, options)
        self._show_page()
        if not self._syncing:
            self._on_field_edited()

    def _show_page(self) -> None:
        """The fields of the chosen type; a SQLite file has no password."""
        self.pages.setCurrentIndex(PAGES.get(self.kind.currentData(), 2))
        # Hidden pages must not reserve their height (a stack is as tall as its tallest page).
        for index in range(self.pages.count()):
            policy = QSizePolicy.Policy.Preferred if index == self.pages.currentIndex() \
                else QSizePolicy.Policy.Ignored
            self.pages.widget(index).setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.pages.adjustSize()
        server = self.kind.currentData() != "sqlite"
        for widget in (self._password_label, self.password):
            widget.setVisible(server)
        self.save_password.setEnabled(server and self.has_keyring is not None)

    @Slot()
    def _on_field_edited(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            if self.kind.currentData() != "url":
                self.url.setText(self.url_text())
        finally:
            self._syncing = False
        self.changed.emit()

    @Slot()
    def _on_options_edited(self) -> None:
        options = dict(parse_qsl(self.options.text().strip(), keep_blank_values=True))
        self._show_ssl(self.kind.currentData(), options)

    @Slot(str)
    def _on_url_edited(self, text: str) -> None:
        """Typing a URL fills the fields it implies (the type too)."""
        try:
            parsed, _password = from_url(text) if text.strip() else (None, None)
        except ConnectionSpecError:
            parsed = None
        self._syncing = True
        try:
            if parsed is not None:
                self.kind.setCurrentIndex(self.kind.findData(parsed.kind))
                self._show_fields(parsed)
            elif self.kind.currentData() != "url":
                self.kind.setCurrentIndex(self.kind.findData("url"))
        finally:
            self._syncing = False
        self._show_page()
        self.changed.emit()

    @Slot()
    def _on_url_finished(self) -> None:
        """Leaving the URL field: a password typed into it moves to the password field."""
        try:
            clean, password = split_password(self.url.text()) if self.url.text().strip() \
                else ("", None)
        except ConnectionSpecError:
            return
        if password is not None:
            self.password.setText(password)
            self.url.setText(clean)
            self.changed.emit()

    @Slot()
    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "SQLite database", self.path.text(),
            "SQLite databases (*.db *.sqlite *.sqlite3 *.db3);;All files (*)")
        if path:
            self.path.setText(path)
            self._on_field_edited()
