"""Safe loading of joblib pickles straight from a stream, so big arrays are read once, not twice.

joblib writes each array's raw bytes into the stream right after its wrapper record; the Python
unpickler (``pickle_unpicklers.SlowUnpickler``) reads them with exact reads from the stream. Used by
``pickle_safe.load_safe``/``load_all`` when ``joblib=True`` and the data is a file object rather
than bytes (a decompressing reader works too: only read and readline are used).
"""

from __future__ import annotations

import io
import itertools
import os
from typing import Any, BinaryIO

from storage.core.errors import Location
from storage.formats.objects.pickle.allow import CopyBudget, LimitError
from storage.formats.objects.pickle.guards import Limits, run_on_stack
from storage.formats.objects.pickle.nodes import BufferNode
from storage.formats.objects.pickle.unpicklers import LoadState, SlowUnpickler

_BLANK = b" \t\r\n"


class Tracked:
    """read/readline over a stream with the absolute position; peeked bytes are pushed back."""

    def __init__(self, raw: BinaryIO, pos: int) -> None:
        self.raw, self.pos, self.pushed = raw, pos, b""

    def read(self, n: int = -1) -> bytes:
        head, self.pushed = (self.pushed, b"") if n < 0 or n >= len(self.pushed) else (
            self.pushed[:n], self.pushed[n:])
        if n < 0:
            data = head + self.raw.read()
        elif len(head) < n:
            data = head + (self.raw.read(n - len(head)) or b"")
        else:
            data = head
        self.pos += len(data)
        return data

    def readline(self, limit: int = 64 * 1024**2) -> bytes:
        if b"\n" in self.pushed:
            return self.read(self.pushed.index(b"\n") + 1)
        head, self.pushed = self.pushed, b""
        line = head + self.raw.readline(max(0, limit - len(head)))
        self.pos += len(line)
        return line

    def next_content(self) -> bool:
        """Skip blanks; True if more bytes follow (they stay unread)."""
        while True:
            chunk = self.read(4096)
            if not chunk:
                return False
            stripped = chunk.lstrip(_BLANK)
            if stripped:
                self.pushed = stripped + self.pushed
                self.pos -= len(stripped)
                return True


def _size(raw: BinaryIO, start: int) -> int | None:
    """Bytes left in a real file (a compressed stream's size is not known without reading it)."""
    if isinstance(raw, io.BytesIO):
        return len(raw.getbuffer()) - start
    try:
        return os.fstat(raw.fileno()).st_size - start
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def load_stream(raw: BinaryIO, limits: Limits, max_pickles: int) -> tuple[list[Any], Any]:
    """Every joblib pickle of ``raw`` from its position: (SafeLoads, error that ended the walk).

    The first pickle failing raises ``PickleLoadError``.
    """
    from storage.formats.objects.pickle.safe import PickleLoadError, SafeLoad, _add_findings, _uses

    try:
        start = raw.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        start = 0
    size = _size(raw, start)
    stack = limits.max_stack if size is None else min(
        max(size * limits.stack_per_byte, limits.min_stack), limits.max_stack)
    tracked = Tracked(raw, start)
    loads: list[SafeLoad] = []
    while len(loads) < max_pickles and tracked.next_content():
        begin = tracked.pos
        remaining = None if size is None else start + size - begin
        budget = CopyBudget(limits.copy_budget + limits.copy_per_byte * (remaining or limits.max_bytes))
        state = LoadState(True, limits.max_globals, limits.max_array_bytes, remaining, budget=budget)
        unpickler = SlowUnpickler(tracked, state, map(BufferNode, itertools.count()), joblib=True)
        try:
            value = run_on_stack(unpickler.load, stack)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # every failure of hostile input is reported
            text = str(exc) or type(exc).__name__
            limit = isinstance(exc, LimitError)
            prefix = "The pickle was not loaded" if limit else "This is not a valid pickle"
            error = PickleLoadError(f"{prefix}: {text[:200]}.", Location(offset=tracked.pos), _uses(state))
            if not loads:
                raise error from None
            return loads, error
        end = tracked.pos
        trailing = tracked.next_content()
        result = SafeLoad(value, None, _uses(state), begin, end, trailing, extensions=state.extensions,
                          persistent_ids=state.persistent_ids, companions=state.companions,
                          arrays=state.arrays, aligned_arrays=state.aligned_arrays,
                          subclasses=state.subclasses, engine="python")
        result.protocol = unpickler.proto if getattr(unpickler, "proto", 0) >= 2 else None
        _add_findings(result, state)
        loads.append(result)
        if not trailing:
            break
    return loads, None
