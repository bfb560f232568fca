"""Execute SQL: split a script into statements and run each exactly once on a session of its own.

A :class:`SqlSession` owns one connection for Execute SQL, apart from the grid's readers. Each
statement goes to the database as typed, in autocommit mode, so a script's ``BEGIN`` …
``ROLLBACK`` means what it says and an explicit transaction stays open across runs until the
user commits or rolls back (the session reports ``state``: idle, open or failed).

A query's rows are read once, in chunks, from one cursor and kept for the grid
(:class:`ResultSet`), never re-run with OFFSET: on PostgreSQL a server-side cursor (``WITH
HOLD`` outside a transaction, so the statement has run to its end when it returns and holds no
lock afterwards), on SQLite the statement stepping lazily, on other servers SQLAlchemy's
``stream_results``. A result stops at :data:`MAX_HELD` rows and says so; more can be fetched
from the same cursor, or everything exported, streamed (:meth:`SqlSession.export`).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from storage.core.convert import Target
from storage.core.errors import KnownError, Location
from storage.formats.sql.db import Database, is_driver_error
from storage.formats.sql.errors import ConnectionLost
from storage.formats.sql.sqlite_db import Interrupted, connect_reader, connect_writer, explain
from storage.formats.sql.transfer import Cancelled, write_rows
from storage.formats.sql.values import plain_row

MAX_HELD = 100_000  # rows of one result kept for the grid before it says so and offers more
MAX_BYTES = 256 * 1024 * 1024  # … or this much text and binary data (a result of big BLOBs)
FIRST_ROWS = 1000  # rows read when a query runs; the grid asks for more as it scrolls
EXPORT_BATCH = 5000
READ_ONLY_MESSAGE = "This statement changes the database; turn off Read-only to run it."


@dataclass
class Statement:
    start: int
    end: int
    sql: str


def split_statements(text: str, dialect: str = "sqlite") -> list[Statement]:
    """The complete statements of ``text`` with their character offsets (strings and comments kept).

    SQLite's own ``complete_statement`` decides for SQLite; a server's SQL is scanned for its
    quotes, comments and PostgreSQL's dollar quotes (``DO $$ … ; … $$``).
    """
    if dialect != "sqlite":
        return _split_server(text)
    statements: list[Statement] = []
    start = 0
    for match in re.finditer(";", text):
        chunk = text[start:match.end()]
        if sqlite3.complete_statement(chunk):
            if chunk.strip(" \t\r\n;"):
                statements.append(Statement(start, match.end(), chunk))
            start = match.end()
    if text[start:].strip():
        statements.append(Statement(start, len(text), text[start:]))
    return statements


# Strings, quoted names (MySQL's `backticks` too), comments, dollar quotes and semicolons.
_TOKEN = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|--[^\n]*|/\*.*?(?:\*/|$)"""
                    r"""|\$(\w*)\$|;""", re.DOTALL)


def _split_server(text: str) -> list[Statement]:
    statements: list[Statement] = []
    start = at = 0
    while True:
        match = _TOKEN.search(text, at)
        if match is None:
            break
        at = match.end()
        token = match.group(0)
        if token.startswith("$") and match.group(1) is not None:  # a dollar quote: skip to its end
            close = text.find(token, at)
            at = len(text) if close < 0 else close + len(token)
        elif token == ";":
            if text[start:at].strip(" \t\r\n;"):
                statements.append(Statement(start, at, text[start:at]))
            start = at
    if text[start:].strip(" \t\r\n;"):
        statements.append(Statement(start, len(text), text[start:]))
    return statements


def statement_at(text: str, position: int, dialect: str = "sqlite") -> Statement | None:
    """The statement under the cursor (or the one just before it)."""
    statements = split_statements(text, dialect)
    for statement in statements:
        if statement.start <= position <= statement.end:
            return statement
    before = [s for s in statements if s.end <= position]
    return before[-1] if before else (statements[0] if statements else None)


def _strip(sql: str) -> str:
    stripped = sql.strip()
    while stripped.endswith(";"):
        stripped = stripped[:-1].rstrip()
    return stripped


def error_location(sql: str, message: str, base: int = 0) -> Location:
    """Where ``near "token"`` points in the statement, as line and column of the whole script."""
    match = re.search(r'near "(.+?)": syntax error', message)
    offset = sql.find(match.group(1)) if match else -1
    if "incomplete input" in message:
        offset = len(sql)
    if offset < 0:
        return Location()
    before = sql[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return Location(line=line, column=column, offset=base + offset)




def _server_location(exc: BaseException, base: int, text: str = "") -> Location:
    """Where the server says the error is: PostgreSQL's 1-based character position, or
    MySQL/MariaDB's "near '…' at line N" (the quoted text is the rest of the statement from there)."""
    orig = getattr(exc, "orig", exc)
    position = getattr(getattr(orig, "diag", None), "statement_position", None)
    if position:
        return Location(offset=max(base, base + int(position) - 1))
    match = _MYSQL_NEAR.search(str(orig))
    if match and text:
        line = int(match.group(2))
        start = 0
        for _ in range(line - 1):  # the quoted rest starts on that line of the statement
            start = text.find("\n", start) + 1
        offset = text.find(match.group(1), start) if match.group(1) else len(text)
        if offset >= 0:
            before = text[:offset]
            return Location(line=before.count("\n") + 1, column=offset - (before.rfind("\n") + 1) + 1,
                            offset=base + offset)
    return Location()


_MYSQL_NEAR = re.compile(r"near '(.*?)' at line (\d+)", re.S)


def _blank(match: re.Match) -> str:
    token = match.group(0)
    return token if token == ";" or token.startswith("$") else " " * len(token)


def _code(sql: str) -> str:
    """The statement with its strings, quoted names and comments blanked (for keyword checks)."""
    return _TOKEN.sub(_blank, sql)


_QUERY = re.compile(r"^\s*(SELECT|VALUES|TABLE|WITH)\b", re.IGNORECASE)
# What a cursor cannot hold: a data-modifying WITH, SELECT … INTO, a locking clause.
_NOT_A_CURSOR = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|INTO)\b|\bFOR\s+(NO\s+KEY\s+|KEY\s+)?SHARE\b",
                           re.IGNORECASE)
_READS = re.compile(r"^\s*(SELECT|VALUES|TABLE|WITH|SHOW|EXPLAIN|DESCRIBE|BEGIN|START|COMMIT|ROLLBACK|END)\b",
                    re.IGNORECASE)
_BEGINS = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)
_ENDS = re.compile(r"^\s*(COMMIT|END|ABORT|ROLLBACK(?!\s+TO\b))\b", re.IGNORECASE)


def _cursor_query(sql: str) -> bool:
    """A plain query a server-side cursor can hold (PostgreSQL's DECLARE accepts only those)."""
    code = _code(sql)
    return bool(_QUERY.match(code)) and not _NOT_A_CURSOR.search(code)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | bytearray | memoryview) else 8


class ResultSet:
    """The rows of one statement's result, read once from its cursor, in chunks.

    ``rows`` holds what was read (whole values); reading stops at ``limit`` rows until
    :meth:`raise_limit`. Only its :class:`SqlSession` reads the cursor, under the session's
    lock; the grid reads ``rows``, which only ever grows.
    """

    def __init__(self, columns: list[str], cursor: Any, *, plain: bool, lingers: bool,
                 on_close: Callable[[], None] | None = None) -> None:
        self.columns = columns
        self.rows: list[tuple] = []
        self.limit = MAX_HELD
        self.byte_limit = MAX_BYTES
        self.held_bytes = 0  # the size of the text and binary values held (roughly)
        self.done = False  # every row was read
        self.total: int | None = None  # the number of rows, once known
        self.note = ""  # why the rest cannot be read, or where it went
        self.lingers = lingers  # stays readable while later statements run (else read and closed first)
        self._cursor = cursor
        self._plain = plain  # server values made plain (Decimal, dates, arrays…)
        self._on_close = on_close  # ends the transaction the cursor was opened in

    @property
    def more(self) -> bool:
        """Rows remain in the cursor."""
        return self._cursor is not None and not self.done

    @property
    def capped(self) -> bool:
        """Reading stopped at the limit and more rows remain: the grid says so."""
        return self.more and (len(self.rows) >= self.limit or self.held_bytes >= self.byte_limit)

    def raise_limit(self, rows: int | None = None) -> None:
        """Fetch more: as many rows (and bytes) again as the cap allows."""
        self.limit = len(self.rows) + (rows or MAX_HELD)
        self.byte_limit = self.held_bytes + MAX_BYTES

    def describe(self) -> str:
        """The line under the grid: how many rows, and whether more remain."""
        held = len(self.rows)
        if self.capped:
            big = self.held_bytes >= self.byte_limit
            size = f" ({self.held_bytes / 1048576:,.0f} MB of values)" if big else ""
            text = f"Showing the first {held:,} rows{size}; more remain."
        elif self.total is not None and self.total > held:
            text = f"Showing the first {held:,} of {self.total:,} rows."
        elif self.more:
            text = f"{held:,} row(s) read so far; more arrive as you scroll."
        elif not self.done:  # closed before its end
            text = f"Showing the first {held:,} rows."
        else:
            text = f"{held:,} row(s)"
        return f"{text} {self.note}".strip()

    def _convert(self, rows: Sequence[Any]) -> list[tuple]:
        return [plain_row(r) for r in rows] if self._plain else [tuple(r) for r in rows]

    def _read(self, count: int) -> list[tuple]:
        """Up to ``count`` more rows, within the caps; a small first step, then steps sized by the
        rows seen, so a result of big values never reads far past the byte budget."""
        read: list[tuple] = []
        step = 16
        while len(read) < count and self.more and not self.capped:
            want = min(count - len(read), self.limit - len(self.rows), step)
            rows = self._convert(self._cursor.fetchmany(want))
            self.rows.extend(rows)
            read.extend(rows)
            self.held_bytes += sum(_size(v) for row in rows for v in row)
            if len(rows) < want:
                self.done = True
                self.total = len(self.rows)
                self._close()
                break
            average = max(1, self.held_bytes // max(1, len(self.rows)))
            step = max(1, min(4096, (self.byte_limit - self.held_bytes) // average))
        return read

    def _release(self, why: str) -> None:
        """The connection is needed for something else: keep up to the limit, close the cursor."""
        if not self.more:
            return
        self._read(self.limit - len(self.rows))
        if self.more:
            self._close(f"The rest was not read: {why}.")

    def _close(self, note: str = "") -> None:
        cursor, self._cursor = self._cursor, None
        if note and not self.done:
            self.note = note
        if cursor is not None:
            try:
                cursor.close()
            except Exception:  # a cursor of a lost connection or an ended transaction: gone already
                pass
            if self._on_close is not None:
                self._on_close()


@dataclass
class Outcome:
    """What running one statement gave: rows, a count of changed rows, a message, or an error."""

    statement: Statement
    sql: str
    seconds: float = 0.0
    result: ResultSet | None = None
    rows_affected: int | None = None
    message: str = ""  # the server's command tag ("CREATE TABLE", "BEGIN"…)
    error: KnownError | None = None

    @property
    def columns(self) -> list[str]:
        return self.result.columns if self.result is not None else []

    @property
    def verb(self) -> str:
        """The statement's first keyword (SELECT, UPDATE…), comments skipped: its tab's title."""
        match = re.search(r"[A-Za-z_]+", _code(self.sql))
        return match.group(0).upper() if match else "SQL"

    def summary(self) -> str:
        """One line for the messages list (the error's own line is the caller's)."""
        took = f"{self.seconds * 1000:.1f} ms"
        if self.error is not None:
            return f"Error: {self.error.message}"
        parts = []
        changed = self.rows_affected
        if self.result is not None:  # RETURNING gives one row per row changed
            returning = _RETURNING.search(_code(self.sql))
            if not returning:
                changed = None
            elif changed is None or changed < 0:
                changed = self.result.total
        if changed is not None and changed >= 0:
            parts.append(f"{changed:,} row(s) affected")
        if self.result is not None:
            parts.append(self.result.describe())
        elif not parts:
            parts.append(self.message or f"{self.verb} done")
        return f"{' · '.join(parts)} — {took}"


_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
IDLE, OPEN, FAILED = "idle", "open", "failed"


class SqlSession:
    """Execute SQL's own connection: statements run as typed, once, in the transaction the script
    asks for, and an explicit transaction stays open across runs until Commit or Rollback.

    The worker methods (:meth:`run`, :meth:`fetch`, :meth:`export`, :meth:`end_transaction`,
    :meth:`close`) hold the session's lock; :meth:`interrupt` may be called from any thread.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.Lock()
        self.conn: Any = None
        self.state = IDLE  # IDLE, OPEN (a transaction is open) or FAILED (open, and only Rollback works)
        self._applied: tuple | None = None  # (statement timeout, read-only) set on the connection
        self._results: list[ResultSet] = []
        self._names = itertools.count(1)
        self._tracked = IDLE  # the state from the statements run, for drivers that cannot tell
        self._implicit = False  # a transaction of ours holds a result's cursor (not the user's)
        self._closed = False
        self._epoch = 0  # changes when a worker method starts or ends: a late cancel is dropped

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        with self.lock:
            self._epoch += 1
            try:
                yield
            finally:
                self._epoch += 1

    # -- running ---------------------------------------------------------------------------
    def run(self, statements: Sequence[Statement],
            cancel: Callable[[], bool] = lambda: False) -> list[Outcome]:
        """Worker body: run the statements in turn until one fails; an outcome for each one run.

        The results of the previous run are closed first; a result that would hold the
        connection (a cursor inside a transaction, a streamed result) is read up to its limit
        and closed before the next statement runs."""
        with self._working():
            self._close_results()
            outcomes: list[Outcome] = []
            for statement in statements:
                if cancel():
                    break
                outcome = self._run_one(statement)
                outcomes.append(outcome)
                if outcome.error is not None:
                    break
            return outcomes

    def _run_one(self, statement: Statement) -> Outcome:
        text = _strip(statement.sql)
        base = statement.start + len(statement.sql) - len(statement.sql.lstrip())
        outcome = Outcome(statement, text)
        if not text:
            outcome.error = KnownError("There is no statement to run.")
            return outcome
        before = self.state
        began = time.perf_counter()
        try:
            self._release_results("a later statement needed the connection")
            conn = self._connection()
            if isinstance(conn, sqlite3.Connection):
                self._run_sqlite(conn, text, base, outcome)
            elif hasattr(conn, "info") and hasattr(conn, "cursor"):
                self._run_psycopg(conn, text, base, outcome)
            else:
                self._run_generic(conn, text, base, outcome)
        except KnownError as exc:
            outcome.error = exc
            if outcome.result is not None:  # its first rows failed (a runtime error, Cancel…)
                outcome.result._close()
                outcome.result = None
            self._end_implicit()
        outcome.seconds = time.perf_counter() - began
        if outcome.error is None:
            self._tracked = OPEN if _BEGINS.match(_code(text)) else IDLE if _ENDS.match(_code(text)) \
                else self._tracked
        outcome.error = self._after(before, outcome.error)
        if outcome.result is not None:
            self._results.append(outcome.result)
        return outcome

    def _run_sqlite(self, conn: sqlite3.Connection, text: str, base: int, outcome: Outcome) -> None:
        try:
            cursor = conn.execute(text)  # steps once: a query's first row, a change done
            if cursor.description is None:
                outcome.rows_affected = cursor.rowcount if cursor.rowcount >= 0 else None
                return
            outcome.result = ResultSet([d[0] for d in cursor.description], cursor, plain=False, lingers=False)
            outcome.result._read(FIRST_ROWS)
            if outcome.result.done and cursor.rowcount >= 0:
                outcome.rows_affected = cursor.rowcount  # INSERT … RETURNING
        except sqlite3.Error as exc:
            raise self._sqlite_error(exc, text, base) from None

    def _run_psycopg(self, conn: Any, text: str, base: int, outcome: Outcome) -> None:
        prefix = 0
        try:
            if _cursor_query(text):
                # A NO SCROLL cursor: each row is computed once, as it is fetched, and every FETCH
                # is a statement the timeout and Cancel apply to. Outside the user's transaction it
                # gets one of its own, committed as soon as the rows are read or the result closed
                # (WITH HOLD would escape the statement timeout: PostgreSQL materializes the rows
                # at commit, after the timeout is switched off).
                implicit = self.state == IDLE
                if implicit:
                    conn.execute("BEGIN")
                    self._implicit = True
                name = f"datashelf_result_{next(self._names)}"
                prefix = len(f'DECLARE "{name}" NO SCROLL CURSOR FOR ')
                cursor = conn.cursor(name=name, scrollable=False)
                try:
                    cursor.execute(text)
                except BaseException:
                    cursor.close()
                    raise
                outcome.result = ResultSet([d.name for d in cursor.description], cursor, plain=True,
                                           lingers=False, on_close=self._end_implicit if implicit else None)
            else:
                cursor = conn.execute(text)  # no parameters: a % in the SQL stays literal
                outcome.message = cursor.statusmessage or ""
                outcome.rows_affected = cursor.rowcount if cursor.rowcount >= 0 else None
                if cursor.description is not None:  # RETURNING, SHOW, EXPLAIN: rows in memory already
                    outcome.result = ResultSet([d.name for d in cursor.description], cursor, plain=True,
                                               lingers=True)
            if outcome.result is not None:
                outcome.result._read(FIRST_ROWS)
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise self._server_error(exc, base - prefix) from None  # PostgreSQL counts from DECLARE

    def _run_generic(self, conn: Any, text: str, base: int, outcome: Outcome) -> None:
        stream = self.db.kind in ("mysql", "mariadb")  # pymysql's unbuffered cursor: rows as read
        if self.db.read_only and not stream and not _READS.match(_code(text)):  # no read-only session
            raise KnownError(READ_ONLY_MESSAGE)
        options = {"no_parameters": True, "stream_results": stream}
        try:
            result = conn.sa.exec_driver_sql(text, execution_options=options)
            if result.returns_rows:
                outcome.result = ResultSet(list(result.keys()), result, plain=True, lingers=not stream)
                outcome.result._read(FIRST_ROWS)
            else:
                outcome.rows_affected = result.rowcount if result.rowcount >= 0 else None
                result.close()
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            raise self._server_error(exc, base, text) from None

    # -- rows ------------------------------------------------------------------------------
    def fetch(self, result: ResultSet, count: int) -> list[tuple]:
        """Worker body: the next rows of ``result`` from its cursor (up to its limit)."""
        with self._working():
            try:
                return result._read(count)
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                error = self._convert(exc)
                result._close(f"Reading stopped: {error.message}")
                raise error from None

    def export(self, result: ResultSet, path: str, fmt: str, cancel: Callable[[], bool] = lambda: False,
               progress: Callable[[float], None] = lambda _f: None, target: Target | None = None) -> int:
        """Worker body: every row of ``result`` to CSV or JSON through the atomic writer: the rows
        read already, then the rest streamed from the same cursor (the query is not run again)."""
        with self._working():
            held = len(result.rows)

            def batches() -> Iterator[list[tuple]]:
                yield result.rows[:held]
                while result.more:
                    rows = result._convert(result._cursor.fetchmany(EXPORT_BATCH))
                    if rows:
                        yield rows
                    if len(rows) < EXPORT_BATCH:
                        return

            try:
                written = write_rows(batches(), result.columns, path, fmt, result.total, cancel, progress,
                                     target=target)
            except (Cancelled, KnownError) as exc:
                self._after_partial_export(result)
                raise exc from None
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                self._after_partial_export(result)
                raise self._convert(exc) from None
            result.total = written
            result.done = True
            result._close()
            result.note = f"All {written:,} rows were exported to {path}."
            return written

    def _after_partial_export(self, result: ResultSet) -> None:
        """An export stopped part way: the rows it read are gone from the (forward-only) cursor."""
        result._close("An export stopped part way and the rows it read are gone from the cursor; "
                      "run the query again to read them.")

    # -- transactions ----------------------------------------------------------------------
    def end_transaction(self, commit: bool) -> str:
        """Worker body: COMMIT or ROLLBACK the open transaction; a message saying what happened."""
        with self._working():
            before = self.state
            if self.conn is None:
                self.state = IDLE
                return "No transaction is open."
            self._release_results("the transaction ended")
            verb = "COMMIT" if commit else "ROLLBACK"
            error: KnownError | None = None
            tag = ""
            try:
                conn = self.conn
                if isinstance(conn, sqlite3.Connection):
                    conn.execute(verb)
                elif hasattr(conn, "info"):
                    tag = conn.execute(verb).statusmessage or ""
                else:
                    conn.sa.exec_driver_sql(verb, execution_options={"no_parameters": True}).close()
                self._tracked = IDLE
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                error = self._convert(exc)
            error = self._after(before, error)
            if error is not None:
                raise error
            if commit and (before == FAILED or tag == "ROLLBACK"):
                return "The transaction had failed: the database rolled it back; nothing was committed."
            return "Committed." if commit else "Rolled back."

    def _after(self, before: str, error: KnownError | None) -> KnownError | None:
        """Read the transaction state after a statement; a lost connection ends the transaction."""
        lost = isinstance(error, ConnectionLost) or (self.conn is not None and self._broken(self.conn))
        if lost:
            self._drop()
            if before != IDLE and error is not None:
                error = ConnectionLost(f"{error.message} The transaction that was open is gone: the database "
                                       "rolled it back, nothing of it was committed.", error.location)
        state = self._read_state()
        if state == IDLE and before != IDLE:
            self._applied = None  # a rolled back SET took the session's settings with it
        self.state = state
        return error

    def _read_state(self) -> str:
        conn = self.conn
        if conn is None:
            return IDLE
        if isinstance(conn, sqlite3.Connection):
            return OPEN if conn.in_transaction else IDLE
        status = getattr(getattr(conn, "info", None), "transaction_status", None)  # psycopg
        if status is not None:
            if self._implicit:
                return IDLE
            return {"INTRANS": OPEN, "ACTIVE": OPEN, "INERROR": FAILED}.get(status.name, IDLE)
        fairy = getattr(getattr(conn, "sa", None), "connection", None)
        dbapi = getattr(fairy, "dbapi_connection", None)
        if isinstance(dbapi, sqlite3.Connection):
            return OPEN if dbapi.in_transaction else IDLE
        server_status = getattr(dbapi, "server_status", None)  # pymysql: bit 1 is "in transaction"
        if isinstance(server_status, int):
            return OPEN if server_status & 1 else IDLE
        return self._tracked

    # -- connection ------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._closed:
            raise Interrupted("The database was closed.")
        if self.conn is not None and self._broken(self.conn):
            was_open = self.state != IDLE
            self._drop()
            if was_open:  # said once; the next statement runs on a new connection
                raise ConnectionLost("The connection was lost. The transaction that was open is gone: the "
                                     "database rolled it back, nothing of it was committed.")
        if self.conn is None:
            db = self.db
            if db.is_sqlite:
                path = getattr(db, "path", "")
                self.conn = connect_reader(path, immutable=getattr(db, "immutable", False)) \
                    if db.read_only else connect_writer(path)
            else:
                self.conn = db.connect()
            self._applied = None
            self.state = self._tracked = IDLE
        wanted = (self.db.statement_timeout, self.db.read_only)
        # Inside a transaction only PostgreSQL takes new settings (MariaDB refuses to change a
        # transaction's access mode midway): elsewhere they wait for the transaction's end.
        settable = self.state == IDLE or (self.state == OPEN and self.db.kind == "postgresql")
        if not self.db.is_sqlite and self._applied != wanted and settable:
            try:
                self.db.apply_session(self.conn)  # type: ignore[attr-defined]
            except Exception as exc:
                if not is_driver_error(exc):
                    raise
                raise self._convert(exc) from None
            self._applied = wanted
        return self.conn

    def _broken(self, conn: Any) -> bool:
        return not isinstance(conn, sqlite3.Connection) and self.db.is_broken(conn)  # type: ignore[attr-defined]

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        self._implicit = False
        for result in self._results:
            if result.more:  # its cursor went with the connection
                result._cursor = None
                result.note = result.note or "The rest was not read: the connection was closed."
        self.state = self._tracked = IDLE
        if conn is None:
            return
        try:
            sa_conn = getattr(conn, "sa", None)
            if sa_conn is not None:
                sa_conn.invalidate()  # an unread streamed result cannot go back to the pool
            conn.close()
        except Exception:  # a broken connection may fail to close; it is dropped all the same
            pass

    def _end_implicit(self) -> None:
        """Commit the transaction a result's cursor was read in (it changed nothing the user did
        not ask for: a function the query called commits as it would have in autocommit)."""
        if not self._implicit:
            return
        self._implicit = False
        try:
            self.conn.execute("COMMIT")
        except Exception:  # a lost connection: found out by the next statement
            pass

    def _release_results(self, why: str) -> None:
        for result in self._results:
            if not result.lingers:
                result._release(why)

    def _close_results(self) -> None:
        results, self._results = self._results, []
        for result in results:
            if result.more:
                result._close("The result was closed by the next run.")

    def interrupt(self) -> None:
        """Stop the running statement (thread-safe; on a server a cancel request of its own)."""
        conn = self.conn
        if conn is None or self._closed or not self.lock.locked():
            return
        if isinstance(conn, sqlite3.Connection):
            conn.interrupt()
            return
        epoch = self._epoch

        def cancel() -> None:
            # A cancel request stops whatever the server runs when it arrives: sent late (this
            # thread started slowly), it would stop the next statement instead of this one.
            if self._epoch == epoch and self.lock.locked():
                self.db.cancel(conn)  # type: ignore[attr-defined]

        threading.Thread(target=cancel, name="datashelf-cancel", daemon=True).start()

    def close(self) -> None:
        """Worker body: close the connection; a transaction still open is rolled back by the database."""
        self.interrupt()
        with self._working():
            self._closed = True
            self._drop()

    # -- errors ----------------------------------------------------------------------------
    def _convert(self, exc: BaseException) -> KnownError:
        if isinstance(exc, sqlite3.Error):
            return self._sqlite_error(exc, "", 0)
        return self._server_error(exc, 0)

    def _sqlite_error(self, exc: sqlite3.Error, text: str, base: int) -> KnownError:
        low = str(exc).lower()
        if self.db.read_only and "readonly" in low:
            return KnownError(READ_ONLY_MESSAGE)
        error = explain(exc, getattr(self.db, "path", ""))
        if type(error) is not KnownError or not text:
            return error
        return KnownError(error.message, error_location(text, str(exc), base))

    def _server_error(self, exc: BaseException, base: int, text: str = "") -> KnownError:
        error = self.db.explain(exc)
        low = error.message.lower()
        if self.db.read_only and ("read-only transaction" in low or "read only transaction" in low):
            return KnownError(READ_ONLY_MESSAGE)
        if type(error) is KnownError:
            return KnownError(error.message, _server_location(exc, base, text))
        return error
