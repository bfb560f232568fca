"""Browsing a table through SQL: sorting, filtering and keyset paging, built with SQLAlchemy Core.

A page of ``n`` rows is fetched with ``WHERE (sort key, row key) > (anchor) ORDER BY sort key,
row key LIMIT n``, the anchor being the last row of the page before (or, going backwards, the
first row of the page after, with the ORDER BY reversed). The row key (rowid, or the primary key
of a WITHOUT ROWID table) breaks ties, so rows never repeat or vanish across pages. The
comparison is written out column by column instead of as a row value, because SQLite sorts NULL
first and a row-value comparison with a NULL is never true.

Statements are built with SQLAlchemy Core (identifiers quoted by the dialect, values bound as
parameters), compiled once per shape with the database's dialect and run on the driver's own
connection (``sqlite3``, or psycopg on PostgreSQL). PostgreSQL sorts NULL last in ascending
order (SQLite first): the keyset comparison follows the dialect's NULL order, so the ORDER BY
stays the plain one an index serves, and NOT NULL columns get no NULL tests at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType

from .sql_values import plain_row

PAGE_SIZE = 256
PREVIEW_CHARS = 256  # longer text and blobs are cut in the grid; the editor loads them whole
MAX_SEARCH_COLUMNS = 400  # SQLite's expression depth limit (1000) bounds an OR chain
OPS = ("contains", "=", "!=", "<", ">", "between", "is null", "not null")

_DIALECT = sqlite_dialect.dialect(paramstyle="named")
# Server types whose long values the grid cuts (other types are shown whole).
_CUT_TYPES = ("text", "char", "clob", "bytea", "blob", "binary")


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: str = ""
    value2: str = ""


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class QuerySpec:
    """What a grid shows: a table's columns, in an order, filtered. ``keys`` identify rows."""

    table: str
    columns: tuple[str, ...]
    keys: tuple[str, ...] = ()
    sort: tuple[SortKey, ...] = ()
    filters: tuple[Filter, ...] = ()
    search: str = ""
    with_sizes: bool = True  # look up the full length of values cut for the grid
    schema: str | None = None  # a server's schema of ``table``
    not_null: tuple[str, ...] = ()  # columns known NOT NULL: the keyset skips their NULL tests
    types: tuple[str, ...] = ()  # declared types of ``columns`` (a server's: which ones to cut)


def coerce(text: str) -> Any:
    """A typed filter value: an int or float when it reads as one, else the text."""
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    try:
        return float(stripped) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", stripped) else text
    except ValueError:
        return text


def compile_sql(statement: Any, dialect: Dialect | None = None) -> str:
    return str(statement.compile(dialect=dialect or _DIALECT))


def compiled(statement: Any, dialect: Dialect | None = None) -> tuple[str, dict[str, Any]]:
    """SQL text (in the dialect's parameter style) and the bound values of an SQLAlchemy statement."""
    done = statement.compile(dialect=dialect or _DIALECT)
    return str(done), dict(done.params)


def quote(name: str, dialect: Dialect | None = None) -> str:
    """An identifier quoted by the dialect's preparer (only when it needs quoting)."""
    return (dialect or _DIALECT).identifier_preparer.quote(name)


def is_sqlite(dialect: Dialect | None) -> bool:
    return dialect is None or dialect.name == "sqlite"


class _Params:
    """Bound parameters with unique names, collected while a statement is built.

    On a server the parameters are untyped: PostgreSQL then reads a filter's text as the
    column's type (``int_col > '5'``) instead of failing on ``text = bigint``.
    """

    def __init__(self, typed: bool = True) -> None:
        self.values: dict[str, Any] = {}
        self.typed = typed

    def bind(self, value: Any) -> Any:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return bindparam(name, value) if self.typed else bindparam(name, value, type_=NullType())


def _filter_clause(col: ColumnElement, flt: Filter, params: _Params) -> ColumnElement | None:
    op = flt.op
    if op == "is null":
        return col.is_(None)
    if op == "not null":
        return col.is_not(None)
    if op == "contains":
        if flt.value == "":
            return None
        return _like(col, _like_pattern(params.bind(_escape_like(flt.value))), params.typed)
    if flt.value == "" and op != "=":
        return None
    value = params.bind(coerce(flt.value) if params.typed else flt.value)
    if op == "=":
        return col == value
    if op == "!=":
        return col != value
    if op == "<":
        return col < value
    if op == ">":
        return col > value
    if op == "between":
        return col.between(value, params.bind(coerce(flt.value2) if params.typed else flt.value2))
    raise ValueError(f"unknown filter operator {op!r}")


def _like_pattern(value: Any) -> ColumnElement:
    """'%' || value || '%': the value stays a bound parameter."""
    return literal_column("'%'").op("||")(value).op("||")(literal_column("'%'"))


def _like(col: ColumnElement, pattern: Any, sqlite: bool) -> ColumnElement:
    """Case-insensitive ``contains`` as SQLite's LIKE is; a server compares the value as text."""
    if sqlite:
        return col.like(pattern, escape="\\")
    return cast(col, Text).ilike(pattern, escape="\\")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Compiled page statements by spec and shape: building and compiling costs more than the query.
_STATEMENTS: dict[tuple[QuerySpec, str], dict[tuple, str]] = {}


class Query:
    """The statements of one :class:`QuerySpec`: pages, counts and anchors."""

    def __init__(self, spec: QuerySpec, dialect: Dialect | None = None) -> None:
        self.spec = spec
        self.dialect = dialect or _DIALECT
        self.sqlite = is_sqlite(dialect)
        names = list(dict.fromkeys(spec.columns + spec.keys + tuple(s.column for s in spec.sort)))
        self.table = table(spec.table, *(column(n) for n in names), schema=spec.schema)
        self.cols = {n: self.table.c[n] for n in names}
        self.order: list[tuple[str, bool]] = [(s.column, s.descending) for s in spec.sort]
        self.order += [(k, False) for k in spec.keys if k not in {s.column for s in spec.sort}]
        self._where_params = _Params(self.sqlite)
        self.where = self._build_where(self._where_params)
        if len(_STATEMENTS) > 256:
            _STATEMENTS.clear()
        self._cache = _STATEMENTS.setdefault((spec, self.dialect.name), {})

    # -- pieces ------------------------------------------------------------------------------
    def _build_where(self, params: _Params) -> ColumnElement | None:
        clauses = []
        for flt in self.spec.filters:
            if flt.column in self.cols:
                clause = _filter_clause(self.cols[flt.column], flt, params)
                if clause is not None:
                    clauses.append(clause)
        if self.spec.search:
            pattern = _like_pattern(params.bind(_escape_like(self.spec.search)))
            targets = self.spec.columns[:MAX_SEARCH_COLUMNS]
            clauses.append(or_(*(_like(self.cols[n], pattern, self.sqlite) for n in targets)))
        return and_(*clauses) if clauses else None

    def _select_list(self) -> list[ColumnElement]:
        cut = literal_column(str(PREVIEW_CHARS))
        items: list[ColumnElement] = []
        types = self.spec.types
        for i, name in enumerate(self.spec.columns):
            col = self.cols[name]
            short = func.substr(col, literal_column("1"), cut)
            if self.sqlite:
                # iif() costs less than CASE per row in SQLite; the page query stays close to a plain one
                items.append(func.iif(func.length(col) > cut, short, col).label(f"c{i}"))
            elif i < len(types) and any(t in types[i].lower() for t in _CUT_TYPES):
                items.append(case((func.length(col) > cut, short), else_=col).label(f"c{i}"))
            else:
                items.append(col.label(f"c{i}"))
        for i, (name, _desc) in enumerate(self.order):
            items.append(self.cols[name].label(f"k{i}"))
        return items

    @property
    def width(self) -> int:
        return len(self.spec.columns)

    def sizes_statement(self, names: Sequence[str], keys: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """Full lengths of some columns of some rows (by a single-column row key)."""
        key = self.cols[self.spec.keys[0]]
        stmt = select(key, *(func.length(self.cols[n]) for n in names)).select_from(self.table)
        stmt = stmt.where(key.in_([bindparam(f"key{i}", v, type_=None if self.sqlite else NullType())
                                   for i, v in enumerate(keys)]))
        return compiled(stmt, self.dialect)

    def _after(self, anchor: Sequence[Any], reverse: bool, params: _Params) -> ColumnElement:
        """Rows strictly after ``anchor`` in the ORDER BY (before it when ``reverse``).

        NULL is the smallest value in SQLite and the largest in PostgreSQL's default order; a
        column known NOT NULL needs no NULL test (so the index on it serves the range).
        """
        alternatives = []
        equal: list[ColumnElement] = []
        not_null = set(self.spec.not_null)
        for (name, desc), value in zip(self.order, anchor, strict=True):
            col = self.cols[name]
            ascending = desc == reverse
            nulls_first = ascending if self.sqlite else not ascending
            if value is None:
                after = col.is_not(None) if nulls_first else false()
                same = col.is_(None)
            else:
                bound = params.bind(value)
                after = (col > bound) if ascending else (col < bound)
                if not nulls_first and name not in not_null:
                    after = or_(after, col.is_(None))
                same = col == bound
            alternatives.append(and_(*equal, after) if equal else after)
            equal.append(same)
        return or_(*alternatives)

    def _order_by(self, reverse: bool) -> list[ColumnElement]:
        return [self.cols[n].desc() if desc != reverse else self.cols[n].asc() for n, desc in self.order]

    # -- statements --------------------------------------------------------------------------
    def page_statement(self, anchor: Sequence[Any] | None, reverse: bool, limit: int,
                       offset: int) -> tuple[str, dict[str, Any]]:
        """SQL and parameters for ``limit`` rows after ``anchor`` (or from the start/end)."""
        shape = (reverse, None if anchor is None else tuple(v is None for v in anchor))
        sql = self._cache.get(shape)
        if sql is not None:  # the same names _after would give: one per non-NULL anchor value
            values = dict(self._where_params.values)
            first = len(values)
            for value in (v for v in anchor or () if v is not None):
                values[f"p{first}"] = value
                first += 1
            values.update(limit=limit, offset=offset)
            return sql, values
        params = _Params(self.sqlite)
        params.values.update(self._where_params.values)
        stmt = select(*self._select_list()).select_from(self.table)
        conditions = []
        if self.where is not None:
            conditions.append(self.where)
        if anchor is not None:
            conditions.append(self._after(anchor, reverse, params))
        if conditions:
            stmt = stmt.where(and_(*conditions))
        stmt = stmt.order_by(*self._order_by(reverse))
        stmt = stmt.limit(bindparam("limit", limit)).offset(bindparam("offset", offset))
        sql = self._cache[shape] = compile_sql(stmt, self.dialect)
        values = dict(params.values)
        values.update(limit=limit, offset=offset)
        return sql, values

    def count_statement(self, cap: int | None = None) -> tuple[str, dict[str, Any]]:
        """count(*) of the filtered rows; with ``cap``, counting stops at ``cap + 1``."""
        inner = select(literal_column("1")).select_from(self.table)
        if self.where is not None:
            inner = inner.where(self.where)
        if cap is not None:
            inner = inner.limit(int(cap) + 1)
        stmt = select(func.count()).select_from(inner.subquery("counted"))
        sql, params = compiled(stmt, self.dialect)
        params.update(self._where_params.values)
        return sql, params

    def rows_statement(self) -> tuple[str, dict[str, Any]]:
        """Every row in order, whole values: for export."""
        stmt = select(*(self.cols[n] for n in self.spec.columns)).select_from(self.table)
        if self.where is not None:
            stmt = stmt.where(self.where)
        sql = compile_sql(stmt.order_by(*self._order_by(False)), self.dialect)
        return sql, dict(self._where_params.values)


_CUTTABLE = (str, bytes)


@dataclass
class Page:
    """Rows ``start .. start + len(values)`` of a query: grid values, full sizes and row keys."""

    number: int
    start: int
    values: list[tuple]
    sizes: list[tuple] = field(default_factory=list)
    keys: list[tuple] = field(default_factory=list)


class Pager:
    """Fetches aligned pages by keyset, keeping the anchors it learns at page boundaries.

    Not thread-safe: one worker at a time (the document's reader lock guarantees it).
    Without row keys (views) it pages with OFFSET, which is exact but slower far down.
    """

    def __init__(self, spec: QuerySpec, page_size: int = PAGE_SIZE, dialect: Dialect | None = None) -> None:
        self.query = Query(spec, dialect)
        self.dialect = dialect
        self.page_size = page_size
        self.total: int | None = None  # the exact row count, once known
        self.after: dict[int, tuple] = {}  # page -> order key of the last row of the page before
        self.before: dict[int, tuple] = {}  # page -> order key of the first row of the page after

    def fresh(self) -> Pager:
        """A pager for the same query without the anchors learnt (the data changed)."""
        return Pager(self.query.spec, self.page_size, self.dialect)

    @property
    def keyed(self) -> bool:
        return bool(self.query.spec.keys)

    def _run(self, conn: Any, anchor: tuple | None, reverse: bool, limit: int,
             offset: int) -> list[tuple]:
        sql, params = self.query.page_statement(anchor, reverse, limit, offset)
        rows = conn.execute(sql, params).fetchall()
        return rows[::-1] if reverse else rows

    def plan(self, number: int) -> tuple[tuple | None, bool, int, int]:
        """(anchor, reverse, limit, offset) for page ``number``: the nearest known starting point."""
        n = self.page_size
        start = number * n
        count = n if self.total is None else max(0, min(n, self.total - start))
        if not self.keyed:
            return None, False, count, start
        if number == 0:
            return None, False, count, 0
        if number in self.after:
            return self.after[number], False, count, 0
        if number in self.before and count == n:
            return self.before[number], True, n, 0
        options: list[tuple[int, tuple | None, bool]] = [(start, None, False)]
        below = [p for p in self.after if p < number]
        if below:
            page = max(below)
            options.append(((number - page) * n, self.after[page], False))
        above = [p for p in self.before if p > number]
        if above and count == n:
            page = min(above)
            options.append(((page - number) * n, self.before[page], True))
        if self.total is not None:
            options.append((self.total - start - count, None, True))
        skip, anchor, reverse = min(options, key=lambda o: o[0])
        return anchor, reverse, count, skip

    def fetch(self, conn: Any, number: int) -> Page:
        anchor, reverse, limit, offset = self.plan(number)
        rows = self._run(conn, anchor, reverse, limit, offset) if limit > 0 else []
        width = self.query.width
        values = [r[:width] for r in rows] if self.query.sqlite else [plain_row(r[:width]) for r in rows]
        page = Page(number, number * self.page_size, values, [], [r[width:] for r in rows])
        self._add_sizes(conn, page)
        if self.keyed and rows:
            if len(rows) == self.page_size:
                self.after[number + 1] = page.keys[-1]
            if number > 0:
                self.before[number - 1] = page.keys[0]
        return page

    def _add_sizes(self, conn: Any, page: Page) -> None:
        """Full lengths of the values the grid cut, in a second query for just those cells.

        Rare, so the page query stays as cheap as a plain SELECT. Without a single-column row
        key the length stays unknown and is shown as "at least" (-1).
        """
        cut = PREVIEW_CHARS
        long_rows = []
        for i, row in enumerate(page.values):  # plain loops: 4x cheaper than any(isinstance(...))
            for v in row:
                if type(v) in _CUTTABLE and len(v) == cut:
                    long_rows.append(i)
                    break
        if not long_rows:
            return
        spec = self.query.spec
        names = spec.columns
        sizes = [[None] * len(names) for _ in page.values]
        keyed = spec.with_sizes and len(spec.keys) == 1
        position = [n for n, _d in self.query.order].index(spec.keys[0]) if keyed else 0
        found: dict[Any, tuple] = {}
        if keyed:
            columns = sorted({c for i in long_rows for c, v in enumerate(page.values[i])
                              if isinstance(v, str | bytes) and len(v) == cut})
            keys = [page.keys[i][position] for i in long_rows]
            sql, params = self.query.sizes_statement([names[c] for c in columns], keys)
            for row in conn.execute(sql, params):
                found[row[0]] = dict(zip(columns, row[1:], strict=True))  # type: ignore[assignment]
        for i in long_rows:
            lengths = found.get(page.keys[i][position]) if keyed else None
            for c, v in enumerate(page.values[i]):
                if isinstance(v, str | bytes) and len(v) == cut:
                    full = lengths.get(c) if lengths else None  # type: ignore[union-attr]
                    sizes[i][c] = -1 if full is None else (full if full > cut else None)
        page.sizes = [tuple(s) for s in sizes]

    def count(self, conn: Any, cap: int | None = None) -> int:
        sql, params = self.query.count_statement(cap)
        return int(conn.execute(sql, params).fetchone()[0])

    def row_key(self, page: Page, row: int) -> dict[str, Any]:
        """The identifying columns of one row of ``page`` (for edits)."""
        order = self.query.order
        values = page.keys[row - page.start]
        return {name: value for (name, _d), value in zip(order, values, strict=True)
                if name in self.query.spec.keys}
