"""A table file's rows (its current view: sorted, filtered) as a :class:`~storage.core.convert.RowSource`.

The rows stream from DuckDB in batches on the source's own cursor; a cancel stops even the first
batch of a sort over a big file (the query is interrupted).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from storage.core.convert import Field, field_for_type
from storage.formats.table.source import Call, CancelledError, TableSource, View, quote_name


class TableRows:
    """Every row of ``view`` of an open :class:`TableSource`, with its DuckDB types as kinds."""

    def __init__(self, source: TableSource, view: View | None = None, total: int | None = None) -> None:
        self.source = source
        self.view = view = view or View()
        self.fields: list[Field] = [field_for_type(c.name, c.type) for c in source.info.columns]
        exact = source.info.rows_exact and not view.narrowed
        self.total = total if total is not None else (source.info.rows if exact else None)

    def batches(self, size: int, cancel: Callable[[], bool]) -> Iterator[Sequence[Sequence[Any]]]:
        source = self.source
        call = Call()
        stop = threading.Event()

        def watch() -> None:  # a cancel interrupts DuckDB even inside one long fetch
            while not stop.wait(0.1):
                if cancel():
                    call.cancel()
                    return

        watcher = threading.Thread(target=watch, name="convert-cancel", daemon=True)
        watcher.start()
        where, params = source._where(self.view)
        select = ", ".join(quote_name(c.name) for c in source.info.columns) or "1"
        sql = f"SELECT {select} FROM t{where}{source._order(self.view)}"
        with source._lock:
            if source.closed:
                raise CancelledError("The file was closed.")
            cursor = source.connection.cursor()
            if source._arrow is not None:
                cursor.register("arrow_table", source._arrow)
        try:
            call.attach(cursor)
            try:
                cursor.execute(sql, params)
                while True:
                    rows = cursor.fetchmany(size)
                    if not rows:
                        return
                    yield rows
            except CancelledError:
                raise
            except Exception as exc:
                if call.cancelled:
                    raise CancelledError("Stopped.") from None
                from storage.formats.table.source import _known

                raise _known(exc, source.path) from None
        finally:
            stop.set()
            call.detach()
            cursor.close()
