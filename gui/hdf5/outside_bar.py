"""The HDF5 tab's strip for data kept outside the file's folder: it names the other file and
asks before anything there is read (see :mod:`storage.formats.hdf5.outside`)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from storage.formats.hdf5.node import H5Node


class OutsideBar(QFrame):
    """Shown while the selected node reads another file outside the folder, until allowed."""

    allowed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("h5Outside")
        self.setStyleSheet("#h5Outside { background: #fef0c7; border: 1px solid #b26b00; }")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.allow_button = QPushButton("Read Outside the Folder", self)
        self.allow_button.setToolTip("Read data of this file that other files outside its folder hold "
                                     "(read-only; nothing is ever written there)")
        self.allow_button.clicked.connect(self.allowed)
        box = QHBoxLayout(self)
        box.setContentsMargins(8, 4, 6, 4)
        box.addWidget(self.label, 1)
        box.addWidget(self.allow_button)
        self.hide()

    def show_for(self, node: H5Node | None, allowed: bool) -> None:
        """Name the other files of ``node`` that are outside the folder; hide when none are."""
        refs = [ref for ref in (node.outside if node is not None else ()) if ref.outside]
        if not refs or allowed:
            self.hide()
            return
        names = "\n".join(f"{ref.kind}: {ref.target}" for ref in refs[:5])
        more = f"\n… and {len(refs) - 5} more" if len(refs) > 5 else ""
        self.label.setText(f"{node.path} reads data outside this file's folder, which is not read "
                           f"without your permission:\n{names}{more}")
        self.show()
