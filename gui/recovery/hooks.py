"""What every document's crash-recovery code shares: the restore step and the journal job.

Each document packs and restores its own edits next to its own code (``gui.files.journal`` for
the Files tab, ``gui.json.document``, ``gui.objects.document``) with the helpers here; the
journal manager runs :func:`snapshot_job` for each modified document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PySide6.QtGui import QUndoCommand

from storage.core.errors import UnsupportedError
from storage.recovery.payload import unpack

RESTORE_LABEL = "Restore unsaved edits"


@runtime_checkable
class JournalJob(Protocol):
    """A document that can snapshot its unsaved edits now and pack them on a worker."""

    def journal_job(self) -> Callable[[], bytes] | None: ...


class SwapContentCommand(QUndoCommand):
    """Replace a document's whole content (redo) and put the old one back (undo)."""

    def __init__(self, apply_new: Callable[[], None], apply_old: Callable[[], None]) -> None:
        super().__init__(RESTORE_LABEL)
        self._new, self._old = apply_new, apply_old

    def redo(self) -> None:
        self._new()

    def undo(self) -> None:
        self._old()


def expect_payload(payload: bytes, *kinds: str) -> tuple[str, dict, bytes]:
    """Unpack a journal payload that must hold one of ``kinds`` (UnsupportedError if not)."""
    kind, header, body = unpack(payload)
    if kind not in kinds:
        raise UnsupportedError(f"The recovery data holds {kind} edits, not {' or '.join(kinds)}.")
    return kind, header, body


SERIALISE_HERE = 4 * 1024 * 1024  # trees of files up to this size are serialised on the GUI thread


def snapshot_job(document) -> tuple[Callable[[], bytes | None] | None, bool]:
    """What the journal manager runs on its worker, and whether it may race an edit.

    A document's ``journal_job`` is a snapshot safe to pack off the GUI thread. Otherwise a
    small document's payload is taken now; a big tree is serialised on the worker (seconds of
    GUI freeze otherwise), and the manager throws the result away if an edit landed meanwhile
    (an edit during the walk can also raise RuntimeError: the same answer).
    """
    if isinstance(document, JournalJob):
        return document.journal_job(), False
    if (document.file_size() or 0) > SERIALISE_HERE:
        return document.journal_payload, True
    payload = document.journal_payload()
    return ((lambda: payload) if payload is not None else None), False
