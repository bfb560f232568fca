"""Background work that talks to the GUI only through signals (after superqt's workers).

A :class:`Worker` runs a function on the global thread pool and reports through a separate
``QObject`` of signals. The function it runs may take a ``cancel`` keyword: a callable that
returns True once :meth:`Worker.cancel` was called, so long loops can stop early; and a
``progress`` keyword, a callable taking a fraction between 0 and 1. Callers tag requests with a
generation number and drop answers that arrive for an older request.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal


class WorkerSignals(QObject):
    started = Signal()
    progressed = Signal(float)
    returned = Signal(object)
    errored = Signal(object)  # the exception; its __traceback_text__ holds the formatted trace
    finished = Signal()


class Worker:
    """Run ``fn(*args, **kwargs)`` on a pool thread and report through :attr:`signals`.

    The pool is given the bound :meth:`run`, not a ``QRunnable``: PySide keeps a runnable handed
    to ``QThreadPool.start`` alive for ever when the pool must not delete it, and with it whatever
    the worker held.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = WorkerSignals()
        self._cancelled = threading.Event()
        self.done = threading.Event()  # set when run() has finished, for the rare blocking wait
        params = inspect.signature(fn).parameters
        if "cancel" in params:
            self.kwargs["cancel"] = self._cancelled.is_set
        if "progress" in params:
            self.kwargs["progress"] = self.signals.progressed.emit

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def run(self) -> None:  # runs on a pool thread
        self._emit("started")
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # reported to the GUI thread, which decides what to show
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self._emit("errored", exc)
        else:
            self._emit("returned", result)
        finally:
            self.done.set()
            self._emit("finished")

    def _emit(self, name: str, *args: Any) -> None:
        # When the app quits while work is under way, the receiving side is gone: drop it.
        with contextlib.suppress(RuntimeError):
            getattr(self.signals, name).emit(*args)

    def start(self) -> Worker:
        QThreadPool.globalInstance().start(self.run)
        return self


_running: set[Worker] = set()


def run_in_worker(fn: Callable[..., Any], *args: Any,
                  on_result: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  on_progress: Callable[[float], None] | None = None,
                  **kwargs: Any) -> Worker:
    """Start ``fn`` in the pool and connect the callbacks; the worker is kept alive until done."""
    worker = Worker(fn, *args, **kwargs)
    if on_result is not None:
        worker.signals.returned.connect(on_result)
    if on_error is not None:
        worker.signals.errored.connect(on_error)
    if on_progress is not None:
        worker.signals.progressed.connect(on_progress)
    _running.add(worker)
    worker.signals.finished.connect(lambda: _release(worker))
    return worker.start()


def _release(worker: Worker) -> None:
    """The worker is done: drop it and everything it holds.

    A Qt connection keeps its Python callback alive out of the garbage collector's sight, and
    the callbacks capture their document (``lambda r: self._on_loaded(generation, r)``): a
    document keeping its last worker would keep itself, and its parsed values, for ever.
    Deleting the signals object drops the callbacks (after any still queued have run).
    """
    _running.discard(worker)
    worker.fn, worker.args, worker.kwargs = None, (), {}
    worker.signals.deleteLater()


def run_with_progress(parent, label: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a worker while a modal progress dialog keeps the window painting.

    For work the caller must wait for (saving before a close, say): the GUI thread spins an
    event loop instead of blocking, and input is held off by the dialog. Returns ``fn``'s
    result or raises its exception.
    """
    from PySide6.QtCore import QEventLoop, Qt
    from PySide6.QtWidgets import QProgressDialog

    dialog = QProgressDialog(label, "", 0, 0, parent)
    dialog.setCancelButton(None)  # an atomic write is all or nothing: no half-way stop
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)  # quick saves never flash a dialog
    loop = QEventLoop()
    outcome: dict[str, Any] = {}
    worker = Worker(fn, *args)
    worker.signals.returned.connect(lambda result: outcome.setdefault("result", result))
    worker.signals.errored.connect(lambda exc: outcome.setdefault("error", exc))
    worker.signals.finished.connect(loop.quit)
    _running.add(worker)
    worker.signals.finished.connect(lambda: _release(worker))
    worker.start()
    loop.exec()  # the signals are queued to this thread, so finished always reaches the loop
    dialog.reset()
    dialog.deleteLater()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")
