"""A toy format, registered by tests only: what adding a format to Datashelf takes.

A ``.toy`` file is text whose first line is ``TOY 1``; every following line is one record.
Everything the app needs to know about it is this module plus the one :data:`TOY` entry:
a sniff test, an ``inspect`` summary, a loader, a File ▸ New template, MIME type, fuzz target
and seeds, and a small document class that the Files tab opens.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.common.document import Document
from storage.core.errors import ParseError
from storage.formats.registry import Format, NewFile, SniffTest
from storage.inspect.summaries import Collector
from storage.sniff.detect import Probe, SniffResult

MAGIC = b"TOY 1\n"
MODULE = __name__


def sniff_toy(probe: Probe) -> SniffResult | None:
    if not probe.head.startswith(MAGIC):
        return None
    return probe.result("toy", "starts with the toy magic line 'TOY 1'", MAGIC)


def read_toy(path: str) -> list[str]:
    """The records of a toy file (ParseError when the magic line is missing)."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data and not data.startswith(MAGIC):
        raise ParseError("a toy file starts with the line 'TOY 1'")
    return data[len(MAGIC):].decode("utf-8", "replace").splitlines()


def summarize_toy(result: SniffResult, c: Collector) -> None:
    c.summary["records"] = len(read_toy(result.path))


def empty_toy() -> bytes:
    return MAGIC


def toy_mime_xml() -> str:
    """The toy type's definition for the shared MIME database (installed by --install-desktop)."""
    return ('  <mime-type type="application/x-datashelf-toy">\n    <comment>Toy file</comment>\n'
            '    <glob pattern="*.toy"/>\n    <magic priority="50">\n'
            '      <match type="string" offset="0" value="TOY 1\\n"/>\n    </magic>\n  </mime-type>\n')


def t_toy(path: str) -> None:
    read_toy(path)


def toy_seeds(folder: Path) -> list:
    from tests.fuzz.seeds import Seed

    path = Path(folder) / "seed.toy"
    path.write_bytes(MAGIC + b"one\ntwo\n")
    return [Seed("toy", "toy", (os.fspath(path),))]


class ToyDocument(Document):
    """Shows a toy file's records, read on a worker."""

    def __init__(self, path: str | None, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(path, fmt, parent)
        self.label = QLabel(self)
        self.label.setObjectName("toyRecords")
        QVBoxLayout(self).addWidget(self.label)
        self.records: list[str] = []
        self.run_latest(read_toy, self.path, on_result=self._on_read, on_error=self._on_failed)

    def _on_read(self, _generation: int, records: list[str]) -> None:
        self.records = records
        self.label.setText("\n".join(records))
        self.mark_loaded()

    def _on_failed(self, _generation: int, exc: BaseException) -> None:
        self.label.setText(f"Could not read this toy file: {exc}")
        self.mark_loaded()


TOY = Format(
    "toy", "Toy file", "files", f"{MODULE}:ToyDocument", (".toy",),
    (SniffTest(f"{MODULE}:sniff_toy"),), summary=f"{MODULE}:summarize_toy", loader=f"{MODULE}:read_toy",
    new_file=NewFile("Toy file", ".toy", f"{MODULE}:empty_toy"), icon="text-x-generic",
    mime_types=("application/x-datashelf-toy",), mime_xml=f"{MODULE}:toy_mime_xml",
    fuzz_target=f"{MODULE}:t_toy",
    fuzz_seeds=f"{MODULE}:toy_seeds",
)
