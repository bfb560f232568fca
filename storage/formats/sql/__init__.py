"""SQL databases: SQLite files and servers (PostgreSQL, MariaDB, any SQLAlchemy dialect)."""
