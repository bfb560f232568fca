"""Opening Modify Table…: read the table's columns (and which hold data) on a worker, show the
dialog, and run its plan as one undoable change. Part of :class:`gui.sql_schema_edit.SchemaEditMixin`."""

from __future__ import annotations

from typing import Any

from storage import sql_schema_plans as plans
from storage.sql_modify_plans import modify_recipe, modify_table
from storage.sql_schema_run import build_plan
from storage.sql_table_edit import TableEdit, current_edit, data_probe

from .sql_modify_dialog import ModifyTableDialog


def _read(ctx: plans.Context, table: str) -> tuple[TableEdit, dict[str | None, bool]]:
    edit = current_edit(ctx, table)
    return edit, data_probe(ctx, edit)


class ModifyTableMixin:
    """``modify_table_dialog(table)``: the combined column editor of the schema tree's menu."""

    def modify_table_dialog(self: Any, qualified: str | None) -> None:
        found = self.schema.find(qualified) if (qualified and self.schema is not None) else None
        if not self._can_edit_schema() or found is None or found.kind != "table":
            return
        table, space = found.name, self._db_schema(qualified)
        self.start_task(build_plan, self.schema_database(), lambda c: _read(c, table), space,
                    on_result=lambda got: self._show_modify(qualified, *got),
                    on_error=lambda e: self.show_message(f"Modify Table {table}: {e}", "error"))

    def _show_modify(self: Any, qualified: str, before: TableEdit, data: dict[str | None, bool]) -> None:
        ctx = self._context(qualified)
        ctx.has_data = lambda _t, column, _d: data.get(column, True)
        dialog = ModifyTableDialog(before, lambda after: modify_table(ctx, before, after), ctx.dialect.name,
                                   self._names(), self)
        self.schema_dialog = dialog

        def run() -> None:
            after = dialog.edit()
            self.run_schema_change(dialog.plan, modify_recipe(before.name, after), qualified)

        dialog.accepted.connect(run)
        dialog.open()
