"""One interface over an SQLite file and a database server (PostgreSQL, or any SQLAlchemy dialect).

The SQLite tab's document, its workers and the storage functions of :mod:`storage.sql_query`,
:mod:`storage.sqlite_edit`, :mod:`storage.sql_exec` and :mod:`storage.sql_transfer` work on a
:class:`Database`: ``reader()`` gives a connection for one worker at a time (``run``,
``interrupt`` — a server-side cancel on PostgreSQL — and ``close``), ``write(work)`` runs one
transaction, and ``dialect`` compiles statements (quoting, parameter style, LIMIT syntax).
No Qt here.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

from .errors import KnownError
from .sql_errors import ConnectionLost, explain_server
from .sqlite_db import SQL_ERRORS, Interrupted, Reader, Schema, connect_writer, explain, load_schema

T = TypeVar("T")

STATEMENT_TIMEOUT = 30.0  # seconds: the server stops a longer statement (0: no limit)
CONNECT_TIMEOUT = 5  # seconds to wait for a server that does not answer

SQLITE_DIALECT = sqlite_dialect.dialect(paramstyle="named")


class Database:
    """What the SQL tab needs from a database, whatever its kind."""

    kind: str = ""
    label: str = ""
    dialect: sa.engine.Dialect = SQLITE_DIALECT
    read_only: bool = False
    statement_timeout: float = STATEMENT_TIMEOUT

    def reader(self) -> Any:
        raise NotImplementedError

    def write(self, work: Callable[[Any], T], table: str | None = None, *,
              foreign_keys: bool = False) -> T:
        raise NotImplementedError

    def load_schema(self) -> Schema:
        raise NotImplementedError

    def explain(self, exc: BaseException, table: str | None = None) -> KnownError:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections held for writing; readers are closed by their owners."""

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"


class SqliteDatabase(Database):
    """An SQLite file: read through ``mode=ro`` connections, written one short transaction at a time."""

    kind = "sqlite"

    def __init__(self, path: str, immutable: bool = False, read_only: bool = False) -> None:
        self.path = path
        self.immutable = immutable
        self.read_only = read_only
        self.label = os.path.basename(path)
        self.dialect = SQLITE_DIALECT

    def reader(self) -> Reader:
        return Reader(self.path, immutable=self.immutable)

    def write(self, work: Callable[[Any], T], table: str | None = None, *,
              foreign_keys: bool = False) -> T:
        """``work(conn)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` on a fresh writable connection."""
        conn = connect_writer(self.path)
        try:
            if foreign_keys:  # only outside a transaction does this pragma take effect
                conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            result = work(conn)
            conn.execute("COMMIT")
            return result
        except SQL_ERRORS as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise explain(exc, self.path, table) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def load_schema(self) -> Schema:
        reader = self.reader()
        try:
            return reader.run(lambda conn: load_schema(conn, self.path))  # type: ignore[return-value]
        finally:
            reader.close()

    def explain(self, exc: BaseException, table: str | None = None) -> KnownError:
        return explain(exc, self.path, table)


def as_database(target: Database | str) -> Database:
    """A :class:`Database` for a path (the storage functions' older signature) or the database itself."""
    return target if isinstance(target, Database) else SqliteDatabase(target)


class _Cursor:
    """A DB-API-like cursor over SQLAlchemy's result (for dialects other than PostgreSQL)."""

    def __init__(self, result: Any) -> None:
        self._result = result
        self.description = result.cursor.description if result.returns_rows else None
        self.rowcount = result.rowcount

    def fetchone(self) -> Any:
        row = self._result.fetchone()
        return None if row is None else tuple(row)

    def fetchall(self) -> list[tuple]:
        return [tuple(r) for r in self._result.fetchall()]

    def fetchmany(self, size: int = 1) -> list[tuple]:
        return [tuple(r) for r in self._result.fetchmany(size)]

    def __iter__(self):
        return iter(self.fetchall())


class _SqlaConnection:
    """``execute(sql, params)`` over SQLAlchemy's ``Connection.exec_driver_sql``."""

    def __init__(self, conn: sa.Connection) -> None:
        self.sa = conn

    def execute(self, sql: str, params: Any = None) -> _Cursor:
        return _Cursor(self.sa.exec_driver_sql(sql, params if params else ()))

    def executemany(self, sql: str, rows: Any) -> None:
        self.sa.exec_driver_sql(sql, list(rows))

    @property
    def broken(self) -> bool:
        return self.sa.closed or self.sa.invalidated

    def close(self) -> None:
        self.sa.close()


class ServerReader:
    """One connection of a server database for a document's workers, one query at a time.

    A connection that broke (server restarted, network down) is replaced at the next ``run``, so
    paging after a dropped connection reconnects instead of failing for ever. ``interrupt()``
    may be called from any thread: on PostgreSQL it asks the server to cancel the statement.
    """

    def __init__(self, db: ServerDatabase) -> None:
        self.db = db
        self.lock = threading.Lock()
        self._closed = False
        self._timeout: float | None = None
        self.conn: Any = db.connect()

    def run(self, func: Callable[[Any], T]) -> T:
        with self.lock:
            if self._closed:
                raise Interrupted("The database was closed.")
            try:
                if self.conn is None or self.db.is_broken(self.conn):
                    self.conn = None
                    self.conn = self.db.connect()
                    self._timeout = None
                if self._timeout != self.db.statement_timeout:
                    self.db.apply_timeout(self.conn)
                    self._timeout = self.db.statement_timeout
                return func(self.conn)
            except KnownError:
                raise
            except Exception as exc:
                error = self.db.explain(exc)
                if isinstance(error, ConnectionLost | KnownError) and self.conn is not None \
                        and self.db.is_broken(self.conn):
                    self.conn = None
                if type(exc).__module__.startswith(("psycopg", "sqlalchemy")) or isinstance(exc, OSError):
                    raise error from None
                raise

    def interrupt(self) -> None:
        conn = self.conn
        if self._closed or conn is None:
            return
        self.db.cancel(conn)

    def close(self) -> None:
        self.interrupt()
        with self.lock:
            self._closed = True
            if self.conn is not None:
                try:
                    self.conn.close()
                except Exception:
                    pass
                self.conn = None


class ServerDatabase(Database):
    """A database server reached through a SQLAlchemy URL; see :func:`storage.sql_url.open_database_url`."""

    def __init__(self, engine: sa.Engine, label: str) -> None:
        self.engine = engine
        self.url = engine.url
        self.kind = engine.dialect.name
        self.label = label
        self.dialect = engine.dialect
        self.read_only = False
        self.statement_timeout = STATEMENT_TIMEOUT
        self.server_version = ""
        self._writer: Any = None
        self._write_lock = threading.Lock()

    # -- connections ---------------------------------------------------------------------------
    def connect(self) -> Any:
        """A new connection in autocommit mode: psycopg's own on PostgreSQL, else SQLAlchemy's."""
        try:
            if self.kind == "postgresql" and self.url.get_driver_name() == "psycopg":
                fairy = self.engine.raw_connection()
                conn = fairy.driver_connection
                fairy.detach()  # ours from now on: closing it closes the socket
                conn.autocommit = True
                return conn
            return _SqlaConnection(self.engine.connect().execution_options(isolation_level="AUTOCOMMIT"))
        except Exception as exc:
            raise self.explain(exc) from None

    def is_broken(self, conn: Any) -> bool:
        return bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))

    def apply_timeout(self, conn: Any) -> None:
        if self.kind == "postgresql":
            conn.execute(f"SET statement_timeout = {int(self.statement_timeout * 1000)}")

    def cancel(self, conn: Any) -> None:
        """Ask the server to stop the statement running on ``conn`` (thread-safe)."""
        cancel = getattr(conn, "cancel_safe", None)
        try:
            if cancel is not None:
                cancel(timeout=3)
            elif hasattr(conn, "cancel"):
                conn.cancel()
        except Exception:
            pass

    def reader(self) -> ServerReader:
        return ServerReader(self)

    def write(self, work: Callable[[Any], T], table: str | None = None, *,
              foreign_keys: bool = False) -> T:
        """``work(conn)`` in one transaction on the writing connection: committed, or rolled back."""
        with self._write_lock:
            try:
                if self._writer is None or self.is_broken(self._writer):
                    self._writer = None
                    self._writer = self.connect()
                conn = self._writer
                if isinstance(conn, _SqlaConnection):
                    with conn.sa.begin():
                        return work(conn)
                with conn.transaction():
                    if self.kind == "postgresql":
                        conn.execute(f"SET LOCAL statement_timeout = {int(self.statement_timeout * 1000)}")
                    return work(conn)
            except KnownError:
                raise
            except Exception as exc:
                error = self.explain(exc, table)
                if self._writer is not None and self.is_broken(self._writer):
                    self._writer = None
                if type(exc).__module__.startswith(("psycopg", "sqlalchemy")) or isinstance(exc, OSError):
                    raise error from None
                raise

    def load_schema(self) -> Schema:
        reader = self.reader()
        try:
            if self.kind == "postgresql":
                from .pg_schema import load_pg_schema

                return reader.run(load_pg_schema)
            from .sql_inspect import load_inspected_schema

            return reader.run(lambda conn: load_inspected_schema(conn.sa))
        finally:
            reader.close()

    def explain(self, exc: BaseException, table: str | None = None) -> KnownError:
        return explain_server(exc, self.label, table, self.statement_timeout or None)

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:
                    pass
                self._writer = None
        self.engine.dispose()


def is_driver_error(exc: BaseException) -> bool:
    """True for sqlite3, psycopg and SQLAlchemy errors (the ones :meth:`Database.explain` knows)."""
    return isinstance(exc, sqlite3.Error | UnicodeDecodeError | sa.exc.SQLAlchemyError) or \
        type(exc).__module__.startswith("psycopg")
