"""A table file's rows (its current view: sorted, filtered) as a :class:`~storage.core.convert.RowSource`.

CSV, Parquet and JSON Lines are written by DuckDB itself (``COPY (the view) TO`` the atomic
writer's temporary file), twenty times faster than row by row and with the file's own types
(nested Parquet columns stay nested); an SQLite target gets the rows in batches. Either way a
cancel interrupts the query, even inside one long sort, and progress follows DuckDB's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from storage.core.convert import Field, field_for_type
from storage.core.errors import KnownError
from storage.formats.table.source import Call, CancelledError, TableSource, View, quote_text

_COPY_OPTIONS = {"parquet": "FORMAT PARQUET", "csv": "FORMAT CSV, HEADER", "jsonl": "FORMAT JSON"}


class TableRows:
    """Every row of ``view`` of an open :class:`TableSource`, with its DuckDB types as kinds."""

    copy_formats = tuple(_COPY_OPTIONS)

    def __init__(self, source: TableSource, view: View | None = None, total: int | None = None) -> None:
        self.source = source
        self.view = view = view or View()
        self.fields: list[Field] = [field_for_type(c.name, c.type) for c in source.info.columns]
        exact = source.info.rows_exact and not view.narrowed
        self.total = total if total is not None else (source.info.rows if exact else None)

    def _select(self) -> tuple[str, list[Any]]:
        return self.source.rows_sql(self.view)

    @contextlib.contextmanager
    def _cursor(self, cancel: Callable[[], bool],
                progress: Callable[[float], None] | None = None) -> Iterator[Any]:
        """A cursor of the source whose query a cancel interrupts (polled by a small thread, which
        also passes DuckDB's progress on)."""
        source = self.source
        call = Call()
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(0.1):
                if cancel():
                    call.cancel()
                    return
                if progress is not None and (fraction := call.progress()) is not None:
                    progress(fraction)

        try:
            with source.cursor(call) as cursor:
                watcher = threading.Thread(target=watch, name="convert-cancel", daemon=True)
                watcher.start()
                try:
                    yield cursor
                finally:
                    stop.set()
                    watcher.join()
        except KnownError as exc:
            if source.closed and not isinstance(exc, CancelledError):  # closed under us: whatever
                raise CancelledError("The file was closed.") from None  # DuckDB said ("busy"…)
            raise

    def batches(self, size: int, cancel: Callable[[], bool]) -> Iterator[Sequence[Sequence[Any]]]:
        sql, params = self._select()
        with self._cursor(cancel) as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(size):
                yield rows

    def copy_to(self, fmt: str, path: str, cancel: Callable[[], bool],
                progress: Callable[[float], None]) -> int:
        sql, params = self._select()
        with self._cursor(cancel, progress) as cursor:
            copy = f"COPY ({sql}) TO {quote_text(path)} ({_COPY_OPTIONS[fmt]})"
            done = cursor.execute(copy, params).fetchone()
        progress(1.0)
        return int(done[0]) if done else 0


class QueryRows:
    """Every row of an SQL-over-files result (:class:`~storage.formats.table.query.QueryResult`),
    read again from the start, with its DuckDB types as kinds: Convert… of a join."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.fields: list[Field] = [field_for_type(c.name, c.type) for c in result.info.columns]
        self.total = len(result.rows) if result.complete else None

    def batches(self, size: int, cancel: Callable[[], bool]) -> Iterator[Sequence[Sequence[Any]]]:
        call = Call()
        reader = self.result.record_batches(size, call)
        for batch in reader:
            if cancel():
                call.cancel()
                raise CancelledError("Stopped.")
            columns = [column.to_pylist() for column in batch.columns]
            yield list(zip(*columns, strict=True)) if columns else []
