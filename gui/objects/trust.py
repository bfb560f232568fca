"""Trust and load, the one way a pickle's code is run: after a confirmation naming the
dangerous globals, the file is loaded by Python's own unpickler in a separate process
(``storage.formats.objects.trusted.load``) and its objects are shown read-only, as their repr.

:class:`TrustedLoader` is a part of :class:`gui.objects.document.ObjectsDocument`: it asks, runs
the load as the document's newest load (``run_latest``) and hands the objects back through
``show_trusted``.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox

from storage.core.errors import KnownError

if TYPE_CHECKING:
    from gui.objects.document import ObjectsDocument


class TrustedLoader(QObject):
    """Trust and load, and back to the safe view."""

    def __init__(self, document: ObjectsDocument) -> None:
        super().__init__(document)
        self.document = document
        self.trust_box: QMessageBox | None = None  # the confirmation while it is open (for tests)

    @Slot()
    def trust_and_load(self) -> None:
        document = self.document
        result = document.result
        if result is None:
            return
        if document.trusted:  # the button now goes back to the safe view
            document.reload()
            return
        names = ", ".join(g.qualname for g in result.dangerous) or "none found"
        suspicious = ", ".join(g.qualname for g in result.globals.values() if g.severity == "suspicious")
        box = QMessageBox(QMessageBox.Icon.Warning, "Trust and load",
                          f"Loading {document.title()} the usual way runs the code it names.\n\n"
                          f"Dangerous: {names}\nUnknown types: {suspicious or 'none'}\n\n"
                          "Datashelf will load it in a separate process and show what it builds. "
                          "Only do this for a file you trust.", parent=document)
        load = box.addButton("Trust and load", QMessageBox.ButtonRole.AcceptRole)
        load.setAutoDefault(False)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)  # Enter cancels: running the file's code takes a click
        box.setEscapeButton(cancel)
        self.trust_box = box
        box.exec()
        self.trust_box = None
        if box.clickedButton() is not load:
            return
        self.load_trusted()

    def load_trusted(self) -> None:
        from storage.formats.objects.trusted.load import trusted_load

        document = self.document
        key = document.shelf_panel.current_key() if document.shelf_panel is not None else None
        document.show_loading(f"Loading {document.title()} in a separate process…")
        kwargs: dict[str, Any] = {}
        if key is not None:
            kwargs["key"] = key.encode("utf-8", "surrogateescape")
        document.run_latest(partial(trusted_load, **kwargs), document.path, document.format,
                            on_result=self._on_trusted, on_error=self._on_trusted_failed)

    def _on_trusted(self, generation: int, loaded: Any) -> None:
        if self.document.is_latest(generation):
            self.document.show_trusted(loaded.value)

    def _on_trusted_failed(self, generation: int, exc: BaseException) -> None:
        if not self.document.is_latest(generation):
            return
        self.document.show_content()
        QMessageBox.warning(self.document, "Trust and load",
                            str(exc) if isinstance(exc, KnownError) else repr(exc))
