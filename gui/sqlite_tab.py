"""SQLite tab: any SQLite database, browsed lazily, sorted and filtered in SQL, edited with undo."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QPushButton

from gui.document import Document
from gui.tab_page import TabPage


class SqliteTab(TabPage):
    tab_id = "sqlite"
    title = "&SQLite"
    formats = ("sqlite",)
    heading = "SQLite databases"
    blurb = ("Any SQLite file, whatever its name, or a database server (PostgreSQL, any "
             "SQLAlchemy URL). Browse tables of any size page by page, sort and filter them in "
             "SQL, and edit rows with unlimited undo. Read-only mode never writes or locks the file.")
    name_filter = "SQLite databases (*.db *.sqlite *.sqlite3 *.db3);;All files (*)"
    icon_name = "x-office-spreadsheet"

    connectRequested = Signal()  # "Connect to Database…" on the empty state

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connect_button = QPushButton("Connect to Database…", self.empty)
        self.connect_button.setObjectName("emptyConnectButton")
        for button in (self.empty.open_button, self.connect_button):
            button.setMinimumWidth(170)
        self.connect_button.clicked.connect(self.connectRequested)
        layout = self.empty.layout()
        layout.insertWidget(layout.indexOf(self.empty.open_button) + 1, self.connect_button, 0,
                            Qt.AlignmentFlag.AlignHCenter)

    def create_document(self, path: str, fmt: str) -> Document:
        from gui.sqlite_document import SqliteDocument  # imported on first use: keeps launch quick

        return SqliteDocument(path, fmt, self)
