"""Background tasks of the SQLite tab, and signal emission that survives a PySide6 refcount bug.

PySide6 6.12.0 on CPython 3.11 returns ``None`` from void methods and ``True`` from
``SignalInstance.emit()`` without taking a reference (harmless on 3.12+, where both are
immortal): every such call from Python steals one reference, and after a few thousand (one per
fetched page when scrolling a big table) CPython aborts with "deallocating None". :func:`emit`
and :func:`give_back` return the reference when a probe at import shows the bug; :class:`Task`
(a small ``QRunnable`` on the global pool, like :mod:`gui.workers`) goes through them.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Probe(QObject):
    fired = Signal()


def _emit_leaks() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(4):
        result = probe.fired.emit()
    leaks = sys.getrefcount(True) < before
    if leaks and result is True:
        for _ in range(4):  # give back what the probe took
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return leaks


def _void_leaks() -> bool:
    probe = _Probe()
    before = sys.getrefcount(None)
    for _ in range(4):
        probe.setObjectName("probe")
    leaks = sys.getrefcount(None) < before
    if leaks:
        for _ in range(4):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return leaks


_LEAKS = _emit_leaks()
_VOID_LEAKS = _void_leaks()


def give_back(result: Any) -> Any:
    """Call as ``give_back(qt_object.void_method(...))`` in hot paths: returns the stolen None."""
    if _VOID_LEAKS and result is None:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return result


def emit(signal: Any, *args: Any) -> None:
    """``signal.emit(*args)``, returning the reference a buggy PySide6 takes from the result."""
    result = signal.emit(*args)
    if _LEAKS and (result is True or result is False):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))


class TaskSignals(QObject):
    returned = Signal(object)
    errored = Signal(object)
    progressed = Signal(float)


_running: set[Task] = set()


class Task(QRunnable):
    """Run ``fn(*args)`` on the global pool; ``fn`` may take ``cancel`` (a callable)."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = TaskSignals()
        self._cancelled = threading.Event()
        import inspect

        params = inspect.signature(fn).parameters
        if "cancel" in params:
            self.kwargs["cancel"] = self._cancelled.is_set
        if "progress" in params:
            self.kwargs["progress"] = lambda fraction: self._send("progressed", float(fraction))

    def cancel(self) -> None:
        self._cancelled.set()

    def run(self) -> None:  # on a pool thread
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # reported to the GUI thread, which decides what to show
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self._send("errored", exc)
        else:
            self._send("returned", result)

    def _send(self, name: str, value: Any) -> None:
        try:
            emit(getattr(self.signals, name), value)
        except RuntimeError:  # the receiver is gone (the app is closing)
            pass


def run_task(fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None,
             on_progress: Callable[[float], None] | None = None, **kwargs: Any) -> Task:
    task = Task(fn, *args, **kwargs)
    if on_progress is not None:
        task.signals.progressed.connect(on_progress)
    if on_result is not None:
        task.signals.returned.connect(on_result)
    if on_error is not None:
        task.signals.errored.connect(on_error)
    _running.add(task)
    task.signals.returned.connect(lambda _r: _running.discard(task))
    task.signals.errored.connect(lambda _e: _running.discard(task))
    give_back(QThreadPool.globalInstance().start(task))
    return task
