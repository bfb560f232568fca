"""Guards around the C unpickler: limits, the memo-bomb pre-check, the address-space cap and the
big-stack thread.

The C unpickler's memo is an array sized by the largest PUT index, so an 11-byte pickle can make it
allocate gigabytes; hashing a tuple nested a million deep recurses in C and overflows a normal
thread stack. Neither can be stopped from Python once started, so both are prevented up front.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickletools
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from storage.formats.objects.pickle.allow import LimitError

try:
    import resource
except ImportError:  # Windows: no address-space cap; doubtful inputs use the Python unpickler
    resource = None  # type: ignore[assignment]

STACK_LOCK = threading.Lock()
_CHUNK = 1024 * 1024
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
    memo_budget: int = 64 * 1024**2  # extra address space (plus 64 per input byte) for a doubted C load
    copy_budget: int = 64 * 1024**2  # items/bytes rebuilt values may copy: this plus ...
    copy_per_byte: int = 4  # ... this many per input byte


DEFAULT_LIMITS = Limits()


class Exact:
    """Only read/readinto/readline, so the C unpickler never reads ahead of what it parses."""

    def __init__(self, raw: BinaryIO) -> None:
        self.read, self.readline = raw.read, raw.readline
        self.readinto = getattr(raw, "readinto", None)
        self.tell = raw.tell


@functools.lru_cache(maxsize=16)
def _put_pattern(digits: int) -> re.Pattern[bytes]:
    # PUT's argument goes through int(): blanks, a plus sign and underscores are accepted too
    return re.compile(rb"p[ \t\f\v\r]*\+?([\d_]{%d,})" % digits)


def memo_bomb(data: bytes | memoryview, start: int) -> bool:
    """True when a PUT might index past anything the input can hold (cheap, at C speed).

    Bytes inside strings look the same as opcodes, so most large pickles have such a candidate;
    the search stops at the first one, which keeps it far below the load's own time. (One regular
    expression per test, without NumPy: a plain pickle's first screen never waits for its import.)
    """
    size = len(data) - start
    if size < 6:
        return False
    if _long_binput_pattern(size).search(data, start) is not None:
        return True
    pattern = _put_pattern(len(str(size)))
    return any(_int(m.group(1)) > size for m in pattern.finditer(data, start))


def _byte_above(value: int) -> bytes:
    """A character class of the bytes above ``value`` (b"" when there is none)."""
    return b"[\\x%02x-\\xff]" % (value + 1) if value < 255 else b""


@functools.lru_cache(maxsize=16)
def _long_binput_pattern(size: int) -> re.Pattern[bytes]:
    """LONG_BINPUT ('r') followed by a little-endian uint32 greater than ``size``: the highest
    byte above size's, or equal and the next one above, and so on."""
    limit = min(size, 0xFFFFFFFF).to_bytes(4, "little")
    choices = []
    for high in range(3, -1, -1):  # the byte that decides, from the most significant
        above = _byte_above(limit[high])
        if above:
            same = b"".join(b"\\x%02x" % limit[i] for i in range(high + 1, 4))
            choices.append(b"[\\x00-\\xff]" * high + above + same)
    if not choices:
        return re.compile(b"(?!)")
    return re.compile(b"r(?:" + b"|".join(choices) + b")", re.DOTALL)


def _int(digits: bytes) -> int:
    try:
        return int(digits.replace(b"_", b"") or b"0")
    except ValueError:
        return 0


@contextlib.contextmanager
def address_space_cap(budget: int) -> Iterator[None]:
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


_NAMES_NUMPY = re.compile(rb"numpy")


def import_outside_cap(data: bytes | memoryview) -> None:
    """Import NumPy now if the pickle names it, before :func:`address_space_cap` lowers the limit.

    The allowlist imports NumPy when the load meets its first NumPy global; OpenBLAS allocates its
    thread buffers at import and, refused under the cap, aborts the whole process (the window
    with it) instead of raising MemoryError.
    """
    if _NAMES_NUMPY.search(data) is not None:
        import numpy  # noqa: F401


def can_cap() -> bool:
    return resource is not None and os.path.exists("/proc/self/statm")


_NESTING_OPS = b"\x85\x86\x87tR\x81\x92oi\x91"  # opcodes that can wrap a tuple in a tuple or frozenset
_NOT_NESTING = bytes(sorted(set(range(256)) - set(_NESTING_OPS)))
_WALK = 10_000  # opcodes followed before the rest is counted byte by byte


def _arg_sizes() -> dict[int, int]:
    """Opcode byte -> its argument's size, or pickletools' negative codes (-1 a line, -2/-3/-4/-5 a
    length of 1/4 signed/4/8 bytes before the data, -6 two lines)."""
    sizes = {}
    for op in pickletools.opcodes:
        arg = op.arg
        size = 0 if arg is None else (-6 if arg.name == "stringnl_noescape_pair" else arg.n)
        sizes[ord(op.code)] = size
    return sizes


_ARG_SIZES = _arg_sizes()
_PROTOS = {ord(op.code): op.proto for op in pickletools.opcodes}
_COUNTED = {-2: (1, False), -3: (4, True), -4: (4, False), -5: (8, False)}


def opcode_end(data: bytes, pos: int) -> int | None:
    """Where the opcode at ``pos`` ends, its argument read as the unpickler reads it; None when the
    byte is not an opcode or its argument is cut short or negative."""
    size = _ARG_SIZES.get(data[pos])
    if size is None:
        return None
    at = pos + 1
    if size >= 0:
        at += size
    elif size in (-1, -6):
        for _line in range(1 if size == -1 else 2):
            newline = data.find(b"\n", at)
            if newline < 0:
                return None
            at = newline + 1
    else:
        width, signed = _COUNTED[size]
        if at + width > len(data):
            return None
        length = int.from_bytes(data[at:at + width], "little", signed=signed)
        if length < 0:
            return None
        at += width + length
    return at if at <= len(data) else None


def first_protocol(data: bytes, start: int, end: int, enough: int) -> int | None:
    """The highest protocol of the opcodes from ``start`` to ``end``, or the first that reaches
    ``enough``; None when the bytes are not opcodes."""
    pos, highest = start, 0
    while pos < end:
        highest = max(highest, _PROTOS.get(data[pos], 0))
        if highest >= enough:
            return highest
        after = opcode_end(data, pos)
        if after is None:
            return None
        pos = after
    return highest


def _nesting_bound(data: bytes | memoryview, start: int) -> int:
    """At most this many tuples can nest: each level needs one of ``_NESTING_OPS``.

    The first opcodes are followed exactly as the unpickler reads them, so a long string or array
    payload is stepped over instead of counted; from where that stops (after ``_WALK`` opcodes, or
    at bytes that are not an opcode) every remaining byte that could be such an opcode counts.
    """
    if type(data) is not bytes:
        return _count_nesting(data, start)
    end, pos, levels, nesting = len(data), start, 0, frozenset(_NESTING_OPS)
    for _ in range(_WALK):
        if pos >= end:
            return levels
        at = opcode_end(data, pos)
        if at is None:
            break
        levels += data[pos] in nesting
        pos = at
    return levels + _count_nesting(data, pos)


def _count_nesting(data: bytes | memoryview, start: int) -> int:
    """How many bytes from ``start`` on are one of ``_NESTING_OPS``."""
    if start >= len(data):
        return 0
    if type(data) is bytes and start <= len(data) // 4:  # the whole, less the (small) head: no copy
        head = len(data[:start].translate(None, _NOT_NESTING)) if start else 0
        return len(data.translate(None, _NOT_NESTING)) - head  # deletes the other bytes at C speed
    view, total = memoryview(data), 0
    for lo in range(start, len(data), _CHUNK):
        total += len(bytes(view[lo:lo + _CHUNK]).translate(None, _NOT_NESTING))
    return total


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


def _start(target: Callable[[], None], stack: int) -> threading.Thread | None:
    """Start ``target`` on a thread with ``stack`` bytes of stack, or None if it cannot be had."""
    with STACK_LOCK:
        try:
            old = threading.stack_size(stack)
        except ValueError:
            return None
        try:
            thread = threading.Thread(target=target, name="datashelf-pickle-load", daemon=True)
            thread.start()
        except RuntimeError:
            return None
        finally:
            threading.stack_size(old)
    return thread


def run_with_stack(func: Callable[[], Any], data: bytes | memoryview, start: int, limits: Limits) -> Any:
    """Call ``func`` on a thread with a stack sized for the input; re-raise its error."""
    if len(data) - start <= _SMALL:
        return func()
    stack = _stack_for(data, start, limits)
    smaller = None
    try:
        return run_on_stack(func, stack)
    except _NoStack:  # the system refused that much address space: size it from the opcodes instead
        smaller = _nesting_bound(data, start) * limits.stack_per_byte + limits.min_stack
        if smaller >= stack:
            raise LimitError(f"a {stack // 2**20:,} MB stack for loading this pickle could not be "
                             "reserved") from None
    try:
        return run_on_stack(func, smaller)
    except _NoStack:
        raise LimitError(f"a {smaller // 2**20:,} MB stack for loading this pickle could not be "
                         "reserved") from None


class _NoStack(Exception):
    """The system would not give a thread that much stack."""


def run_on_stack(func: Callable[[], Any], stack: int) -> Any:
    """Call ``func`` on a new thread with ``stack`` bytes of stack and wait; re-raise its error."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:
            box["error"] = exc

    thread = _start(target, stack)
    if thread is None:
        raise _NoStack
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


_BYTEARRAY_BUG = "deallocated bytearray object has exported buffers"


@contextlib.contextmanager
def quiet_bytearray_bug() -> Iterator[None]:
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
