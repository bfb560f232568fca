"""The Info view of a file: size, times, permissions, format and why, SHA-256 on request."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.common.formatting import human_size
from gui.common.workers import Worker, run_in_worker
from storage.core.disk_stamp import sha256_file
from storage.inspect.fileinfo import file_info


class InfoPage(QWidget):
    """Facts gathered in a worker; the checksum is computed only when asked, with progress."""

    FIELDS = (("kind", "Kind"), ("size", "Size"), ("allocated", "On disk"), ("modified", "Modified"),
              ("permissions", "Permissions"), ("link_target", "Link to"), ("format", "Detected format"),
              ("reason", "Why"), ("magic", "Matching bytes"))

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.facts: dict[str, Any] = {}
        self._worker: Worker | None = None
        self._hash: Worker | None = None
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for key, title in self.FIELDS:
            label = QLabel("…", self)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[key] = label
            form.addRow(title + ":", label)
        self.sha_label = QLabel("not computed", self)
        self.sha_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sha_button = QPushButton("Compute SHA-256", self)
        self.sha_button.clicked.connect(self.compute_sha256)
        self.sha_progress = QProgressBar(self)
        self.sha_progress.setRange(0, 1000)
        self.sha_progress.hide()
        sha_row = QHBoxLayout()
        sha_row.addWidget(self.sha_label, 1)
        sha_row.addWidget(self.sha_progress)
        sha_row.addWidget(self.sha_button)
        form.addRow("SHA-256:", sha_row)
        box = QVBoxLayout(self)
        box.setContentsMargins(12, 12, 12, 12)
        box.addLayout(form)
        box.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._worker = run_in_worker(file_info, self.path, on_result=self._on_facts,
                                     on_error=lambda exc: self.labels["kind"].setText(str(exc)))

    def _on_facts(self, facts: dict[str, Any]) -> None:
        self._worker = None
        self.facts = facts
        for key, _title in self.FIELDS:
            value = facts.get(key, "")
            if key in ("size", "allocated") and isinstance(value, int):
                value = f"{human_size(value)} ({value:,} bytes)"
                if key == "allocated" and facts.get("sparse"):
                    value += " — a sparse file"
            self.labels[key].setText(str(value) if value != "" else "—")

    @Slot()
    def compute_sha256(self) -> None:
        """Start hashing (or cancel a running hash) in a worker with progress."""
        if self._hash is not None:
            self._hash.cancel()
            return
        self.sha_button.setText("Cancel")
        self.sha_progress.setValue(0)
        self.sha_progress.show()
        self.sha_label.setText("computing…")
        self._hash = run_in_worker(
            sha256_file, self.path, on_result=self._on_hashed,
            on_error=lambda exc: self._on_hashed(None, str(exc)),
            on_progress=lambda f: self.sha_progress.setValue(int(f * 1000)))

    def _on_hashed(self, digest: str | None, error: str = "") -> None:
        self._hash = None
        self.sha_progress.hide()
        self.sha_button.setText("Compute SHA-256")
        self.sha_label.setText(digest or error or "cancelled")

    def close_page(self) -> None:
        for worker in (self._worker, self._hash):
            if worker is not None:
                worker.cancel()
