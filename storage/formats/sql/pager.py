"""Pages of a grid's query (:func:`query_for`): aligned pages fetched by
keyset, with the anchors learnt at page boundaries, the full length of values cut for the grid,
and the row keys for edits."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storage.formats.sql.bounds import PAGE_SECONDS, VALUE_LIMIT, is_too_big, large_value, time_budget
from storage.formats.sql.spec import PAGE_SIZE, PREVIEW_CHARS, QuerySpec, is_sqlite
from storage.formats.sql.sqlite_query import SqliteQuery
from storage.formats.sql.values import plain_rows

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

    from storage.formats.sql.query import Query

_CUTTABLE = (str, bytes)


def query_for(spec: QuerySpec, dialect: Any = None) -> SqliteQuery | Query:
    """The statements of ``spec``, built once per spec: SQLite's without SQLAlchemy (``dialect``
    None or SQLite's), a server's with SQLAlchemy and its dialect."""
    if is_sqlite(dialect):
        return SqliteQuery.shared(spec)
    from storage.formats.sql.query import Query

    return Query.shared(spec, dialect)


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
        self.query = query_for(spec, dialect)
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
        with time_budget(conn, PAGE_SECONDS, "Reading this page"):
            try:
                rows = self._run(conn, anchor, reverse, limit, offset) if limit > 0 else []
            except Exception as exc:
                if not (self.query.sqlite and is_too_big(exc)):
                    raise
                # a value past the connection's size limit: measure the stored ones, never load them
                return self._fetch_large(conn, number, anchor, reverse, limit, offset, exc)
        width = self.query.width
        reused = self.query.reused_keys
        if self.query.sqlite:
            values = [r[:width] for r in rows]
        elif self.query.plain_types and (not rows or len(rows[0]) == width):
            values = rows  # every column arrives as int, float, str or bytes: nothing to convert
        else:
            values = plain_rows(rows, width, self.query.spec.types)
        if reused is None:
            keys = [r[width:] for r in rows]
        else:  # order columns shown whole in the grid are not selected twice
            extra = iter(range(width, width + len(reused)))
            positions = [p if p is not None else next(extra) for p in reused]
            if not positions:  # no row key (a view, a table without one): paged by OFFSET
                keys = [() for _r in rows]
            elif len(positions) == 1:
                at = positions[0]
                keys = [(r[at],) for r in rows]
            else:
                pick = operator.itemgetter(*positions)
                keys = [pick(r) for r in rows]
        page = Page(number, number * self.page_size, values, [], keys)
        self._add_sizes(conn, page)
        if self.keyed and rows:
            if len(rows) == self.page_size:
                self.after[number + 1] = page.keys[-1]
            if number > 0:
                self.before[number - 1] = page.keys[0]
        return page

    def _fetch_large(self, conn: Any, number: int, anchor: tuple | None, reverse: bool, limit: int,
                     offset: int, error: Exception) -> Page:
        """The page again with each text and blob read through a blob handle: its size and first
        bytes; values past ``VALUE_LIMIT`` become ``LargeValue`` ("900 MB text — show…").

        Only stored values can be measured so: a view that computes a huge value (or a table
        without rowid) still fails, with the original "too big" error.
        """
        query = self.query
        sql, params = query.large_page_statement(anchor, reverse, limit, offset)
        try:
            rows = conn.execute(sql, params).fetchall()
        except Exception:
            raise error from None
        rows = rows[::-1] if reverse else rows
        width = query.width
        values, sizes, keys = [], [], []
        for row in rows:
            rowid = row[-1]
            shown, lengths = [], []
            for i, name in enumerate(query.spec.columns):
                value, kind = row[2 * i], row[2 * i + 1]
                size = None
                if kind in ("text", "blob"):
                    try:
                        big = large_value(conn, query.spec.table, name, rowid, kind, head=4 * PREVIEW_CHARS)
                    except Exception:
                        raise error from None
                    if big.size > VALUE_LIMIT:
                        value, size = big, big.size  # a size marks it cut: edited in the Record tab
                    else:
                        head = big.head.decode("utf-8", "replace") if kind == "text" else big.head
                        value = head[:PREVIEW_CHARS]
                        if big.size > len(value):
                            size = big.size
                lengths.append(size)
                shown.append(value)
            values.append(tuple(shown))
            sizes.append(tuple(lengths))
            keys.append(tuple(row[2 * width:-1]))
        page = Page(number, number * self.page_size, values, sizes, keys)
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
        if self.query.cut_columns is not None:  # a server: only text and binary columns are cut
            for c in self.query.cut_columns:
                # the C-level scan first: a cut value is rare
                if cut not in map(len, filter(None, map(operator.itemgetter(c), page.values))):
                    continue
                long_rows += [i for i, row in enumerate(page.values)
                              if type(row[c]) in _CUTTABLE and len(row[c]) == cut]
            long_rows = sorted(set(long_rows))
        else:
            for i, row in enumerate(page.values):  # plain loops: 4x cheaper than any(isinstance(...))
                for v in row:
                    if type(v) in _CUTTABLE and len(v) == cut:
                        long_rows.append(i)
                        break
        if not long_rows:
            return
        spec = self.query.spec
        names = spec.columns
        sizes: list[list[int | None]] = [[None] * len(names) for _ in page.values]
        keyed = spec.with_sizes and len(spec.keys) == 1
        position = [n for n, _d in self.query.order].index(spec.keys[0]) if keyed else 0
        found: dict[Any, dict[int, Any]] = {}  # row key -> column -> full length
        if keyed:
            columns = sorted({c for i in long_rows for c, v in enumerate(page.values[i])
                              if isinstance(v, str | bytes) and len(v) == cut})
            keys = [page.keys[i][position] for i in long_rows]
            sql, params = self.query.sizes_statement([names[c] for c in columns], keys)
            for row in conn.execute(sql, params):
                found[row[0]] = dict(zip(columns, row[1:], strict=True))
        for i in long_rows:
            lengths = found.get(page.keys[i][position]) if keyed else None
            for c, v in enumerate(page.values[i]):
                if isinstance(v, str | bytes) and len(v) == cut:
                    full = lengths.get(c) if lengths else None
                    sizes[i][c] = -1 if full is None else (full if full > cut else None)
        page.sizes = [tuple(s) for s in sizes]

    def count(self, conn: Any, cap: int | None = None) -> int:
        sql, params = self.query.count_statement(cap)
        if cap is None:  # an exact count was asked for: it may take as long as it takes
            return int(conn.execute(sql, params).fetchone()[0])
        with time_budget(conn, PAGE_SECONDS, "Counting the rows"):
            return int(conn.execute(sql, params).fetchone()[0])

    def row_key(self, page: Page, row: int) -> dict[str, Any]:
        """The identifying columns of one row of ``page`` (for edits)."""
        order = self.query.order
        values = page.keys[row - page.start]
        return {name: value for (name, _d), value in zip(order, values, strict=True)
                if name in self.query.spec.keys}
