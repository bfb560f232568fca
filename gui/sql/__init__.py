"""The SQL tab: SQLite files and database servers, browsed lazily, edited with undo."""
