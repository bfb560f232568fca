"""One interface over an SQLite file and a database server (PostgreSQL, or any SQLAlchemy dialect).

The SQLite tab's document, its workers and the storage functions of :mod:`storage.formats.sql.query`,
:mod:`storage.formats.sql.edit`, :mod:`storage.formats.sql.execute` and :mod:`storage.formats.sql.transfer`
work on a
:class:`Database`: ``reader()`` gives a connection for one worker at a time (``run``,
``interrupt`` — a server-side cancel on PostgreSQL — and ``close``), ``write(work)`` runs one
transaction, and ``dialect`` compiles statements (quoting, parameter style, LIMIT syntax).
No Qt here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from storage.core.errors import KnownError
from storage.formats.sql.errors import explain_server
from storage.formats.sql.schema_types import Schema
from storage.formats.sql.sqlite_db import (
    SQL_ERRORS,
    Interrupted,
    Reader,
    connect_writer,
    explain,
    load_schema,
)

if TYPE_CHECKING:  # imported on first use: an SQLite file is opened and paged without SQLAlchemy
    import sqlalchemy as sa

T = TypeVar("T")

STATEMENT_TIMEOUT = 30.0  # seconds: the server stops a longer statement (0: no limit)
CONNECT_TIMEOUT = 5  # seconds to wait for a server that does not answer



@functools.cache
def sqlite_dialect() -> sa.engine.Dialect:
    """SQLAlchemy's SQLite dialect (``:name`` parameters), for the statements of an SQLite file
    that are built with SQLAlchemy (edits, DDL, transfers); the grid's are not (see
    :mod:`storage.formats.sql.sqlite_query`)."""
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect(paramstyle="named")


class Database:
    """What the SQL tab needs from a database, whatever its kind."""

    kind: str = ""
    label: str = ""
    _dialect: sa.engine.Dialect | None = None
    read_only: bool = False
    statement_timeout: float = STATEMENT_TIMEOUT
    server_version: str = ""  # e.g. "PostgreSQL 15.18", once connected

    @property
    def dialect(self) -> sa.engine.Dialect:
        """SQLAlchemy's dialect of the database: quoting, parameter style, LIMIT syntax (SQLite's
        is made, importing SQLAlchemy, on first use)."""
        return self._dialect if self._dialect is not None else sqlite_dialect()

    @dialect.setter
    def dialect(self, dialect: sa.engine.Dialect) -> None:
        self._dialect = dialect

    @property
    def server_dialect(self) -> sa.engine.Dialect | None:
        """A server's dialect; None for an SQLite file, whose grid statements are built without
        SQLAlchemy (:func:`storage.formats.sql.pager.query_for`)."""
        return None if self.is_sqlite else self.dialect

    def reader(self) -> Any:
        raise NotImplementedError

    def write(self, work: Callable[[Any], T], table: str | None = None, *,
              foreign_keys: bool = False) -> T:
        raise NotImplementedError

    def load_schema(self) -> Schema:
        raise NotImplementedError

    def connect(self) -> Any:
        """A new connection of its own (server databases; an SQLite file is opened by its path)."""
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
            return reader.run(lambda conn: load_schema(conn, self.path))
        finally:
            reader.close()

    def explain(self, exc: BaseException, table: str | None = None) -> KnownError:
        return explain(exc, self.path, table)


def _named(dialect: sa.engine.Dialect) -> sa.engine.Dialect:
    """The dialect compiling ``:name`` parameters (run through ``text()`` by _SqlaConnection)."""
    named = type(dialect)(paramstyle="named")  # type: ignore[call-arg]  # every real dialect is a DefaultDialect
    named.server_version_info = dialect.server_version_info
    named.default_schema_name = dialect.default_schema_name
    return named


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
    """``execute(sql, params)`` over SQLAlchemy's connection, for any dialect.

    Statements are compiled with ``:name`` parameters (see :meth:`ServerDatabase.dialect`);
    ``text()`` turns them into the driver's own style (qmark, format, numeric…). Without
    parameters the SQL goes to the driver untouched, as the user typed it.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.sa = conn
        # The server's id of this session (MySQL/MariaDB), for KILL QUERY from another connection.
        thread_id = getattr(conn.connection.dbapi_connection, "thread_id", None)
        self.session_id: int | None = thread_id() if callable(thread_id) else None

    def execute(self, sql: str, params: Any = None) -> _Cursor:
        if not params:  # as typed: no parameter substitution, so a literal % stays one (PyMySQL)
            return _Cursor(self.sa.exec_driver_sql(sql, execution_options={"no_parameters": True}))
        if isinstance(params, dict):
            from sqlalchemy import text

            return _Cursor(self.sa.execute(text(sql), params))
        return _Cursor(self.sa.exec_driver_sql(sql, tuple(params)))

    def executemany(self, sql: str, rows: Any) -> None:
        from sqlalchemy import text

        self.sa.execute(text(sql), [dict(r) for r in rows])

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
        self._session: tuple | None = None  # (statement timeout, read-only) applied to conn
        self.conn: Any = db.connect()

    def run(self, func: Callable[[Any], T]) -> T:
        with self.lock:
            if self._closed:
                raise Interrupted("The database was closed.")
            try:
                if self.conn is None or self.db.is_broken(self.conn):
                    _close_quietly(self.conn)
                    self.conn = None
                    self.conn = self.db.connect()
                    self._session = None
                wanted = (self.db.statement_timeout, self.db.read_only)
                if self._session != wanted:
                    self.db.apply_session(self.conn)
                    self._session = wanted
                return func(self.conn)
            except KnownError:
                raise
            except Exception as exc:
                error = self.db.explain(exc)
                if self.conn is not None and self.db.is_broken(self.conn):
                    _close_quietly(self.conn)
                    self.conn = None  # replaced at the next run: paging goes on after a reconnect
                if type(exc).__module__.startswith(("psycopg", "sqlalchemy")) or isinstance(exc, OSError):
                    raise error from None
                raise

    def interrupt(self) -> None:
        """Ask the server to stop the running statement, from a short thread of its own: the
        cancel request opens a connection, and the GUI thread must not wait for a slow network."""
        conn = self.conn
        if self._closed or conn is None or not self.lock.locked():
            return
        threading.Thread(target=self.db.cancel, args=(conn,), name="datashelf-cancel", daemon=True).start()

    def close(self) -> None:
        self.interrupt()
        with self.lock:
            self._closed = True
            _close_quietly(self.conn)
            self.conn = None


class ServerDatabase(Database):
    """A database server reached through a SQLAlchemy URL; see
    :func:`storage.formats.sql.url.open_database_url`."""

    def __init__(self, engine: sa.Engine, label: str) -> None:
        self.engine = engine
        self.url = engine.url
        self.kind = engine.dialect.name
        self.label = label
        self.dialect = engine.dialect if self.kind == "postgresql" else _named(engine.dialect)
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
                assert conn is not None  # None only once the pool invalidated it
                fairy.detach()  # ours from now on: closing it closes the socket
                conn.autocommit = True
                return conn
            return _SqlaConnection(self.engine.connect().execution_options(isolation_level="AUTOCOMMIT"))
        except Exception as exc:
            raise self.explain(exc) from None

    def is_broken(self, conn: Any) -> bool:
        return bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))

    @property
    def is_mysql(self) -> bool:
        """MySQL or MariaDB (SQLAlchemy names both dialects ``mysql`` or ``mariadb``)."""
        return self.kind in ("mysql", "mariadb")

    @property
    def product(self) -> str:
        """The server's product name for titles and messages ("MariaDB", not "mysql")."""
        if self.is_mysql:
            return "MariaDB" if getattr(self.engine.dialect, "is_mariadb", False) else "MySQL"
        return _PRODUCTS.get(self.kind, self.kind)

    def apply_session(self, conn: Any) -> None:
        """The statement timeout, and in read-only mode a read-only session: on PostgreSQL even a
        SELECT of a function that writes, or an EXPLAIN ANALYZE of a DELETE, is refused."""
        if self.kind == "postgresql":
            conn.execute(f"SET statement_timeout = {int(self.statement_timeout * 1000)}; "
                         f"SET default_transaction_read_only = {'on' if self.read_only else 'off'}")
        elif self.is_mysql:
            if getattr(self.engine.dialect, "is_mariadb", False):  # seconds, for every statement
                conn.execute(f"SET SESSION max_statement_time = {float(self.statement_timeout or 0):g}")
            else:  # MySQL: milliseconds, SELECTs only
                conn.execute(f"SET SESSION max_execution_time = {int((self.statement_timeout or 0) * 1000)}")
            conn.execute(f"SET SESSION TRANSACTION {'READ ONLY' if self.read_only else 'READ WRITE'}")

    def cancel(self, conn: Any) -> None:
        """Ask the server to stop the statement running on ``conn`` (thread-safe): psycopg's
        cancel request, or ``KILL QUERY`` on a connection of its own for MySQL/MariaDB (their
        drivers have no cancel; the statement's connection is busy)."""
        cancel = getattr(conn, "cancel_safe", None)
        try:
            if cancel is not None:
                cancel(timeout=3)
            elif self.is_mysql and getattr(conn, "session_id", None) is not None:
                with self.engine.connect() as killer:
                    killer.exec_driver_sql(f"KILL QUERY {int(conn.session_id)}")
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
                if isinstance(conn, _SqlaConnection) and self.is_mysql:
                    return self._write_mysql(conn, work)
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

    def _write_mysql(self, conn: _SqlaConnection, work: Callable[[Any], T]) -> T:
        """One transaction on MySQL/MariaDB: the connection autocommits, so SQLAlchemy's begin()
        would not hold the statements together; START TRANSACTION does, until COMMIT/ROLLBACK."""
        wanted = (self.statement_timeout, self.read_only)
        if getattr(conn, "applied", None) != wanted:
            self.apply_session(conn)  # the statement timeout holds for writes too
            conn.applied = wanted  # type: ignore[attr-defined]
        conn.sa.exec_driver_sql("START TRANSACTION")
        try:
            result = work(conn)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.sa.exec_driver_sql("ROLLBACK")
            raise
        conn.sa.exec_driver_sql("COMMIT")
        return result

    def load_schema(self) -> Schema:
        reader = self.reader()
        try:
            if self.kind == "postgresql":
                from storage.formats.sql.pg_schema import load_pg_schema

                return reader.run(load_pg_schema)
            from storage.formats.sql.reflect import load_inspected_schema

            schema = reader.run(lambda conn: load_inspected_schema(conn.sa))
            if self.is_mysql:  # sequences, routines and triggers, listed as PostgreSQL's are
                from storage.formats.sql.ddl_read import add_mysql_objects

                reader.run(lambda conn: add_mysql_objects(conn, schema))
            return schema
        finally:
            reader.close()

    def explain(self, exc: BaseException, table: str | None = None) -> KnownError:
        return explain_server(exc, self.label, table, self.statement_timeout or None)

    def renew(self) -> None:
        """Drop every connection held (the writer and the engine's pool): after Reconnect the
        next write, read or statement opens a fresh one instead of failing once on a connection
        the server closed while it sat idle. Readers are renewed by their owners."""
        with self._write_lock:
            _close_quietly(self._writer)
            self._writer = None
        self.engine.dispose()

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                try:
                    self._writer.close()
                except Exception:
                    pass
                self._writer = None
        self.engine.dispose()


_PRODUCTS = {"postgresql": "PostgreSQL", "mssql": "SQL Server", "oracle": "Oracle"}


def _close_quietly(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # a broken connection may fail to close; it is dropped all the same
            pass


def is_driver_error(exc: BaseException) -> bool:
    """True for sqlite3, psycopg and SQLAlchemy errors (the ones :meth:`Database.explain` knows)."""
    alchemy = sys.modules.get("sqlalchemy.exc")  # not imported yet: no error can be one of its
    return isinstance(exc, sqlite3.Error | UnicodeDecodeError) or \
        (alchemy is not None and isinstance(exc, alchemy.SQLAlchemyError)) or \
        type(exc).__module__.startswith("psycopg")
