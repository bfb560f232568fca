"""Browsing a server's table through SQL: sorting, filtering and keyset paging, built with SQLAlchemy Core.

(An SQLite file's statements are the same ones written out without SQLAlchemy, by
:mod:`storage.formats.sql.sqlite_query`; :func:`storage.formats.sql.pager.query_for` picks the builder.)

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
from typing import Any

from sqlalchemy import and_, bindparam, case, column, false, func, literal_column, or_, select, table
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnClause, ColumnElement
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import NullType

from storage.formats.sql.filters import Params, escape_like, filter_clause, like_clause, like_pattern
from storage.formats.sql.spec import (  # re-exported: the names this module always had
    MAX_SEARCH_COLUMNS as MAX_SEARCH_COLUMNS,
)
from storage.formats.sql.spec import PAGE_SIZE as PAGE_SIZE
from storage.formats.sql.spec import PREVIEW_CHARS as PREVIEW_CHARS
from storage.formats.sql.spec import QuerySpec as QuerySpec
from storage.formats.sql.spec import SortKey as SortKey
from storage.formats.sql.spec import is_sqlite as is_sqlite

_DIALECT = sqlite_dialect.dialect(paramstyle="named")
# Server types whose long values the grid cuts (other types are shown whole).
_CUT_TYPES = ("text", "char", "clob", "bytea", "blob", "binary")


_CUT: ColumnClause[Any] = literal_column(str(PREVIEW_CHARS))


def _short(col: Any) -> Any:
    return func.substr(col, literal_column("1"), _CUT)


def _cut(col: Any) -> Any:
    """A server's long text or bytes cut to PREVIEW_CHARS for the grid."""
    return case((func.length(col) > _CUT, _short(col)), else_=col)


def _cut_type(decl: str) -> bool:
    """A server's text or binary type, whose long values the grid cuts (not an array of them)."""
    low = decl.lower()
    return not low.endswith("]") and any(t in low for t in _CUT_TYPES)


def where_clause(condition: str) -> ColumnElement:
    """The WHERE box's condition as the database reads it, in parentheses so that its OR stays
    inside. It is the user's own SQL on their own database; only one statement is ever run (the
    drivers refuse a second one), and a typo is the database's located error."""
    return literal_column(f"({condition.strip().rstrip(';')})")


def compile_sql(statement: Any, dialect: Dialect | None = None) -> str:
    return str(statement.compile(dialect=dialect or _DIALECT))


def compiled(statement: Any, dialect: Dialect | None = None) -> tuple[str, dict[str, Any]]:
    """SQL text (in the dialect's parameter style) and the bound values of an SQLAlchemy statement."""
    done = statement.compile(dialect=dialect or _DIALECT)
    return str(done), dict(done.params)


def quote(name: str, dialect: Dialect | None = None) -> str:
    """An identifier quoted by the dialect's preparer (only when it needs quoting)."""
    return (dialect or _DIALECT).identifier_preparer.quote(name)


def quote_table(name: str, schema: str | None = None, dialect: Dialect | None = None) -> str:
    """A table's name quoted by the dialect, after its quoted schema when it has one."""
    return f"{quote(schema, dialect)}.{quote(name, dialect)}" if schema else quote(name, dialect)


# Dialects whose default order puts NULL before every value (ascending); PostgreSQL and Oracle
# put it after.
_NULLS_SMALLEST = frozenset({"sqlite", "mysql", "mariadb", "mssql"})


def nulls_smallest(dialect: Dialect | None) -> bool:
    return dialect is None or dialect.name in _NULLS_SMALLEST


_PLAIN_TYPES = re.compile(r"(smallint|integer|bigint|int[248]?|serial\w*|real|double precision|float\w*"
                          r"|text|character varying|varchar|character|char|bpchar|bytea|name)(\(\d+\))?$")


def _plain_type(decl: str) -> bool:
    """A PostgreSQL type psycopg returns as a plain int, float, str or bytes."""
    return bool(_PLAIN_TYPES.match(decl.lower()))


# Compiled page statements by spec and shape: building and compiling costs more than the query.
_STATEMENTS: dict[tuple[QuerySpec, str], dict[tuple, str]] = {}
_QUERIES: dict[tuple[QuerySpec, str], Query] = {}


class Query:
    """The statements of one :class:`QuerySpec`: pages, counts and anchors."""

    def __init__(self, spec: QuerySpec, dialect: Dialect | None = None) -> None:
        self.spec = spec
        self.dialect = dialect or _DIALECT
        self.sqlite = is_sqlite(dialect)
        self.nulls_smallest = nulls_smallest(dialect)
        names = list(dict.fromkeys(spec.columns + spec.keys + tuple(s.column for s in spec.sort)))
        self.table = table(spec.table, *(column(n) for n in names), schema=spec.schema)
        self.cols = {n: self.table.c[n] for n in names}
        self.order: list[tuple[str, bool]] = [(s.column, s.descending) for s in spec.sort]
        self.order += [(k, False) for k in spec.keys if k not in {s.column for s in spec.sort}]
        # On a server, an order column the grid shows uncut is read from the grid's values.
        self.reused_keys: list[int | None] | None = None
        self.cut_columns: list[int] | None = None  # None: any column may be cut (SQLite)
        self.plain_types = False  # a server's columns all arrive as int, float, str or bytes
        if not self.sqlite:
            types = spec.types
            self.cut_columns = [i for i in range(len(spec.columns))
                                if i < len(types) and _cut_type(types[i])]
            shown = {n: i for i, n in enumerate(spec.columns) if i not in self.cut_columns}
            self.reused_keys = [shown.get(n) for n, _d in self.order]
            self.plain_types = len(types) == len(spec.columns) and all(map(_plain_type, types))
        self._where_params = Params(self.sqlite)
        self.where = self._build_where(self._where_params)
        if len(_STATEMENTS) > 256:
            _STATEMENTS.clear()
        self._cache = _STATEMENTS.setdefault((spec, self.dialect.name), {})

    @classmethod
    def shared(cls, spec: QuerySpec, dialect: Dialect | None = None) -> Query:
        """The Query of ``spec`` built once: building it costs more than a page of a small table."""
        key = (spec, (dialect or _DIALECT).name)
        found = _QUERIES.get(key)
        if found is None:
            if len(_QUERIES) > 256:
                _QUERIES.clear()
            found = _QUERIES[key] = cls(spec, dialect)
        return found

    # -- pieces ------------------------------------------------------------------------------
    def _build_where(self, params: Params) -> ColumnElement | None:
        clauses = []
        for flt in self.spec.filters:
            if flt.column in self.cols:
                clause = filter_clause(self.cols[flt.column], flt, params)
                if clause is not None:
                    clauses.append(clause)
        if self.spec.where.strip():
            clauses.append(where_clause(self.spec.where))
        if self.spec.search:
            pattern = like_pattern(params.bind(escape_like(self.spec.search)))
            targets = self.spec.columns[:MAX_SEARCH_COLUMNS]
            clauses.append(or_(*(like_clause(self.cols[n], pattern, self.sqlite) for n in targets)))
        return and_(*clauses) if clauses else None

    def _select_list(self, cut: bool = True) -> list[ColumnElement]:
        """The page's columns (c0…, long values cut unless ``cut`` is off) and the order keys
        the grid does not show whole (k0…)."""
        items: list[ColumnElement] = []
        types = self.spec.types
        for i, name in enumerate(self.spec.columns):
            col = self.cols[name]
            if self.sqlite and cut:
                # iif() costs less than CASE per row in SQLite; the page query stays close to a plain one
                items.append(func.iif(func.length(col) > _CUT, _short(col), col).label(f"c{i}"))
            elif cut and i < len(types) and _cut_type(types[i]):
                items.append(_cut(col).label(f"c{i}"))
            else:
                items.append(col.label(f"c{i}"))
        shown = set(self.spec.columns)
        for i, (name, _desc) in enumerate(self.order):
            if not cut and name in shown:
                continue  # the page's outer select reads it from the whole value (_cut_page)
            if self.reused_keys is None or self.reused_keys[i] is None:
                items.append(self.cols[name].label(f"k{i}"))
        return items

    def _cut_page(self, page: Any, reverse: bool) -> Any:
        """The page's rows with long values cut, in the page's order.

        On a server the cut (``CASE WHEN length(v) > n THEN substr(v, 1, n) ELSE v END``) runs
        over the LIMITed page only: in the select list of the sorted query PostgreSQL evaluates
        it for every row it sorts, which made the first page of a sort by an unindexed text
        column 2.6–4× slower than the plain query (issue 19; benchmarks/bench_postgres.py).
        """
        cut = set(self.cut_columns or ())
        items = [(_cut(page.c[f"c{i}"]) if i in cut else page.c[f"c{i}"]).label(f"c{i}")
                 for i in range(len(self.spec.columns))]
        order = []
        position = {n: i for i, n in enumerate(self.spec.columns)}
        for i, (name, desc) in enumerate(self.order):
            reused = self.reused_keys[i] if self.reused_keys is not None else None
            key = page.c[f"c{position[name]}"] if name in position else page.c[f"k{i}"]
            if reused is None:
                items.append(key.label(f"k{i}"))
            order.append(key.desc() if desc != reverse else key.asc())
        return select(*items).select_from(page).order_by(*order)

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

    def _after(self, anchor: Sequence[Any], reverse: bool, params: Params) -> ColumnElement:
        """Rows strictly after ``anchor`` in the ORDER BY (before it when ``reverse``).

        NULL is the smallest value in SQLite and MySQL and the largest in PostgreSQL's default order; a
        column known NOT NULL needs no NULL test (so the index on it serves the range).
        """
        alternatives = []
        equal: list[ColumnElement] = []
        not_null = set(self.spec.not_null)
        for (name, desc), value in zip(self.order, anchor, strict=True):
            col = self.cols[name]
            ascending = desc == reverse
            nulls_first = ascending if self.nulls_smallest else not ascending
            after: ColumnElement[bool]
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
        params = Params(self.sqlite)
        params.values.update(self._where_params.values)
        late = not self.sqlite and bool(self.cut_columns)
        stmt = select(*self._select_list(cut=not late)).select_from(self.table)
        conditions = []
        if self.where is not None:
            conditions.append(self.where)
        if anchor is not None:
            conditions.append(self._after(anchor, reverse, params))
        if conditions:
            stmt = stmt.where(and_(*conditions))
        stmt = stmt.order_by(*self._order_by(reverse))
        stmt = stmt.limit(bindparam("limit", limit)).offset(bindparam("offset", offset))
        if late:
            stmt = self._cut_page(stmt.subquery("page"), reverse)
        sql = self._cache[shape] = compile_sql(stmt, self.dialect)
        values = dict(params.values)
        values.update(limit=limit, offset=offset)
        return sql, values

    def large_page_statement(self, anchor: Sequence[Any] | None, reverse: bool, limit: int,
                             offset: int) -> tuple[str, dict[str, Any]]:
        """The page of :meth:`page_statement` with each text and blob left out (c0…), its type
        beside it (t0…: ``typeof()`` reads a value's type, never the value), the order keys (k0…)
        and the rowid (rid): for an SQLite page holding a value past the connection's size limit."""
        items = []
        measured: list[ColumnElement[Any]] = [literal_column("'text'"), literal_column("'blob'")]
        for i, name in enumerate(self.spec.columns):
            col = self.cols[name]
            kind = func.typeof(col)
            items.append(func.iif(kind.in_(measured), None, col).label(f"c{i}"))
            items.append(kind.label(f"t{i}"))
        items += [self.cols[name].label(f"k{i}") for i, (name, _d) in enumerate(self.order)]
        items.append(literal_column("rowid").label("rid"))
        stmt = select(*items).select_from(self.table)
        conditions = [c for c in (self.where,) if c is not None]
        _sql, params = self.page_statement(anchor, reverse, limit, offset)  # the same parameters
        if anchor is not None:
            bound = Params(self.sqlite)
            bound.values.update(self._where_params.values)
            conditions.append(self._after(anchor, reverse, bound))
        if conditions:
            stmt = stmt.where(and_(*conditions))
        stmt = stmt.order_by(*self._order_by(reverse))
        stmt = stmt.limit(literal_column(":limit")).offset(literal_column(":offset"))
        return compile_sql(stmt, self.dialect), params

    def count_statement(self, cap: int | None = None) -> tuple[str, dict[str, Any]]:
        """count(*) of the filtered rows; with ``cap``, counting stops at ``cap + 1``."""
        inner: Select[Any] = select(literal_column("1")).select_from(self.table)
        if self.where is not None:
            inner = inner.where(self.where)
        if cap is not None:
            inner = inner.limit(int(cap) + 1)
        stmt = select(func.count()).select_from(inner.subquery("counted"))
        sql, params = compiled(stmt, self.dialect)
        params.update(self._where_params.values)
        return sql, params

    # -- find (Edit ▸ Find): cells holding a text, in the grid's order ------------------------------
    def _find_parts(self, text: str, params: Params) -> tuple[list[Any], ColumnElement]:
        """A 0/1 flag per shown column (f0…) telling whether it holds ``text`` (as the grid's search
        box compares: case-insensitive ``contains``), and the condition that any does."""
        pattern = like_pattern(params.bind(escape_like(text)))
        targets = self.spec.columns[:MAX_SEARCH_COLUMNS]
        likes = [like_clause(self.cols[n], pattern, self.sqlite) for n in targets]
        flags = [case((like, literal_column("1")), else_=literal_column("0")).label(f"f{i}")
                 for i, like in enumerate(likes)]
        return flags, or_(*likes)

    def _find_params(self) -> Params:
        params = Params(self.sqlite)
        params.values.update(self._where_params.values)
        return params

    def find_statement(self, text: str, anchor: Sequence[Any] | None,
                       reverse: bool) -> tuple[str, dict[str, Any]]:
        """The first row after ``anchor`` (before it when ``reverse``; None: from the first or the
        last row) with a cell holding ``text``: its order key (k0…) and the flags (f0…)."""
        params = self._find_params()
        flags, any_match = self._find_parts(text, params)
        keys = [self.cols[n].label(f"k{i}") for i, (n, _d) in enumerate(self.order)]
        conditions = [c for c in (self.where,) if c is not None]
        if anchor is not None:
            conditions.append(self._after(anchor, reverse, params))
        conditions.append(any_match)
        stmt = select(*keys, *flags).select_from(self.table).where(and_(*conditions))
        stmt = stmt.order_by(*self._order_by(reverse))
        return self._first(stmt, params)

    def row_find_statement(self, text: str, anchor: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """The flags (f0…) of the row whose order key is ``anchor``."""
        params = self._find_params()
        flags, _any = self._find_parts(text, params)
        conditions = [c for c in (self.where,) if c is not None]
        conditions += [self.cols[n].is_(None) if v is None else self.cols[n] == params.bind(v)
                       for (n, _d), v in zip(self.order, anchor, strict=True)]
        return self._first(select(*flags).select_from(self.table).where(and_(*conditions)), params)

    def _first(self, stmt: Select[Any], params: Params) -> tuple[str, dict[str, Any]]:
        """``stmt``'s first row (SQLite's dialect always writes an OFFSET: both are bound)."""
        stmt = stmt.limit(bindparam("limit", 1)).offset(bindparam("offset", 0))
        return compile_sql(stmt, self.dialect), {**params.values, "limit": 1, "offset": 0}

    def rows_before_statement(self, anchor: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """How many rows come before the row whose order key is ``anchor``: its row in the grid."""
        params = self._find_params()
        conditions = [c for c in (self.where,) if c is not None]
        conditions.append(self._after(anchor, True, params))
        inner: Any = select(literal_column("1")).select_from(self.table).where(and_(*conditions))
        stmt = select(func.count()).select_from(inner.subquery("before"))
        return compile_sql(stmt, self.dialect), dict(params.values)

    def scan_find_statement(self, text: str) -> tuple[str, dict[str, Any]]:
        """The flags (f0…) of every row in the grid's order: a table without a row key is searched
        row by row (its rows cannot be found again by key)."""
        params = self._find_params()
        flags, _any = self._find_parts(text, params)
        stmt = select(*flags).select_from(self.table)
        if self.where is not None:
            stmt = stmt.where(self.where)
        return compile_sql(stmt.order_by(*self._order_by(False)), self.dialect), dict(params.values)

    def rows_statement(self) -> tuple[str, dict[str, Any]]:
        """Every row in order, whole values: for export."""
        stmt = select(*(self.cols[n] for n in self.spec.columns)).select_from(self.table)
        if self.where is not None:
            stmt = stmt.where(self.where)
        sql = compile_sql(stmt.order_by(*self._order_by(False)), self.dialect)
        return sql, dict(self._where_params.values)
