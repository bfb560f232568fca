"""SQLite tab: any SQLite database, browsed lazily, sorted and filtered in SQL, edited with undo."""

from gui.document import Document
from gui.tab_page import TabPage


class SqliteTab(TabPage):
    tab_id = "sqlite"
    title = "&SQLite"
    formats = ("sqlite",)
    heading = "SQLite databases"
    blurb = ("Any SQLite file, whatever its name. Browse tables of any size page by page, sort "
             "and filter them in SQL, and edit rows with unlimited undo. Read-only mode never "
             "writes or locks the file.")
    name_filter = "SQLite databases (*.db *.sqlite *.sqlite3 *.db3);;All files (*)"
    icon_name = "x-office-spreadsheet"

    def create_document(self, path: str, fmt: str) -> Document:
        from gui.sqlite_document import SqliteDocument  # imported on first use: keeps launch quick

        return SqliteDocument(path, fmt, self)
