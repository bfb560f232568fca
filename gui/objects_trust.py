"""Trust and load, the one way a pickle's code is run: after a confirmation naming the
dangerous globals, the file is loaded by Python's own unpickler in a separate process
(``storage.trusted_load``) and its objects are shown read-only, as their repr.

A mixin of :class:`gui.objects_document.ObjectsDocument`; it uses the document's result,
views and generation counter.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMessageBox

from storage.errors import KnownError
from storage.object_doc import ObjectDoc


class TrustMixin:
    """Trust and load, and back to the safe view."""

    trust_box: QMessageBox | None = None  # the confirmation while it is open

    @Slot()
    def trust_and_load(self) -> None:
        result = self.result
        if result is None:
            return
        if self.trusted:  # the button now goes back to the safe view
            self.reload()
            return
        names = ", ".join(g.qualname for g in result.dangerous) or "none found"
        suspicious = ", ".join(g.qualname for g in result.globals.values() if g.severity == "suspicious")
        box = QMessageBox(QMessageBox.Icon.Warning, "Trust and load",
                          f"Loading {self.title()} the usual way runs the code it names.\n\n"
                          f"Dangerous: {names}\nUnknown types: {suspicious or 'none'}\n\n"
                          "Datashelf will load it in a separate process and show what it builds. "
                          "Only do this for a file you trust.", parent=self)
        load = box.addButton("Trust and load", QMessageBox.ButtonRole.AcceptRole)
        load.setAutoDefault(False)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)  # Enter cancels: running the file's code takes a click
        box.setEscapeButton(cancel)
        self.trust_box = box  # for tests: the dialog while it is open
        box.exec()
        self.trust_box = None
        if box.clickedButton() is not load:
            return
        self.load_trusted()

    def load_trusted(self) -> None:
        from storage.trusted_load import trusted_load

        key = self.shelf_panel.current_key() if self.shelf_panel is not None else None
        self.loading_label.setText(f"Loading {self.title()} in a separate process…")
        self.stack.setCurrentIndex(0)
        kwargs: dict[str, Any] = {}
        if key is not None:
            kwargs["key"] = key.encode("utf-8", "surrogateescape")
        self.run_latest(partial(trusted_load, **kwargs), self.path, self.format,
                        on_result=self._on_trusted, on_error=self._on_trusted_failed)

    def _on_trusted(self, generation: int, loaded: Any) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.trusted = True
        doc = ObjectDoc(loaded.value, None, label=self.title())
        doc.read_only = True
        self.view.show_model(self.view.new_model(doc))
        self.safety.trust_button.setText("Back to the safe view")
        if self.result is not None:
            self.safety.show_trusted(self.result)
        self._show_facts()
        self.stack.setCurrentIndex(2)

    def _on_trusted_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.stack.setCurrentIndex(2)
        QMessageBox.warning(self, "Trust and load", str(exc) if isinstance(exc, KnownError) else repr(exc))

