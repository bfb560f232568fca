"""The undo command of a schema change: undo and redo rebuild their plan from the database as it is.

The change itself ran on a worker before the command was pushed (its first redo does nothing).
Undo and redo run through :func:`gui.common.workers.run_with_progress`, which keeps the window painting
while the statements run. A step the database refuses (the column now holds data, say) is shown
and the command is made obsolete, so the stack never claims a change that is not in the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from gui.common.workers import run_with_progress
from storage.core.errors import KnownError
from storage.formats.sql.ddl import Plan
from storage.formats.sql.schema_plans import Recipe
from storage.formats.sql.schema_run import apply_plan

if TYPE_CHECKING:
    from gui.sql.schema_edit import SchemaEditPanel


class SchemaChange(QUndoCommand):
    def __init__(self, editor: SchemaEditPanel, plan: Plan, recipe: Recipe, db_schema: str | None) -> None:
        super().__init__(plan.title)
        self.editor, self.recipe, self.db_schema = editor, recipe, db_schema
        self.undo_recipe = plan.undo
        self.table = plan.table
        self._ran = True  # the first redo() is the change the user already ran

    def _run(self, recipe: Recipe | None, label: str) -> Plan | None:
        editor = self.editor
        if recipe is None:
            editor.host.show_message(f"Cannot {label} {self.text()}: the database keeps no way back", "error")
            self.setObsolete(True)
            return None
        database = editor.schema_database()
        editor.quiet_readers()
        try:
            plan = run_with_progress(editor, "Changing the schema…", apply_plan, database, recipe,
                                     self.db_schema)
        except KnownError as exc:
            editor.schema_changed(self.table)
            editor.host.show_message(f"Could not {label} {self.text()}: {exc}", "error")
            self.setObsolete(True)
            return None
        editor.schema_changed(self.table)
        return plan

    def redo(self) -> None:
        if self._ran:
            self._ran = False
            return
        plan = self._run(self.recipe, "redo")
        if plan is not None:
            self.undo_recipe = plan.undo

    def undo(self) -> None:
        self._run(self.undo_recipe, "undo")
