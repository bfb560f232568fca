"""SQLite tab: databases, opened read-only for inspection."""

from gui.tab_page import TabPage


class SqliteTab(TabPage):
    tab_id = "sqlite"
    title = "&SQLite"
    formats = ("sqlite",)
    heading = "SQLite databases"
    blurb = ("Any SQLite file, whatever its name. Datashelf opens it read-only and without "
             "locking it, and lists its tables and views with their columns and row counts, "
             "its page size, journal mode and integrity check.")
    name_filter = "SQLite databases (*.db *.sqlite *.sqlite3 *.db3);;All files (*)"
    icon_name = "x-office-spreadsheet"
