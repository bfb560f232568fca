"""SQL tab: an SQLite file or a database server, browsed lazily, sorted and filtered in SQL."""

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton

from gui.common.empty_state import _text
from gui.common.tab_page import TabPage


class SqlTab(TabPage):
    tab_id = "sqlite"
    title = "&SQLite"
    heading = "SQLite databases"
    blurb = ("Any SQLite file, whatever its name, or a database server (PostgreSQL, any "
             "SQLAlchemy URL). Browse tables of any size page by page, sort and filter them in "
             "SQL, and edit rows with unlimited undo. Read-only mode never writes or locks the file.")
    filter_label = "SQLite databases"
    icon_name = "x-office-spreadsheet"

    connectRequested = Signal()  # "Connect to Database…" on the empty state
    recentConnectionRequested = Signal(dict)  # a recent connection clicked: {name, url}

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
        # Recent connections under the recent files, one click each (DBeaver's start page).
        self.connections_label = QLabel(self.empty)
        self.connections_label.setObjectName("recentConnections")
        self.connections_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.connections_label.setTextFormat(Qt.TextFormat.RichText)
        self.connections_label.linkActivated.connect(self._on_connection_link)
        layout.insertWidget(layout.indexOf(self.empty.recent_label) + 1, self.connections_label)
        self._recent_connections: list[dict] = []

    def set_recent_connections(self, entries: list[dict]) -> None:
        """Show up to five recent connections ({name, url} without password) as links."""
        self._recent_connections = entries[:5]
        links = "<br>".join(
            f"<a href='connection:{i}'>{_text(e.get('name') or e['url'])}</a>"
            + (f" <span style='color:gray'>{_text(e['url'])}</span>" if e.get("name") else "")
            for i, e in enumerate(self._recent_connections))
        self.connections_label.setText(f"<b>Recent connections</b><br>{links}" if links else "")

    def _on_connection_link(self, link: str) -> None:
        index = int(link.split(":", 1)[1])
        if 0 <= index < len(self._recent_connections):
            self.recentConnectionRequested.emit(dict(self._recent_connections[index]))
