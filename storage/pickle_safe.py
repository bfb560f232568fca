"""Load a pickle as a neutral tree of values and nodes without running anything it names.

The C unpickler does the work (near ``pickle.loads`` speed) with a ``find_class`` that never
imports (``pickle_unpicklers``). The fast pass hands it the real harmless C types of the allowlist;
if that pass fails (a datetime with a foreign tzinfo, BUILD aimed at a class...), a careful pass
wraps every allowlisted global in a node that checks its arguments. The pure-Python unpickler is
used when the C one would be unsafe or cannot represent the file: a memo-index bomb (the C memo is
an array sized by the largest index), extension codes, joblib array data. The load runs on a thread
whose stack is sized from the input, because hashing a deeply nested tuple recurses in C.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .errors import Location, ParseError
from .pickle_danger import classify
from .pickle_nodes import BufferNode, GlobalNode
from .pickle_scan import scan_bytes
from .pickle_unpicklers import FastUnpickler, LimitError, LoadState, SlowUnpickler

try:
    import resource
except ImportError:  # Windows: no address-space cap; doubtful inputs use the Python unpickler
    resource = None  # type: ignore[assignment]

_STACK_LOCK = threading.Lock()
_NON_SPACE = re.compile(rb"[^ \t\r\n]")
_CHUNK = 1024 * 1024
_PROTOCOL_SCAN = 16 * 1024**2  # protocol 0 and 1 pickles this big are walked to tell them apart
_SMALL = 16 * 1024  # inputs this small load on the caller's thread (any stack holds their nesting)


@dataclass(frozen=True)
class Limits:
    """Bounds that make hostile input fail cleanly."""

    max_bytes: int = 4 * 1024**3  # whole input
    max_globals: int = 100_000  # distinct globals in one pickle
    max_array_bytes: int = 8 * 1024**3  # one joblib array
    stack_per_byte: int = 128  # thread stack per input byte (hashing a nested tuple recurses in C)
    min_stack: int = 32 * 1024**2
    max_stack: int = 8 * 1024**3  # address space only: a thread's stack pages are used on demand
    memo_budget: int = 512 * 1024**2  # extra address space for a C load the memo-bomb check doubts


DEFAULT_LIMITS = Limits()


@dataclass
class GlobalUse:
    """A global the pickle references: how often, and how risky (``pickle_danger.classify``)."""

    module: str
    name: str
    count: int
    severity: str
    why: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class SafeLoad:
    """One safely loaded pickle: its value tree and what the file would do if really loaded."""

    value: Any
    protocol: int | None
    globals: list[GlobalUse]
    start: int = 0
    end: int = 0  # offset just after this pickle's STOP
    trailing: bool = False  # non-blank bytes follow this pickle
    findings: list[tuple[str, str]] = field(default_factory=list)  # (severity, message)
    extensions: list[int] = field(default_factory=list)
    persistent_ids: int = 0
    companions: list[str] = field(default_factory=list)  # old joblib .npy files this pickle needs
    arrays: int = 0
    engine: str = "c"

    @property
    def dangerous(self) -> bool:
        return any(g.severity == "dangerous" for g in self.globals) or any(
            s == "dangerous" for s, _ in self.findings)


class PickleLoadError(ParseError):
    """A ParseError that also lists the globals seen before the stream broke."""

    def __init__(self, message: str, location: Location | None = None,
                 globals_seen: list[GlobalUse] | None = None) -> None:
        super().__init__(message, location)
        self.globals = globals_seen or []

    @property
    def dangerous(self) -> bool:
        return any(g.severity == "dangerous" for g in self.globals)


class _Exact:
    """Only read/readinto/readline, so the C unpickler never reads ahead of what it parses."""

    def __init__(self, raw: BinaryIO) -> None:
        self.read, self.readline = raw.read, raw.readline
        self.readinto = getattr(raw, "readinto", None)
        self.tell = raw.tell


@functools.lru_cache(maxsize=16)
def _put_pattern(digits: int) -> re.Pattern[bytes]:
    # PUT's argument goes through int(): blanks, a plus sign and underscores are accepted too
    return re.compile(rb"p[ \t\f\v\r]*\+?([\d_]{%d,})" % digits)


def _memo_bomb(data: bytes | memoryview, start: int) -> bool:
    """True when a PUT might index past anything the input can hold (cheap, at C speed).

    Bytes inside strings look the same as opcodes, so most large pickles have such a candidate;
    the scan stops at the first one, which keeps it far below the load's own time.
    """
    size = len(data) - start
    if size < 6:
        return False
    import numpy as np

    raw = np.frombuffer(data, np.uint8)
    for lo in range(start, len(data) - 4, _CHUNK):
        chunk = raw[lo:min(lo + _CHUNK + 4, len(data))]
        at = np.flatnonzero(chunk[:-4] == 0x72) + 1  # LONG_BINPUT 'r' + uint32 index
        if at.size:
            index = (chunk[at].astype(np.uint64) | chunk[at + 1].astype(np.uint64) << 8
                     | chunk[at + 2].astype(np.uint64) << 16 | chunk[at + 3].astype(np.uint64) << 24)
            if int(index.max()) > size:
                return True
    pattern = _put_pattern(len(str(size)))
    return any(_int(m.group(1)) > size for m in pattern.finditer(data, start))


def _int(digits: bytes) -> int:
    try:
        return int(digits.replace(b"_", b"") or b"0")
    except ValueError:
        return 0


@contextlib.contextmanager
def _address_space_cap(budget: int) -> Iterator[None]:
    """Cap the process's address space at its current size + ``budget`` while the C unpickler runs.

    A LONG_BINPUT index makes the C memo grow to twice that index: the cap turns such a bomb into a
    quick MemoryError. Only used when the pre-check saw a possible bomb (bytes inside strings look
    the same), and only where ``resource`` exists; elsewhere the Python unpickler takes over.
    """
    with open("/proc/self/statm", "rb") as handle:
        current = int(handle.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = current + budget
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _can_cap() -> bool:
    return resource is not None and os.path.exists("/proc/self/statm")


_NESTING_OPS = b"\x85\x86\x87tR\x81\x92oi\x91"  # opcodes that can wrap a tuple in a tuple or frozenset


def _nesting_bound(data: bytes | memoryview, start: int) -> int:
    """At most this many tuples can nest: each level needs one of ``_NESTING_OPS``."""
    import numpy as np

    counts = np.bincount(np.frombuffer(data, np.uint8)[start:], minlength=256)
    return int(sum(counts[b] for b in _NESTING_OPS))


def _stack_for(data: bytes | memoryview, start: int, limits: Limits) -> int:
    """Thread stack for loading ``data``: hashing a tuple nested N deep recurses N times in C."""
    size = len(data) - start
    if size * limits.stack_per_byte + limits.min_stack <= limits.max_stack:
        return max(size * limits.stack_per_byte, limits.min_stack)
    levels = _nesting_bound(data, start)
    need = levels * limits.stack_per_byte + limits.min_stack
    if need > limits.max_stack:
        raise LimitError(f"the pickle may nest up to {levels:,} levels deep, more than the loader's "
                         f"{limits.max_stack // 2**20:,} MB stack can hold")
    return need


def _run(func: Callable[[], Any], data: bytes | memoryview, start: int, limits: Limits) -> Any:
    """Call ``func`` on a thread with a stack sized for the input; re-raise its error."""
    if len(data) - start <= _SMALL:
        return func()
    stack = _stack_for(data, start, limits)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:
            box["error"] = exc

    with _STACK_LOCK:
        old = threading.stack_size(stack)
        try:
            thread = threading.Thread(target=target, name="datashelf-pickle-load", daemon=True)
            thread.start()
        except RuntimeError:
            raise LimitError(f"a {stack // 2**20:,} MB stack for loading this pickle could not be "
                             "reserved") from None
        finally:
            threading.stack_size(old)
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _uses(state: LoadState) -> list[GlobalUse]:
    return [GlobalUse(m, n, count, *classify(m, n)) for (m, n), count in state.uses.items()]


def _protocol(data: bytes | memoryview, start: int, end: int) -> int | None:
    """The PROTO opcode's number; without one, 0 or 1 from the opcodes used (None if too big to tell)."""
    if len(data) > start + 1 and data[start] == 0x80:
        return data[start + 1]
    if end - start > _PROTOCOL_SCAN:
        return None
    return min(scan_bytes(bytes(data[start:end])).highest_opcode_protocol, 1)


_BYTEARRAY_BUG = "deallocated bytearray object has exported buffers"


@contextlib.contextmanager
def _quiet_bytearray_bug() -> Iterator[None]:
    """Hide one CPython 3.11 message: when BYTEARRAY8 asks for more memory than malloc gives, the
    half-built bytearray is freed with an uninitialised export count and ``PyErr_Print`` reports it
    through ``sys.excepthook``. The load itself then fails with a MemoryError, which we report."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if kind is SystemError and str(value) == _BYTEARRAY_BUG:
            return
        previous(kind, value, tb)

    sys.excepthook = hook
    try:
        yield
    finally:
        if sys.excepthook is hook:
            sys.excepthook = previous


def _attempt(stream: io.BytesIO, state: LoadState, slow: bool, joblib: bool) -> Any:
    buffers = map(BufferNode, itertools.count())
    if slow:
        return SlowUnpickler(stream, state, buffers, joblib=joblib).load()
    with _quiet_bytearray_bug():
        return FastUnpickler(_Exact(stream), state, buffers).load()  # type: ignore[arg-type]


def _error(exc: BaseException, data: bytes | memoryview, start: int, offset: int, state: LoadState | None,
           joblib: bool = False) -> PickleLoadError:
    """A user-readable error: the scanner pins down where a damaged stream breaks."""
    seen = _uses(state) if state else []
    if isinstance(exc, LimitError):
        return PickleLoadError(f"The pickle was not loaded: {exc}.", Location(offset=offset), seen)
    report = scan_bytes(bytes(data[start:start + 64 * 1024**2]), joblib=joblib)
    if report.error is not None:
        at = start + (report.error_offset or 0)
        return PickleLoadError(f"This is not a valid pickle: {report.error}.", Location(offset=at), seen)
    if isinstance(exc, MemoryError):
        return PickleLoadError("The pickle is too big to load: memory ran out.",
                               Location(offset=offset), seen)
    text = str(exc) or type(exc).__name__
    if len(text) > 200:
        text = text[:200] + "…"
    return PickleLoadError(f"The pickle cannot be loaded safely: {text}", Location(offset=offset), seen)


def _load_at(data: bytes | memoryview, start: int, joblib: bool, limits: Limits) -> SafeLoad:
    import copyreg

    def one(careful: bool, slow: bool) -> tuple[Any, LoadState, int]:
        stream = io.BytesIO(data)
        stream.seek(start)
        state = LoadState(careful, limits.max_globals, limits.max_array_bytes, len(data) - start)
        try:
            if bomb and not slow:
                with _STACK_LOCK, _address_space_cap(limits.memo_budget + 64 * (len(data) - start)):
                    value = _attempt(stream, state, slow, joblib)
            else:
                value = _attempt(stream, state, slow, joblib)
        except BaseException as exc:
            exc.load_state, exc.load_offset = state, stream.tell()  # type: ignore[attr-defined]
            raise
        return value, state, stream.tell()

    bomb = not joblib and _memo_bomb(data, start)
    slow = (joblib or bool(copyreg._extension_registry) or bool(copyreg._extension_cache)  # type: ignore[attr-defined]
            or (bomb and not _can_cap()))
    plans = [(True, True)] if slow else [(False, False), (True, False)]
    error: BaseException | None = None
    loaded = None
    for careful, use_slow in plans:
        try:
            loaded = _run(lambda c=careful, s=use_slow: one(c, s), data, start, limits)
            break
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # every failure of hostile input is reported
            error = exc
            if isinstance(exc, MemoryError) and bomb and not use_slow:
                plans[:] = [*plans[:plans.index((careful, use_slow)) + 1], (True, True)]
                continue  # the capped C memo hit a bomb: the Python unpickler's dict memo is immune
            if isinstance(exc, LimitError | MemoryError):
                break
            if not use_slow and careful and "extension" in str(exc):
                plans.append((True, True))  # an unregistered extension code: only Python can show it
    if loaded is None:
        assert error is not None
        raise _error(error, data, start, getattr(error, "load_offset", start),
                     getattr(error, "load_state", None), joblib) from None
    value, state, end = loaded
    result = SafeLoad(value, _protocol(data, start, end), _uses(state), start, end,
                      _NON_SPACE.search(data, end) is not None,
                      extensions=state.extensions, persistent_ids=state.persistent_ids,
                      companions=state.companions, arrays=state.arrays, engine="python" if use_slow else "c")
    _add_findings(result, state)
    return result


def _add_findings(result: SafeLoad, state: LoadState) -> None:
    for node in state.resolved.values():
        if isinstance(node, GlobalNode):
            for op, _value in node.mutations:
                result.findings.append(("dangerous", f"{op.upper()} aimed at the global {node.qualname} "
                                        "itself "
                                        "(an attempt to change a class or function)"))
    if state.extensions:
        result.findings.append(("suspicious", f"extension codes {state.extensions[:10]} name globals "
                                "through copyreg's registry"))
    if state.persistent_ids:
        result.findings.append(("suspicious", f"{state.persistent_ids} persistent IDs refer to objects "
                                "kept outside the pickle"))


def _as_bytes(data: bytes | bytearray | memoryview | BinaryIO, limits: Limits) -> bytes | memoryview:
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > limits.max_bytes:
            raise ParseError(f"The data is larger than the {limits.max_bytes:,} bytes the loader accepts.")
        return data if isinstance(data, bytes | memoryview) else bytes(data)
    raw = data.read(limits.max_bytes + 1)
    if len(raw) > limits.max_bytes:
        raise ParseError(f"The data is larger than the {limits.max_bytes:,} bytes the loader accepts.")
    return raw


def load_safe(data: bytes | BinaryIO, *, joblib: bool = False, limits: Limits = DEFAULT_LIMITS) -> SafeLoad:
    """Load the first pickle of ``data`` safely; see ``SafeLoad.trailing`` for what follows it.

    Raises ``PickleLoadError`` (a ``ParseError`` with the offset and the globals seen so far).
    """
    buffer = _as_bytes(data, limits)
    if not len(buffer):
        raise PickleLoadError("The data is empty: there is no pickle in it.", Location(offset=0))
    return _load_at(buffer, 0, joblib, limits)


def load_all(data: bytes | BinaryIO, *, joblib: bool = False, limits: Limits = DEFAULT_LIMITS,
             max_pickles: int = 10_000) -> tuple[list[SafeLoad], PickleLoadError | None]:
    """Every pickle stacked in ``data``, and the error that stopped the walk (None at a clean end).

    A first pickle that fails raises; a later failure is returned as the trailing data's error.
    """
    buffer = _as_bytes(data, limits)
    loads = [load_safe(buffer, joblib=joblib, limits=limits)]
    while loads[-1].trailing and len(loads) < max_pickles:
        found = _NON_SPACE.search(buffer, loads[-1].end)
        if found is None:
            break
        try:
            loads.append(_load_at(buffer, found.start(), joblib, limits))
        except PickleLoadError as exc:
            return loads, exc
    return loads, None
