"""Columns sized to what they show, as DB Browser for SQLite does.

:class:`ColumnFitter` watches one table view: after each new query (a model reset) it sizes each
column on screen to its title and the first rows shown, capped so one long value cannot push the
others out of sight. A lazy model shows "…" until its rows arrive: a column is measured again
then, and after that left alone, so scrolling down never makes columns jump (a column scrolled
into view sideways is measured when it appears). A width the user dragged is remembered per
column name (and per context, e.g. the table shown) and wins over the fit.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

MAXIMUM = 300  # px: DB4S's cap for a fitted column
MINIMUM = 40
SAMPLE_ROWS = 40
PADDING = 6  # px beyond the delegate's own size hint: room before the grid line
SAMPLE_COLUMNS = 200  # beyond this, columns keep the header's default size


class ColumnFitter(QObject):
    """Fits ``view``'s columns to header + sampled cells; ``placeholder`` is a lazy model's
    text for a cell not read yet (such cells do not count as content).

    Only the columns on screen are measured (a lazy model reads only what is shown), each once
    per query; columns scrolled into view later are measured then.
    """

    def __init__(self, view: QTableView, *, maximum: int = MAXIMUM, placeholder: str = "…",
                 context: Callable[[], str] | None = None) -> None:
        super().__init__(view)
        self.view = view
        self.maximum = maximum
        self.placeholder = placeholder
        self.context = context or (lambda: "")
        self.user_widths: dict[str, dict[str, int]] = {}  # context -> column name -> width
        self._fitting = False
        self._fitted: set[int] = set()  # columns measured with their content in this query
        self._complete = False  # the last fit found every column on screen measured
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        self.view.horizontalHeader().sectionResized.connect(self._on_resized)
        self.view.horizontalScrollBar().valueChanged.connect(self._on_content)
        self.view.viewport().installEventFilter(self)
        self._model = None
        self._watch(view.model())

    def _watch(self, model) -> None:
        if model is None or model is self._model:
            return
        self._model = model
        model.modelReset.connect(self._on_reset)
        model.layoutChanged.connect(self._on_reset)
        model.headerDataChanged.connect(self._on_reset)
        model.columnsInserted.connect(self._on_reset)
        model.dataChanged.connect(self._on_content)
        model.rowsInserted.connect(self._on_content)
        self._on_reset()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:  # wider: more columns on screen to measure
            self._on_content()
        return False

    def is_fitted(self) -> bool:
        """Whether every column on screen has been sized to its content."""
        return self._complete and not self._timer.isActive()

    @Slot()
    def _on_reset(self, *_args) -> None:
        self._fitted.clear()
        self._complete = False
        self._timer.start()

    @Slot()
    def _on_content(self, *_args) -> None:
        self._complete = False
        self._timer.start()

    @Slot(int, int, int)
    def _on_resized(self, section: int, _old: int, new: int) -> None:
        if self._fitting:
            return
        name = self._name(section)
        if name:
            self.user_widths.setdefault(self.context(), {})[name] = new

    def _name(self, section: int) -> str:
        model = self.view.model()
        if model is None:
            return ""
        value = model.headerData(section, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        return "" if value is None else str(value)

    @Slot()
    def fit(self) -> None:
        """Size the columns on screen not measured yet (widths the user set are kept)."""
        self._watch(self.view.model())
        model = self.view.model()
        if model is None:
            return
        header = self.view.horizontalHeader()
        first = max(self.view.rowAt(0), 0)
        rows = range(first, min(first + SAMPLE_ROWS, model.rowCount()))
        option = QStyleOptionViewItem()
        self.view.initViewItemOption(option)
        user = self.user_widths.get(self.context(), {})
        room = max(self.view.viewport().width(), 1)
        column, used, looked = max(header.logicalIndexAt(0), 0), 0, 0
        complete = True
        self._fitting = True
        try:
            while column < model.columnCount() and used < room and looked < SAMPLE_COLUMNS:
                looked += 1
                if column not in self._fitted:
                    name = self._name(column)
                    if name in user:
                        header.resizeSection(column, user[name])
                        self._fitted.add(column)
                    else:
                        width, content = self._measure(model, column, rows, header, option)
                        header.resizeSection(column, max(MINIMUM, min(width, self.maximum)))
                        if content:
                            self._fitted.add(column)
                        elif rows:
                            complete = False
                used += header.sectionSize(column)
                column += 1
        finally:
            self._fitting = False
        self._complete = complete

    def _measure(self, model, column: int, rows: range, header,
                 option: QStyleOptionViewItem) -> tuple[int, bool]:
        """The width the title and the sampled cells of ``column`` need (as the cell's delegate
        sizes it: fonts, margins, a delegate's own marks); whether any cell was read."""
        width = header.sectionSizeHint(column)
        content = False
        for row in rows:
            index = model.index(row, column)
            text = model.data(index, Qt.ItemDataRole.DisplayRole)
            if text is None or str(text) == self.placeholder:
                continue
            content = True
            delegate = self.view.itemDelegateForIndex(index)
            width = max(width, delegate.sizeHint(option, index).width() + PADDING)
        return width, content
