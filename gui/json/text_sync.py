"""The JSON document's text mode: filling the text view and following the selected node.

:class:`JsonTextSync` is a part of :class:`gui.json.document.JsonDocument` that owns the text
workers and the cached text of a big document. Documents of fewer than
:data:`TEXT_NODE_LIMIT` values get the editable text editor; bigger ones get the read-only paged
view, whose text a worker writes when the user first switches to text (opening never pays for
it) and again after edits. The selected node's span is found from its path
(``storage.formats.json.text_index.find_span``), in a worker for big documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Slot

from gui.common.workers import Worker, run_in_worker
from storage.formats.json.io import JsonFormat, dumps, dumps_jsonl
from storage.formats.json.search import count_nodes
from storage.formats.json.text_index import Span, TextImage, find_span, path_at, serialize_for_view

if TYPE_CHECKING:
    from gui.json.document import JsonDocument

TEXT_NODE_LIMIT = 300_000  # values above which the text is shown read-only, a page at a time


class JsonTextSync(QObject):
    """Keeps the document's text view in step with its values and its selected node.

    It reads the document's public API only (``doc``, ``format``, ``text_view``, ``mode()``,
    ``current_path()``, ``select_path()``) and owns the workers that write and search big text.
    """

    def __init__(self, document: JsonDocument) -> None:
        super().__init__(document)
        self.document = document
        self.view = document.text_view
        self._text_worker: Worker | None = None
        self._span_worker: Worker | None = None
        self._text_generation = 0
        self._span_generation = 0
        self._edit_count = 0  # bumped on every undo-stack change: the cached text is stale
        self._text_image: TextImage | None = None
        self._text_key: tuple[Any, ...] | None = None
        document.text_view.paged.offsetClicked.connect(self._on_text_clicked)

    def note_edit(self) -> None:
        """The values changed: a cached text of the whole document is stale."""
        self._edit_count += 1

    def text_for(self, value: Any, whole: bool = False) -> tuple[str, bool]:
        """(text, read_only): the JSON of ``value``, or a note when it is too big to show."""
        size = count_nodes(value, TEXT_NODE_LIMIT)
        if size >= TEXT_NODE_LIMIT:
            return (f"// Too large to show as text at once (more than {TEXT_NODE_LIMIT:,} values).\n"
                    "// Switch to the Text view to read the whole document, or select a smaller "
                    "node to see and edit its text.", True)
        if whole and self.document.format == "jsonl":
            return dumps_jsonl(value), False
        fmt = self.document.doc.fmt if self.document.doc is not None else JsonFormat()
        indent = fmt.indent if fmt.indent is not None else 2
        try:
            return dumps(value, JsonFormat(indent=indent, trailing_newline=False)), False
        except Exception as exc:  # NaN typed somewhere cannot be shown as JSON text
            return f"// {exc}", True

    def indent_unit(self) -> bytes:
        indent = self.document.doc.fmt.indent if self.document.doc is not None else 2
        if indent is None:
            return b"  "
        return b"\t" if indent == "\t" else b" " * int(indent)

    def fill(self) -> None:
        """Write the whole document into the text view (in a worker when it is big)."""
        doc = self.document.doc
        if doc is None:
            return
        if count_nodes(doc.root, TEXT_NODE_LIMIT) < TEXT_NODE_LIMIT:
            text, read_only = self.text_for(doc.root, whole=True)
            self.view.set_text(text, read_only, self.indent_unit(), doc.lines)
            self.show_current()
            return
        key = (id(doc), self._edit_count, doc.fmt.indent)
        if key == self._text_key and self._text_image is not None:
            if not self.view.is_paged() or self.view.paged.image is not self._text_image:
                self.view.set_image(self._text_image)
            self.show_current()
            return
        self.stop()
        generation = self._text_generation
        self.view.set_image(None, "Writing out the text of this big document…")
        self._text_worker = run_in_worker(
            serialize_for_view, doc.root, doc.fmt, doc.lines,
            on_result=lambda image: self._on_text_image(generation, key, image),
            on_error=lambda exc: self._on_text_image(generation, key, exc))

    def _on_text_image(self, generation: int, key: tuple[Any, ...], image: Any) -> None:
        if generation != self._text_generation:
            return
        self._text_worker = None
        if not isinstance(image, TextImage):
            self.view.set_image(None, f"Cannot show the text: {image}")
            return
        self._text_image, self._text_key = image, key
        if self.document.mode() == "text":
            self.view.set_image(image)
            self.show_current()

    def show_current(self) -> None:
        """Highlight the selected node's text and scroll to it."""
        if self.document.doc is None or self.document.mode() != "text":
            return
        path = self.document.current_path()
        image = self.view.image()
        if image is None:
            return  # the text is still being written; it shows the selection when it is done
        if not path:
            self.view.show_span(None)
            return
        if not self.view.is_paged():
            self.view.show_span(_safe_span(image, self.document.doc.root, path))
            return
        self._start_span_job(_safe_span, image, path,
                             lambda generation, span: self._on_span(generation, image, span))

    def _on_span(self, generation: int, image: TextImage, span: Span | None) -> None:
        if generation == self._span_generation and self.view.paged.image is image:
            self._span_worker = None
            self.view.show_span(span)

    @Slot(int)
    def _on_text_clicked(self, offset: int) -> None:
        """A click in the paged text selects the node there (found in a worker)."""
        image = self.view.paged.image
        if self.document.doc is None or image is None:
            return
        self._start_span_job(_safe_path, image, offset, self._on_clicked_path)

    def _start_span_job(self, find: Callable[..., Any], image: TextImage, where: Any,
                        answer: Callable[[int, Any], None]) -> None:
        """Run ``find(image, root, where)`` in a worker instead of the one running; ``answer`` gets
        the job's generation with the result, so a late answer for an older job is dropped."""
        if self._span_worker is not None:
            self._span_worker.cancel()
        self._span_generation += 1
        generation = self._span_generation
        self._span_worker = run_in_worker(find, image, self.document.doc.root, where,
                                          on_result=lambda found: answer(generation, found))

    def _on_clicked_path(self, generation: int, path: list[Any] | None) -> None:
        if generation == self._span_generation and path is not None:
            self._span_worker = None
            if path != self.document.current_path():
                self.document.select_path(path)  # the text view then highlights it

    def stop(self) -> None:
        self._text_generation += 1
        self._span_generation += 1
        for worker in (self._text_worker, self._span_worker):
            if worker is not None:
                worker.cancel()
        self._text_worker = self._span_worker = None


def _safe_span(image: TextImage, root: Any, path: list[Any], cancel=None) -> Span | None:
    """``find_span``, or None when the document changed under it (the answer is dropped)."""
    try:
        return find_span(image, root, path, cancel)
    except (RuntimeError, KeyError, IndexError, TypeError):
        return None


def _safe_path(image: TextImage, root: Any, offset: int, cancel=None) -> list[Any] | None:
    try:
        return path_at(image, root, offset, cancel)
    except (RuntimeError, KeyError, IndexError, TypeError, StopIteration):
        return None
