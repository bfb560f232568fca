"""The base of the four tabs: an empty state, or a row of open documents with their own tabs."""

from __future__ import annotations

import sys

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from gui.common.document import Document
from gui.common.empty_state import EmptyState
from storage.core.gc_pause import thaw
from storage.formats import registry as format_registry

# A format that names no document class of its own opens in the overview (a value tree of what
# ``inspect`` says), named like the registry's documents: imported on first use.
FALLBACK_DOCUMENT = "gui.values.overview:OverviewDocument"


class TabPage(QWidget):
    """One main tab. Subclasses set the class attributes; the formats it opens, and the document
    class of each, come from :mod:`storage.formats.registry` (entries whose ``tab`` is ``tab_id``)."""

    tab_id = ""
    title = ""
    heading = ""
    blurb = ""
    filter_label = ""  # the Open dialog's name for this tab's files; the globs come from the registry
    icon_name = ""

    openRequested = Signal()
    recentRequested = Signal(str)
    closeRequested = Signal(object)  # the Document the user asked to close
    currentDocumentChanged = Signal(object)  # Document or None
    documentsChanged = Signal()

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"tab-{self.tab_id}")
        self.empty = EmptyState(icon, self.heading, self.blurb, self)
        self.empty.openClicked.connect(self.openRequested)
        self.empty.recentClicked.connect(self.recentRequested)
        self.documents = QTabWidget(self)
        self.documents.setDocumentMode(True)
        self.documents.setTabsClosable(True)
        self.documents.setMovable(True)
        self.documents.tabCloseRequested.connect(
            lambda i: self.closeRequested.emit(self.documents.widget(i)))
        self.documents.currentChanged.connect(self._on_current_changed)
        self.documents.tabBar().tabMoved.connect(lambda *_: self.documentsChanged.emit())
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.documents)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.stack)
        self.opening: QWidget | None = None  # the first lines of a file whose document is being made

    @property
    def name_filter(self) -> str:
        """The Open dialog's filter for this tab: its formats' globs, then all files."""
        entries = [format_registry.get(name) for name in self.formats]
        patterns = [p for entry in entries if entry is not None for p in format_registry.open_patterns(entry)]
        if not patterns:
            return "All files (*)"
        return f"{self.filter_label} ({' '.join(dict.fromkeys(patterns))});;All files (*)"

    @property
    def formats(self) -> tuple[str, ...]:
        """The names of the registered formats this tab opens."""
        return format_registry.for_tab(self.tab_id)

    def create_document(self, path: str, fmt: str) -> Document:
        """Make the document the registry names for ``fmt`` (imported now, on first use)."""
        entry = format_registry.get(fmt)
        if entry is not None and entry.document:
            return format_registry.resolve(entry.document)(path, fmt, self)
        return self.fallback_document(path, fmt)

    def fallback_document(self, path: str, fmt: str) -> Document:
        """The viewer of a format that names no document class of its own."""
        return format_registry.resolve(FALLBACK_DOCUMENT)(path, fmt, self)

    def document_imported(self, fmt: str) -> bool:
        """Whether the module of ``fmt``'s document class is imported already (making the
        document is then quick; the first one of a launch imports its tab's machinery)."""
        entry = format_registry.get(fmt)
        hook = entry.document if entry is not None and entry.document else FALLBACK_DOCUMENT
        return hook.partition(":")[0] in sys.modules

    # -- a file being opened -------------------------------------------------------------------
    def show_opening(self, title: str, text: str) -> None:
        """Show the first lines of a file while its document is made (its tab's modules may
        take a moment to import); :meth:`add_document` or :meth:`end_opening` takes them away."""
        from gui.common.loading_page import LoadingPage

        self.end_opening()
        self.opening = LoadingPage(f"Opening {title}…", cancellable=False, parent=self)
        self.opening.setObjectName("openingPage")
        self.opening.show_preview(text)
        self.stack.addWidget(self.opening)
        self.stack.setCurrentWidget(self.opening)

    def end_opening(self) -> None:
        page, self.opening = self.opening, None
        if page is None:
            return
        if self.stack.currentWidget() is page:
            self.stack.setCurrentWidget(self.documents if self.documents.count() else self.empty)
        self.stack.removeWidget(page)
        page.deleteLater()

    # -- documents ---------------------------------------------------------------------------
    def add_document(self, document: Document) -> None:
        index = self.documents.addTab(document, document.title())
        self.documents.setTabToolTip(index, document.path or document.title())
        document.modifiedChanged.connect(lambda _m, d=document: self._refresh_title(d))
        self.documents.setCurrentIndex(index)
        self.stack.setCurrentWidget(self.documents)
        self.end_opening()
        self.documentsChanged.emit()

    def remove_document(self, document: Document) -> None:
        index = self.documents.indexOf(document)
        if index < 0:
            return
        document.close_document()
        self.documents.removeTab(index)
        document.deleteLater()
        thaw()  # a big load froze it with everything else: let the collector have it
        if self.documents.count() == 0:
            self.stack.setCurrentWidget(self.empty)
        self.documentsChanged.emit()

    def all_documents(self) -> list[Document]:
        return [self.documents.widget(i) for i in range(self.documents.count())]

    def current_document(self) -> Document | None:
        widget = self.documents.currentWidget()
        return widget if isinstance(widget, Document) else None

    def set_current_document(self, document: Document) -> None:
        self.documents.setCurrentWidget(document)

    def find_document(self, path: str) -> Document | None:
        return next((d for d in self.all_documents() if d.path == path), None)

    def _refresh_title(self, document: Document) -> None:
        index = self.documents.indexOf(document)
        if index >= 0:
            marker = "● " if document.is_modified() else ""
            self.documents.setTabText(index, marker + document.title())

    @Slot(int)
    def _on_current_changed(self, _index: int) -> None:
        self.currentDocumentChanged.emit(self.current_document())
