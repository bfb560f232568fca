"""Execute SQL: split a script into statements, run one, page through a query's result.

Queries (statements that return rows) are not run to the end: their rows are paged lazily with
``SELECT * FROM (query) LIMIT n OFFSET m`` on the read-only connection, like a table. Other
statements run on a writable connection in their own transaction (refused in read-only mode).
On a server every statement runs on the reader's connection (a write in its own transaction),
so Cancel stops it on the server and the statement timeout applies to it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from .errors import KnownError, Location
from .sql_db import Database, as_database, is_driver_error
from .sql_query import PAGE_SIZE, PREVIEW_CHARS, Page
from .sql_values import plain_row
from .sqlite_db import connect_writer, explain

_ROWS_FIRST = re.compile(r"^\s*(SELECT|WITH|VALUES|PRAGMA\s+\w+\s*$|EXPLAIN)\b", re.IGNORECASE)
_SERVER_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|TABLE|SHOW|EXPLAIN)\b", re.IGNORECASE)
MAX_LISTED = 100_000  # rows kept of a server statement that cannot be paged (SHOW, EXPLAIN)


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


_TOKEN = re.compile(r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|--[^\n]*|/\*.*?(?:\*/|$)|\$(\w*)\$|;""", re.DOTALL)


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


@dataclass
class Outcome:
    """What running a statement gave: a pager for its rows, or the number of rows changed."""

    sql: str
    seconds: float
    columns: list[str] = field(default_factory=list)
    pager: ResultPager | None = None
    rows_affected: int | None = None


class ResultPager:
    """Pages of a query's result by OFFSET; long values cut like the table grid's."""

    def __init__(self, sql: str, columns: list[str], page_size: int = PAGE_SIZE, sqlite: bool = True,
                 rows: list[tuple] | None = None) -> None:
        self.sql = sql
        self.columns = columns
        self.page_size = page_size
        self.total: int | None = None
        self.sqlite = sqlite
        self.rows = rows  # the whole result of a statement that cannot be wrapped (SHOW, EXPLAIN)

    def fresh(self) -> ResultPager:
        return ResultPager(self.sql, self.columns, self.page_size, self.sqlite, self.rows)

    def fetch(self, conn: sqlite3.Connection, number: int) -> Page:
        cut = PREVIEW_CHARS
        first = number * self.page_size
        if self.rows is not None:
            rows = self.rows[first:first + self.page_size]
        elif self.sqlite:
            inner = f"SELECT * FROM ({self.sql}) LIMIT ? OFFSET ?"
            rows = conn.execute(inner, (self.page_size, first)).fetchall()
        else:  # no parameters: a % in the user's SQL stays literal for psycopg
            rows = conn.execute(f"SELECT * FROM ({self.sql}) AS result LIMIT {int(self.page_size)} "
                                f"OFFSET {int(first)}").fetchall()
        values, sizes = [], []
        if not self.sqlite:
            rows = [plain_row(r) for r in rows]
        for row in rows:
            values.append(tuple(v[:cut] if isinstance(v, str | bytes) and len(v) > cut else v for v in row))
            sizes.append(tuple(len(v) if isinstance(v, str | bytes) and len(v) > cut else None for v in row))
        return Page(number, number * self.page_size, values, sizes, [() for _ in rows])

    def count(self, conn: sqlite3.Connection, cap: int | None = None) -> int:
        if self.rows is not None:
            return len(self.rows) if cap is None else min(len(self.rows), cap + 1)
        limit = f" LIMIT {int(cap) + 1}" if cap is not None else ""
        return int(conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM ({self.sql}) AS result{limit}) "
                                "AS counted").fetchone()[0])


_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*", re.DOTALL)


def returns_rows(conn: sqlite3.Connection, sql: str) -> list[str] | None:
    """The column names when ``sql`` is a query, else None (nothing is run to find out)."""
    if not _ROWS_FIRST.match(_LEADING_COMMENTS.sub("", sql, count=1)):
        return None
    try:
        cursor = conn.execute(f"SELECT * FROM ({sql}) LIMIT 0")
    except sqlite3.Error:
        return None
    return [d[0] for d in cursor.description or ()]


def run_statement(target: Database | str, conn: sqlite3.Connection, sql: str, read_only: bool,
                  base: int = 0) -> Outcome:
    """Run one statement: a query is only prepared (its rows are paged later), others executed."""
    text = _strip(sql)
    if not text:
        raise KnownError("There is no statement to run.")
    base += len(sql) - len(sql.lstrip())  # error offsets count from the script's start
    db = as_database(target)
    if not db.is_sqlite:
        return _run_on_server(db, conn, text, read_only, base)
    path = getattr(db, "path", "")
    start = time.perf_counter()
    columns = returns_rows(conn, text)
    if columns is not None:
        pager = ResultPager(text, columns)
        return Outcome(text, time.perf_counter() - start, columns, pager)
    try:
        conn.execute(f"EXPLAIN {text}")  # compiles it: syntax errors without touching the file
    except sqlite3.Error as exc:
        raise KnownError(str(exc), error_location(text, str(exc), base)) from None
    if read_only:
        raise KnownError("This statement changes the database; turn off Read-only to run it.")
    writer = connect_writer(path)
    try:
        writer.execute("BEGIN IMMEDIATE")
        cursor = writer.execute(text)
        if cursor.description is not None:
            cursor.fetchmany(1)
        writer.execute("COMMIT")
        return Outcome(text, time.perf_counter() - start, rows_affected=max(cursor.rowcount, 0))
    except sqlite3.Error as exc:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        error = explain(exc, path)
        raise KnownError(error.message, error_location(text, str(exc), base)) from None
    finally:
        writer.close()


def _server_location(exc: BaseException, base: int, text: str = "") -> Location:
    """Where the server says the error is: PostgreSQL's 1-based character position, or
    MySQL/MariaDB's "near '…' at line N" (the quoted text is the rest of the statement from there)."""
    orig = getattr(exc, "orig", exc)
    position = getattr(getattr(orig, "diag", None), "statement_position", None)
    if position:
        return Location(offset=base + int(position) - 1)
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


def _run_on_server(db: Database, conn, text: str, read_only: bool, base: int) -> Outcome:
    start = time.perf_counter()
    writes = not _SERVER_ROWS.match(_LEADING_COMMENTS.sub("", text, count=1))
    if not writes:
        try:
            cursor = conn.execute(f"SELECT * FROM ({text}) AS result LIMIT 0")
            columns = [d[0] for d in cursor.description or ()]
            pager = ResultPager(text, columns, sqlite=False)
            return Outcome(text, time.perf_counter() - start, columns, pager)
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            error = db.explain(exc)
            if type(error) is not KnownError:  # cancelled, timed out, connection lost: not a syntax matter
                raise error from None
    elif read_only:
        raise KnownError("This statement changes the database; turn off Read-only to run it.")
    try:  # SHOW, EXPLAIN, and writes (in their own transaction on psycopg)
        transaction = getattr(conn, "transaction", None)
        with transaction() if writes and transaction is not None else nullcontext():
            cursor = conn.execute(text)
            rows = cursor.fetchmany(MAX_LISTED) if cursor.description else None
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        error = db.explain(exc)
        if type(error) is KnownError:
            raise KnownError(error.message, _server_location(exc, base, text)) from None
        raise error from None
    if rows is not None and not writes:
        columns = [d[0] for d in cursor.description]
        pager = ResultPager(text, columns, sqlite=False, rows=[tuple(r) for r in rows])
        return Outcome(text, time.perf_counter() - start, columns, pager)
    return Outcome(text, time.perf_counter() - start, rows_affected=max(cursor.rowcount or 0, 0))
