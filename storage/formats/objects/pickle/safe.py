"""Load a pickle as a neutral tree of values and nodes without running anything it names.

The C unpickler does the work (near ``pickle.loads`` speed) with a ``find_class`` that never
imports (``pickle_unpicklers``). The fast pass hands it the real harmless C types of the allowlist;
if that pass fails (a datetime with a foreign tzinfo, BUILD aimed at a class...), a careful pass
wraps every allowlisted global in a node that checks its arguments. The pure-Python unpickler is
used when the C one would be unsafe or cannot represent the file: a memo-index bomb (the C memo is
an array sized by the largest index), extension codes, joblib array data, and NumPy values the C
pass could not put in place. NumPy dtypes and arrays stay on the C unpickler as placeholders whose
BUILD state is checked before anything is built (NumPy's own ``__setstate__`` trusts it), settled
after the load (``pickle_pending``). The load runs on a thread whose stack is sized from the input,
because hashing a deeply nested tuple recurses in C (``pickle_guards``).

``SafeLoad.value`` holds plain values, allowlisted rebuilt values (datetime, Decimal, OrderedDict,
defaultdict, NumPy arrays...), the nodes of ``pickle_nodes`` for everything else, and occasionally a
real allowlisted class (``int``, ``datetime.date``...) when the pickle names one as a value.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from storage.core.errors import Location, ParseError
from storage.formats.objects.pickle.allow import CopyBudget
from storage.formats.objects.pickle.guards import (
    DEFAULT_LIMITS,
    STACK_LOCK,
    Exact,
    Limits,
    address_space_cap,
    can_cap,
    first_protocol,
    import_outside_cap,
    memo_bomb,
    quiet_bytearray_bug,
    run_with_stack,
)
from storage.formats.objects.pickle.keys import SAME_HASH, costly_keys
from storage.formats.objects.pickle.nodes import BufferNode, GlobalNode
from storage.formats.objects.pickle.pending import Unsettled, settle
from storage.formats.objects.pickle.scan import scan_bytes
from storage.formats.objects.pickle.stream import (
    load_stream,  # joblib from a file object: arrays read straight from it
)
from storage.formats.objects.pickle.unpicklers import (
    FastUnpickler,
    LimitError,
    LoadState,
    NeedsPython,
    SlowUnpickler,
    judge_shaped,
    settled_verdicts,
)

_NON_SPACE = re.compile(rb"[^ \t\r\n]")
WATCH_STEP = 1024 * 1024  # bytes read between two calls of a load's ``watch``
_PROTO_BYTE = re.compile(rb"\x80[\x00-\x05]")  # where a later PROTO opcode could be
_PROTOCOL_SCAN = 16 * 1024**2  # protocol 0 and 1 pickles this big are walked to tell them apart
__all__ = ["DEFAULT_LIMITS", "GlobalUse", "Limits", "PickleLoadError", "SafeLoad", "load_all", "load_safe"]


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
    aligned_arrays: int = 0
    subclasses: list[tuple[Any, Any]] = field(default_factory=list)  # see LoadState.subclasses
    engine: str = "c"
    encoding: str = "ASCII"  # "latin1" when Python 2 byte strings needed it (see ``_load_at``)
    first_reads: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # LoadState's
    computed_names: bool = False  # LoadState's

    @property
    def dangerous(self) -> bool:
        return any(g.severity == "dangerous" for g in self.globals) or any(
            s == "dangerous" for s, _ in self.findings)


class LoadCancelled(Exception):
    """The caller's ``watch`` stopped the load (the user cancelled it)."""


class _Watched(io.BytesIO):
    """The input of a framed pickle that tells ``watch`` how far the load has read, about every
    WATCH_STEP bytes; ``watch`` may raise LoadCancelled to stop it. Each read is a Python call, so
    a long C load also lets other threads (the window) run between two frames."""

    def __init__(self, data: bytes | memoryview, watch: Callable[[int], None]) -> None:
        super().__init__(data)
        self._watch = watch
        self._next = 0

    def read(self, size: int | None = -1) -> bytes:
        position = self.tell()
        if position >= self._next:
            self._next = position + WATCH_STEP
            self._watch(position)
        return super().read(size)


class PickleLoadError(ParseError):
    """A ParseError that also lists the globals seen before the stream broke."""

    def __init__(self, message: str, location: Location | None = None,
                 globals_seen: list[GlobalUse] | None = None) -> None:
        super().__init__(message, location)
        self.globals = globals_seen or []

    @property
    def dangerous(self) -> bool:
        return any(g.severity == "dangerous" for g in self.globals)


def _uses(state: LoadState) -> list[GlobalUse]:
    verdicts = settled_verdicts(state)
    return [GlobalUse(m, n, count, *verdicts.get((m, n), ("dangerous", "not resolved")))
            for (m, n), count in state.uses.items()]


def _protocol(data: bytes | memoryview, start: int, end: int) -> int | None:
    """The PROTO opcode's number; without one, 0 or 1 from the opcodes used (None if too big to tell)."""
    if len(data) > start + 1 and data[start] == 0x80:
        return data[start + 1]
    if end - start > _PROTOCOL_SCAN:
        return None
    raw = data if type(data) is bytes else bytes(data)
    found = first_protocol(raw, start, end, 1)  # an opcode walk that stops at the first binary one
    return min(found if found is not None else scan_bytes(raw[start:end]).highest_opcode_protocol, 1)


def _attempt(stream: io.BytesIO, state: LoadState, slow: bool, joblib: bool) -> Any:
    buffers = map(BufferNode, itertools.count())
    if slow:
        return SlowUnpickler(stream, state, buffers, joblib=joblib).load()
    with quiet_bytearray_bug():
        box = [FastUnpickler(Exact(stream), state, buffers).load()]  # type: ignore[arg-type]
    pending = state.pending
    value = settle(box, pending) if pending else box.pop()  # settle holds the only reference
    judge_shaped(state)
    return value


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


def _load_at(data: bytes | memoryview, start: int, joblib: bool, limits: Limits,
             watch: Callable[[int], None] | None = None) -> SafeLoad:
    """The pickle at ``start``. A Python 2 pickle whose byte strings are not ASCII fails as
    ``pickle.load`` fails; it is then read again with ``encoding='latin1'``, as pandas, NumPy and
    joblib read Python 2 files, and ``SafeLoad.encoding`` says so."""
    try:
        return _load_with(data, start, joblib, limits, "ASCII", watch)
    except PickleLoadError as exc:
        if not isinstance(exc.__cause__, UnicodeDecodeError):
            raise
    loaded = _load_with(data, start, joblib, limits, "latin1", watch)  # its error says where the data breaks
    loaded.findings.append(("info", "Python 2 byte strings were read as latin-1 text, as pandas, NumPy "
                            "and joblib read Python 2 pickles (pickle.load alone stops at them)"))
    return loaded


def _load_with(data: bytes | memoryview, start: int, joblib: bool, limits: Limits,
               encoding: str, watch: Callable[[int], None] | None = None) -> SafeLoad:
    import copyreg

    # Only framed pickles (protocol 4+) are watched: the C unpickler reads them a frame at a time,
    # where older ones would cost a Python call per opcode.
    framed = watch is not None and len(data) > start + 1 and data[start] == 0x80 and data[start + 1] >= 4

    def one(careful: bool, slow: bool) -> tuple[Any, LoadState, int]:
        stream = _Watched(data, watch) if framed and watch is not None else io.BytesIO(data)
        stream.seek(start)
        state = LoadState(careful, limits.max_globals, limits.max_array_bytes, len(data) - start,
                          budget=CopyBudget(limits.copy_budget + limits.copy_per_byte * (len(data) - start)),
                          encoding=encoding,
                          start_protocol=data[start + 1] if data[start:start + 1] == b"\x80" else 0,
                          later_proto=lambda: first_candidate() < stream.tell())
        try:
            if bomb and not slow:
                import_outside_cap(data)
                with STACK_LOCK, address_space_cap(limits.memo_budget + 64 * (len(data) - start)):
                    value = _attempt(stream, state, slow, joblib)
            else:
                value = _attempt(stream, state, slow, joblib)
        except BaseException as exc:
            exc.load_state, exc.load_offset = state, stream.tell()  # type: ignore[attr-defined]
            raise
        return value, state, stream.tell()

    candidates: list[int] = []

    def first_candidate() -> int:
        """Where the first byte pair that could be a later PROTO opcode is (searched once)."""
        if not candidates:
            found = _PROTO_BYTE.search(data, start + (2 if data[start:start + 1] == b"\x80" else 0))
            candidates.append(found.start() if found is not None else len(data))
        return candidates[0]

    bomb = not joblib and memo_bomb(data, start)
    slow = (joblib or bool(copyreg._extension_registry) or bool(copyreg._extension_cache)  # type: ignore[attr-defined]
            or (bomb and not can_cap()))
    # The C unpickler hashes keys unchecked and cannot be interrupted: costly keys go to Python.
    # (NumPy pickles stay on the C path too: ``pickle_pending``.)
    slow = slow or costly_keys(data, start, limits.copy_budget + limits.copy_per_byte * (len(data) - start))
    plans = [(True, True)] if slow else [(False, False), (True, False)]
    error: BaseException | None = None
    loaded = None
    for careful, use_slow in plans:
        try:
            loaded = run_with_stack(functools.partial(one, careful, use_slow), data, start, limits)
            break
        except (KeyboardInterrupt, SystemExit, LoadCancelled):
            raise
        except BaseException as exc:  # every failure of hostile input is reported
            error = exc
            if isinstance(exc, MemoryError) and bomb and not use_slow:
                plans[:] = [*plans[:plans.index((careful, use_slow)) + 1], (True, True)]
                continue  # the capped C memo hit a bomb: the Python unpickler's dict memo is immune
            if isinstance(exc, LimitError | MemoryError):
                break
            extension = "extension" in str(exc) or "EXT" in str(exc)
            numpy = bool(getattr(getattr(exc, "load_state", None), "pending", None))
            retry = isinstance(exc, NeedsPython | Unsettled) or (careful and (extension or numpy))
            if not use_slow and retry:
                plans[:] = [*plans[:plans.index((careful, use_slow)) + 1], (True, True)]
                # unregistered extension codes, and NumPy values the C path could not place: only
                # the Python unpickler shows them
    if loaded is None:
        assert error is not None
        failure = _error(error, data, start, getattr(error, "load_offset", start),
                         getattr(error, "load_state", None), joblib)
        if isinstance(error, UnicodeDecodeError):
            raise failure from error  # ``_load_at`` tries again with latin-1
        raise failure from None
    value, state, end = loaded
    result = SafeLoad(value, _protocol(data, start, end), _uses(state), start, end,
                      _NON_SPACE.search(data, end) is not None,
                      extensions=state.extensions, persistent_ids=state.persistent_ids,
                      companions=state.companions, arrays=state.arrays, aligned_arrays=state.aligned_arrays,
                      subclasses=state.subclasses,
                      engine="python" if use_slow else "c",
                      encoding=encoding, first_reads=state.first_reads,
                      computed_names=state.computed_names)
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
    keys = state.budget.keys
    if keys.refused - keys.colliding:
        result.findings.append(("suspicious", f"{keys.refused - keys.colliding:,} dict keys or set members "
                                "would take too long to hash (shared nested tuples: a hashing bomb); they "
                                "are shown unhashed"))
    if keys.colliding:
        result.findings.append(("suspicious", f"{keys.colliding:,} dict keys or set members share one hash "
                                f"with more than {SAME_HASH} others (a hash-collision attack: each would "
                                "probe all the others); they are shown unhashed"))
    if state.persistent_ids:
        result.findings.append(("suspicious", f"{state.persistent_ids} persistent IDs refer to objects "
                                "kept outside the pickle"))


PickleData = bytes | bytearray | memoryview | BinaryIO  # what the loaders accept


def _as_bytes(data: PickleData, limits: Limits) -> bytes | memoryview:
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > limits.max_bytes:
            raise ParseError(f"The data is larger than the {limits.max_bytes:,} bytes the loader accepts.")
        return data if isinstance(data, bytes | memoryview) else bytes(data)
    raw = data.read(limits.max_bytes + 1)
    if len(raw) > limits.max_bytes:
        raise ParseError(f"The data is larger than the {limits.max_bytes:,} bytes the loader accepts.")
    return raw


def load_safe(data: PickleData, *, joblib: bool = False, limits: Limits = DEFAULT_LIMITS,
              watch: Callable[[int], None] | None = None) -> SafeLoad:
    """Load the first pickle of ``data`` safely; see ``SafeLoad.trailing`` for what follows it.

    Raises ``PickleLoadError`` (a ``ParseError`` with the offset and the globals seen so far).
    """
    if joblib and not isinstance(data, bytes | bytearray | memoryview):
        loads, _error = load_stream(data, limits, 1)
        if not loads:
            raise PickleLoadError("The data is empty: there is no pickle in it.", Location(offset=0))
        return loads[0]
    buffer = _as_bytes(data, limits)
    if not len(buffer):
        raise PickleLoadError("The data is empty: there is no pickle in it.", Location(offset=0))
    return _load_at(buffer, 0, joblib, limits, watch)


def load_all(data: PickleData, *, joblib: bool = False, limits: Limits = DEFAULT_LIMITS,
             max_pickles: int = 10_000, watch: Callable[[int], None] | None = None,
             ) -> tuple[list[SafeLoad], PickleLoadError | None]:
    """Every pickle stacked in ``data``, and the error that stopped the walk (None at a clean end).

    ``watch`` (optional) is called with the byte offset the load has reached, now and then; it may
    raise LoadCancelled to stop the load, which then raises it.

    A first pickle that fails raises; a later failure is returned as the trailing data's error.
    """
    if joblib and not isinstance(data, bytes | bytearray | memoryview):
        streamed, error = load_stream(data, limits, max_pickles)
        if not streamed:
            raise PickleLoadError("The data is empty: there is no pickle in it.", Location(offset=0))
        return streamed, error
    buffer = _as_bytes(data, limits)
    loads = [load_safe(buffer, joblib=joblib, limits=limits, watch=watch)]
    while loads[-1].trailing and len(loads) < max_pickles:
        found = _NON_SPACE.search(buffer, loads[-1].end)
        if found is None:
            break
        try:
            loads.append(_load_at(buffer, found.start(), joblib, limits, watch))
        except PickleLoadError as exc:
            return loads, exc
    return loads, None
