"""Opening a database server from a SQLAlchemy URL, with errors that say what to do (no Qt).

``postgresql+psycopg://user@host:5432/db`` (the password given apart, so it is never written
into settings), or any dialect whose driver is installed. A driver that is missing is named with
the pip package that installs it.
"""

from __future__ import annotations

import importlib.util
import sqlite3

import sqlalchemy as sa

from storage.core.url_redact import redact
from storage.formats.sql.db import CONNECT_TIMEOUT, ServerDatabase, SqliteDatabase
from storage.formats.sql.errors import DriverMissing, MalformedUrl
from storage.formats.sql.sqlite_db import check_header

# The pip package of each DB-API driver SQLAlchemy knows by name.
DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "pg8000": "pg8000",
    "asyncpg": "asyncpg", "psycopg_async": "psycopg[binary]", "pymysql": "pymysql",
    "mysqldb": "mysqlclient", "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb", "aiomysql": "aiomysql", "asyncmy": "asyncmy",
    "pyodbc": "pyodbc", "pymssql": "pymssql", "aioodbc": "aioodbc", "oracledb": "oracledb",
    "cx_oracle": "cx_Oracle", "duckdb": "duckdb-engine", "snowflake": "snowflake-sqlalchemy",
    "clickhouse": "clickhouse-sqlalchemy",
}
# The driver SQLAlchemy uses when a URL names only the dialect.
DEFAULT_DRIVERS = {"postgresql": "psycopg2", "mysql": "mysqldb", "mariadb": "mysqldb",
                   "mssql": "pyodbc", "oracle": "cx_oracle"}
# Dialects that live in a separate SQLAlchemy plugin package.
DIALECT_PACKAGES = {"duckdb": "duckdb-engine", "snowflake": "snowflake-sqlalchemy",
                    "clickhouse": "clickhouse-sqlalchemy", "cockroachdb": "sqlalchemy-cockroachdb",
                    "redshift": "sqlalchemy-redshift", "bigquery": "sqlalchemy-bigquery",
                    "trino": "trino[sqlalchemy]"}


def label_of(url: sa.URL) -> str:
    """A short name for a connection: user@host:port/database, without the password."""
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    user = f"{url.username}@" if url.username else ""
    return f"{user}{host}{port}/{url.database or ''}"


def parse_url(url: str, password: str | None = None) -> sa.URL:
    """The parsed URL with ``password`` set, or :class:`MalformedUrl`."""
    try:
        parsed = sa.make_url(url.strip())
    except Exception:
        raise MalformedUrl(f"{redact(url)!r} is not a database URL. Write it like "
                           "postgresql+psycopg://user@host:5432/database") from None
    if password is not None:
        parsed = parsed.set(password=password)
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None \
            and importlib.util.find_spec("psycopg") is not None:
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
    return parsed


def _missing_driver(parsed: sa.URL, exc: BaseException) -> DriverMissing:
    dialect = parsed.get_backend_name()
    explicit = "+" in parsed.drivername
    driver = parsed.drivername.split("+", 1)[1] if explicit else DEFAULT_DRIVERS.get(dialect, "")
    if (isinstance(exc, sa.exc.NoSuchModuleError) and "+" not in parsed.drivername) or \
            (isinstance(exc, sa.exc.NoSuchModuleError) and dialect in DIALECT_PACKAGES):
        package = DIALECT_PACKAGES.get(dialect, "")
        hint = f": pip install {package}" if package else " (no SQLAlchemy dialect of that name is installed)"
        return DriverMissing(f"The database type {dialect!r} is not supported here{hint}.", package)
    package = DRIVER_PACKAGES.get(driver, driver)
    if isinstance(exc, sa.exc.NoSuchModuleError):
        return DriverMissing(f"SQLAlchemy has no driver {driver!r} for {dialect}. Check the URL's "
                             f"'{dialect}+driver' part (for example {dialect}+{_example(dialect)}).", "")
    return DriverMissing(f"The {driver} driver for {dialect} is not installed. Install it with: "
                         f"pip install '{package}'", package)


def _example(dialect: str) -> str:
    return {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql",
            "mssql": "pyodbc", "oracle": "oracledb"}.get(dialect, "driver")


def create_engine(parsed: sa.URL) -> sa.Engine:
    """A SQLAlchemy engine without a pool (the document keeps its own connections)."""
    connect_args: dict = {}
    backend, _plus, driver = parsed.drivername.partition("+")  # names only: nothing loaded yet
    if backend in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
        connect_args["application_name"] = "Datashelf"
        # A server that vanished from the network (no reset) is noticed in seconds, not minutes.
        connect_args.update(keepalives=1, keepalives_idle=15, keepalives_interval=5, keepalives_count=3)
    try:
        return sa.create_engine(parsed, poolclass=sa.pool.NullPool, connect_args=connect_args)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise _missing_driver(parsed, exc) from None
    except sa.exc.ArgumentError as exc:
        raise MalformedUrl(f"{redact(parsed)}: {exc}") from None


def open_database_url(url: str, password: str | None = None) -> ServerDatabase:
    """Connect to ``url`` (``password`` apart from it) and check that the server answers.

    Raises :class:`~storage.formats.sql.errors.WrongPassword`, ``ServerUnreachable``,
    ``UnknownDatabase``, ``DriverMissing`` or ``MalformedUrl`` with a message for the user.
    """
    parsed = parse_url(url, password)
    if parsed.get_backend_name() == "sqlite":  # a file: the SQLite path with its safety rules
        return _sqlite_file(parsed)  # type: ignore[return-value]
    db = ServerDatabase(create_engine(parsed), label_of(parsed))
    conn = db.connect()
    try:
        db.server_version = _describe(db, conn)
    except Exception as exc:
        raise db.explain(exc) from None
    finally:
        conn.close()
    return db


def _sqlite_file(parsed: sa.URL) -> SqliteDatabase:
    path = parsed.database or ""
    if not path or path == ":memory:":
        raise MalformedUrl("An SQLite URL needs a file: sqlite:///path/to/file.db")
    check_header(path)  # a clear error unless it is an SQLite database
    db = SqliteDatabase(path)
    db.server_version = f"SQLite {sqlite3.sqlite_version}"
    return db


def _describe(db: ServerDatabase, conn) -> str:
    if db.kind == "postgresql":
        version = conn.execute("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {str(version).split()[0]}"
    info = db.engine.dialect.server_version_info or ()
    return f"{db.product} {'.'.join(str(p) for p in info)}".strip()


def test_connection(url: str, password: str | None = None) -> str:
    """A one-line description of the server at ``url`` (e.g. "PostgreSQL 15.18"), or a KnownError."""
    db = open_database_url(url, password)
    try:
        return db.server_version
    finally:
        db.close()


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
