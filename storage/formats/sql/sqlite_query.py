"""An SQLite file's grid statements as plain SQL text: pages, counts, sizes, find and export.

The same statements :class:`storage.formats.sql.query.Query` builds with SQLAlchemy Core for a
server (see there for the keyset paging), written out for SQLite alone so that opening an SQLite
file needs no SQLAlchemy (about a third of a second of the launch, issue 16). Every identifier is
double-quoted with its double quotes doubled (the only quoting SQLite needs) and qualified by
its table, as SQLAlchemy writes it: ``ORDER BY "t"."c0"`` never means the result column ``c0``.
Every value is a bound parameter (``:p0``, ``:p1``… in the order they are bound, then
``:limit`` and ``:offset``). tests/storage/formats/sql/test_sqlite_query.py checks that both
builders give the same rows on random tables with hostile names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from storage.formats.sql.filters import Filter, coerce, escape_like
from storage.formats.sql.spec import MAX_SEARCH_COLUMNS, PREVIEW_CHARS, QuerySpec
from storage.formats.sql.sqlite_db import quote_ident  # "name", its double quotes doubled

_LIKE_ESCAPE = "ESCAPE '\\'"


# https://sqlite.org/lang_keywords.html
_KEYWORD_TEXT = """
abort action add after all alter always analyze and as asc attach autoincrement before begin
between by cascade case cast check collate column commit conflict constraint create cross current
current_date current_time current_timestamp database default deferrable deferred delete desc detach
distinct do drop each else end escape except exclude exclusive exists explain fail filter first
following for foreign from full generated glob group groups having if ignore immediate in index
indexed initially inner insert instead intersect into is isnull join key last left like limit match
materialized natural no not nothing notnull null nulls of offset on or order others outer over
partition plan pragma preceding primary query raise range recursive references regexp reindex
release rename replace restrict returning right rollback row rows savepoint select set table temp
temporary then ties to transaction trigger unbounded union unique update using vacuum values view
virtual when where window with without
"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_if_needed(name: str) -> str:
    """``name`` as it is written in SQLite: bare when it is a plain lower-case name and no
    keyword (as SQLAlchemy's dialect writes it), else quoted (for completion in Execute SQL)."""
    return name if _PLAIN_NAME.fullmatch(name) and name not in _KEYWORDS else quote_ident(name)


def _and(parts: Sequence[str]) -> str:
    return " AND ".join(f"({p})" for p in parts)


def _or(parts: Sequence[str]) -> str:
    return " OR ".join(f"({p})" for p in parts) if parts else "0"


class _Params:
    """Bound values named p0, p1… in the order they are bound (the names the cached page text uses)."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    def bind(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


_SHARED: dict[QuerySpec, SqliteQuery] = {}


class SqliteQuery:
    """The statements of one :class:`QuerySpec` on an SQLite database (the interface of
    :class:`storage.formats.sql.query.Query`)."""

    sqlite = True
    nulls_smallest = True  # SQLite sorts NULL before every value
    reused_keys: list[int | None] | None = None  # the order keys are always selected (k0…)
    cut_columns: list[int] | None = None  # any column may be cut
    plain_types = False

    def __init__(self, spec: QuerySpec) -> None:
        self.spec = spec
        self.source = (f"{quote_ident(spec.schema)}.{quote_ident(spec.table)}" if spec.schema
                       else quote_ident(spec.table))
        self.order: list[tuple[str, bool]] = [(s.column, s.descending) for s in spec.sort]
        self.order += [(k, False) for k in spec.keys if k not in {s.column for s in spec.sort}]
        self._where_params = _Params()
        self.where = self._build_where(self._where_params)
        self._pages: dict[tuple, str] = {}  # page statement text by shape

    @classmethod
    def shared(cls, spec: QuerySpec) -> SqliteQuery:
        """The SqliteQuery of ``spec``, built once."""
        found = _SHARED.get(spec)
        if found is None:
            if len(_SHARED) > 256:
                _SHARED.clear()
            found = _SHARED[spec] = cls(spec)
        return found

    def col(self, name: str) -> str:
        """A column of the table, qualified by it."""
        return f"{self.source}.{quote_ident(name)}"

    @property
    def width(self) -> int:
        return len(self.spec.columns)

    # -- pieces ------------------------------------------------------------------------------
    def _like(self, name: str, pattern: str) -> str:
        return f"{self.col(name)} LIKE '%' || {pattern} || '%' {_LIKE_ESCAPE}"

    def _filter(self, flt: Filter, params: _Params) -> str | None:
        col, op = self.col(flt.column), flt.op
        if op == "is null":
            return f"{col} IS NULL"
        if op == "not null":
            return f"{col} IS NOT NULL"
        if op == "contains":
            return None if flt.value == "" else self._like(flt.column, params.bind(escape_like(flt.value)))
        if flt.value == "" and op != "=":
            return None
        value = params.bind(coerce(flt.value))
        if op in ("=", "!=", "<", ">"):
            return f"{col} {op} {value}"
        if op == "between":
            return f"{col} BETWEEN {value} AND {params.bind(coerce(flt.value2))}"
        raise ValueError(f"unknown filter operator {op!r}")

    def _build_where(self, params: _Params) -> str | None:
        clauses = []
        columns = set(self.spec.columns) | set(self.spec.keys) | {s.column for s in self.spec.sort}
        for flt in self.spec.filters:
            if flt.column in columns:
                clause = self._filter(flt, params)
                if clause is not None:
                    clauses.append(clause)
        if self.spec.where.strip():
            # the user's own SQL on their own database, in parentheses so that its OR stays inside
            clauses.append(self.spec.where.strip().rstrip(";"))
        if self.spec.search:
            pattern = params.bind(escape_like(self.spec.search))
            clauses.append(_or([self._like(n, pattern) for n in self.spec.columns[:MAX_SEARCH_COLUMNS]]))
        return _and(clauses) if clauses else None

    def _short(self, name: str) -> str:
        """A long value cut to PREVIEW_CHARS for the grid (iif costs less than CASE per row)."""
        col = self.col(name)
        return f"iif(length({col}) > {PREVIEW_CHARS}, substr({col}, 1, {PREVIEW_CHARS}), {col})"

    def _after(self, anchor: Sequence[Any], reverse: bool, params: _Params) -> str:
        """Rows strictly after ``anchor`` in the ORDER BY (before it when ``reverse``); NULL is the
        smallest value in SQLite."""
        alternatives = []
        equal: list[str] = []
        for (name, desc), value in zip(self.order, anchor, strict=True):
            col = self.col(name)
            ascending = desc == reverse
            if value is None:
                after = f"{col} IS NOT NULL" if ascending else "0"
                same = f"{col} IS NULL"
            else:
                bound = params.bind(value)
                after = f"{col} > {bound}" if ascending else f"{col} < {bound}"
                if not ascending and name not in self.spec.not_null:
                    after = f"({after}) OR ({col} IS NULL)"
                same = f"{col} = {bound}"
            alternatives.append(_and([*equal, after]))
            equal.append(same)
        return _or(alternatives)

    def _order_by(self, reverse: bool) -> str:
        return ", ".join(f"{self.col(n)} {'DESC' if desc != reverse else 'ASC'}" for n, desc in self.order)

    def _select(self, items: Sequence[str], conditions: Sequence[str | None], reverse: bool | None,
                tail: str = "") -> str:
        sql = f"SELECT {', '.join(items)} FROM {self.source}"
        where = [c for c in conditions if c is not None]
        if where:
            sql += f" WHERE {_and(where)}"
        if reverse is not None and self.order:
            sql += f" ORDER BY {self._order_by(reverse)}"
        return sql + tail

    def _keys(self) -> list[str]:
        return [f"{self.col(n)} AS k{i}" for i, (n, _d) in enumerate(self.order)]

    # -- statements --------------------------------------------------------------------------
    def page_statement(self, anchor: Sequence[Any] | None, reverse: bool, limit: int,
                       offset: int) -> tuple[str, dict[str, Any]]:
        """SQL and parameters for ``limit`` rows after ``anchor`` (or from the start/end)."""
        shape = (reverse, None if anchor is None else tuple(v is None for v in anchor))
        params = _Params(self._where_params.values)
        after = self._after(anchor, reverse, params) if anchor is not None else None
        sql = self._pages.get(shape)
        if sql is None:
            items = [f"{self._short(n)} AS c{i}" for i, n in enumerate(self.spec.columns)] + self._keys()
            sql = self._pages[shape] = self._select(items, [self.where, after], reverse,
                                                    " LIMIT :limit OFFSET :offset")
        return sql, {**params.values, "limit": limit, "offset": offset}

    def large_page_statement(self, anchor: Sequence[Any] | None, reverse: bool, limit: int,
                             offset: int) -> tuple[str, dict[str, Any]]:
        """The page of :meth:`page_statement` with each text and blob left out (c0…), its type
        beside it (t0…: ``typeof()`` reads a value's type, never the value), the order keys (k0…)
        and the rowid (rid): for a page holding a value past the connection's size limit."""
        params = _Params(self._where_params.values)
        after = self._after(anchor, reverse, params) if anchor is not None else None
        items = []
        for i, name in enumerate(self.spec.columns):
            col = self.col(name)
            items.append(f"iif(typeof({col}) IN ('text', 'blob'), NULL, {col}) AS c{i}")
            items.append(f"typeof({col}) AS t{i}")
        items += [*self._keys(), "rowid AS rid"]
        sql = self._select(items, [self.where, after], reverse, " LIMIT :limit OFFSET :offset")
        return sql, {**params.values, "limit": limit, "offset": offset}

    def sizes_statement(self, names: Sequence[str], keys: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """Full lengths of some columns of some rows (by a single-column row key)."""
        key = self.col(self.spec.keys[0])
        values = {f"key{i}": v for i, v in enumerate(keys)}
        items = [key] + [f"length({self.col(n)})" for n in names]
        sql = self._select(items, [f"{key} IN ({', '.join(':' + k for k in values)})"], None)
        return sql, values

    def count_statement(self, cap: int | None = None) -> tuple[str, dict[str, Any]]:
        """count(*) of the filtered rows; with ``cap``, counting stops at ``cap + 1``."""
        values = dict(self._where_params.values)
        tail = ""
        if cap is not None:
            values["cap"] = int(cap) + 1
            tail = " LIMIT :cap"
        inner = self._select(["1"], [self.where], None, tail)
        return f"SELECT count(*) FROM ({inner}) AS counted", values

    # -- find (Edit ▸ Find): cells holding a text, in the grid's order ------------------------------
    def _find_parts(self, text: str, params: _Params) -> tuple[list[str], str]:
        """A 0/1 flag per shown column (f0…) telling whether it holds ``text`` (case-insensitive
        ``contains``, as the search box compares), and the condition that any does."""
        pattern = params.bind(escape_like(text))
        likes = [self._like(n, pattern) for n in self.spec.columns[:MAX_SEARCH_COLUMNS]]
        return [f"CASE WHEN {like} THEN 1 ELSE 0 END AS f{i}" for i, like in enumerate(likes)], _or(likes)

    def find_statement(self, text: str, anchor: Sequence[Any] | None,
                       reverse: bool) -> tuple[str, dict[str, Any]]:
        """The first row after ``anchor`` (before it when ``reverse``; None: from the first or the
        last row) with a cell holding ``text``: its order key (k0…) and the flags (f0…)."""
        params = _Params(self._where_params.values)
        flags, any_match = self._find_parts(text, params)
        after = self._after(anchor, reverse, params) if anchor is not None else None
        sql = self._select(self._keys() + flags, [self.where, after, any_match], reverse,
                           " LIMIT :limit OFFSET :offset")
        return sql, {**params.values, "limit": 1, "offset": 0}

    def row_find_statement(self, text: str, anchor: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """The flags (f0…) of the row whose order key is ``anchor``."""
        params = _Params(self._where_params.values)
        flags, _any = self._find_parts(text, params)
        same = [f"{self.col(n)} IS NULL" if v is None else f"{self.col(n)} = {params.bind(v)}"
                for (n, _d), v in zip(self.order, anchor, strict=True)]
        sql = self._select(flags, [self.where, *same], None, " LIMIT :limit OFFSET :offset")
        return sql, {**params.values, "limit": 1, "offset": 0}

    def rows_before_statement(self, anchor: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        """How many rows come before the row whose order key is ``anchor``: its row in the grid."""
        params = _Params(self._where_params.values)
        inner = self._select(["1"], [self.where, self._after(anchor, True, params)], None)
        return f"SELECT count(*) FROM ({inner}) AS before", params.values

    def scan_find_statement(self, text: str) -> tuple[str, dict[str, Any]]:
        """The flags (f0…) of every row in the grid's order: a table without a row key is searched
        row by row (its rows cannot be found again by key)."""
        params = _Params(self._where_params.values)
        flags, _any = self._find_parts(text, params)
        return self._select(flags, [self.where], False), params.values

    def rows_statement(self) -> tuple[str, dict[str, Any]]:
        """Every row in order, whole values: for export."""
        items = [self.col(n) for n in self.spec.columns]
        return self._select(items, [self.where], False), dict(self._where_params.values)
