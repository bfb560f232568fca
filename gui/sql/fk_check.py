"""Flags foreign-key cells whose value names no row of the referenced table (data written elsewhere
with enforcement off): the visible values are checked in batches on a worker, one indexed ``IN``
query per column, and the cell's arrow turns red with a tooltip that says so.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer

from storage.formats.sql.fk import existing_keys

BATCH = 500


class MissingRefs(QObject):
    """What is known about the grid's foreign-key values: present, missing, or being checked."""

    def __init__(self, fks: Any) -> None:
        super().__init__(fks)
        self.fks = fks  # a gui.sql.fk.ForeignKeys
        self.known: dict[tuple[int, Any], bool] = {}  # (column, value) -> the referenced row exists
        self._queued: dict[int, set[Any]] = {}
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._check)

    def clear(self) -> None:
        self._generation += 1
        self.known.clear()
        self._queued.clear()

    def missing(self, column: int, value: Any) -> bool:
        """True once a check found no referenced row; unknown values are queued for checking."""
        if value is None or isinstance(value, bytes | bool):
            return False
        state = self.known.get((column, value))
        if state is None:
            self._queued.setdefault(column, set()).add(value)
            self._timer.start()
            return False
        return not state

    def _check(self) -> None:
        fks, document = self.fks, self.fks.host
        database = document.database
        reader = document.reader
        if reader is None or database is None:
            return
        kind, dialect, generation = document.db_kind(), document.db_dialect(), self._generation
        for column, values in self._queued.items():
            target = fks.fk_target(column)
            if target is None:
                continue
            batch = list(values)[:BATCH]
            for value in batch:
                self.known[(column, value)] = True  # until the answer says otherwise: no re-queue

            def work(t=target, b=batch) -> set[Any]:
                return reader.run(lambda conn: existing_keys(conn, kind, t.table, t.key, b, t.schema,
                                                             dialect))

            def checked(found: set[Any], c=column, b=batch) -> None:
                self._on_checked(generation, c, b, found)

            document.start_task(work, on_result=checked, on_error=lambda _e: None)
        self._queued.clear()

    def _on_checked(self, generation: int, column: int, batch: list[Any], found: set[Any]) -> None:
        if generation != self._generation:
            return
        for value in batch:
            self.known[(column, value)] = value in found
        if any(value not in found for value in batch):
            self.fks.grid.viewport().update()
