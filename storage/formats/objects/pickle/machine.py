"""The symbolic stack machine behind ``pickle_scan``: follows one pickle, runs nothing.

Strings, numbers, small tuples and dicts are kept; everything else is an opaque placeholder.
That is enough to resolve STACK_GLOBAL through the memo, to count REDUCE/BUILD calls and to
read the shape and dtype joblib stores in a ``NumpyArrayWrapper``'s state.
"""

from __future__ import annotations

import pickletools
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storage.formats.objects.pickle.danger import (
    ATTRIBUTE_VERDICT,
    IDIOMS,
    SHAPED_CALLS,
    idiom_call,
    idiom_verdict,
    misused_verdict,
    shaped_call,
    verdict_of,
)

if TYPE_CHECKING:
    from storage.formats.objects.pickle.scan import Scanner

MAX_READ = 64 * 1024 * 1024  # how far joblib array data of unknown size is searched for the next frame
MAX_STREAM = 8 * 1024**3  # how far a decompressed stream is followed (joblib_io's bomb limit); reported
INLINE = 4096  # longer strings and bytes are skipped and pushed as placeholders
OPS = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
_COUNTED = {  # opcode name -> (length format, kind)
    "BINSTRING": ("<i", "latin-1"), "SHORT_BINSTRING": ("<B", "latin-1"), "BINUNICODE": ("<I", "utf-8"),
    "SHORT_BINUNICODE": ("<B", "utf-8"), "BINUNICODE8": ("<Q", "utf-8"), "BINBYTES": ("<I", None),
    "SHORT_BINBYTES": ("<B", None), "BINBYTES8": ("<Q", None), "BYTEARRAY8": ("<Q", None),
}
CALLS = ("REDUCE", "BUILD", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX")
WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
OPAQUE = object()
_MARK = pickletools.markobject
_ITEMSIZE = {"b": 1, "?": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8,
             "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "M": 8, "m": 8, "O": 8}


class ScanError(Exception):
    """The stream is not a valid pickle at ``offset``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class Capped(Exception):
    """The scan's one bound (how far a decompressed stream is followed) was reached."""


@dataclass(eq=False)
class Global:
    """A class or function the stream imports (``key``: what ``find_class`` resolves it to)."""

    module: str
    name: str
    key: tuple[str, str] = ("", "")
    severity: str = ""
    pushes: int = 0  # for a generic callable of an idiom: times it was put on the stack...
    exact: int = 0  # ...and times it was consumed by the idiom's one safe call...
    attribute: int = 0  # ...or by getattr(Class, 'name') (an enum member)...
    called: bool = False  # ...whose result was then called


@dataclass
class Call:
    """The result of calling something while loading (REDUCE, NEWOBJ, OBJ, INST)."""

    func: Any
    args: Any = None
    state: Any = None
    fetched: Global | None = None  # the getattr whose getattr(Class, 'name') this is


@dataclass
class Dict:
    """A dict being filled by SETITEM(S); only small ones are followed."""

    items: dict | None = field(default_factory=dict)  # None once it grew too big to follow


def itemsize(dtype: Any) -> int | None:
    """The element size of a pickled numpy.dtype placeholder, or None when it holds objects."""
    if not isinstance(dtype, Call) or not isinstance(dtype.args, tuple) or not dtype.args:
        return -1
    descr = dtype.args[0]
    if not isinstance(descr, str) or not descr or "O" in descr:
        return None if isinstance(descr, str) and "O" in descr else -1
    state = dtype.state
    if isinstance(state, tuple) and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        fields = state[4]
        if fields is None:
            return state[5]
        if not isinstance(fields, Dict) or not fields.items:
            return -1  # structured, fields not followed: let resync find the way
        sizes = [itemsize(f[0]) if isinstance(f, tuple) and f else -1 for f in fields.items.values()]
        return None if None in sizes else (-1 if -1 in sizes else state[5])
    kind, digits = descr.lstrip("<>|=")[:1], descr.lstrip("<>|=")[1:].split("[")[0]
    if digits.isdigit():
        return int(digits) * (4 if kind == "U" else 1)
    return _ITEMSIZE.get(kind, -1)


class Machine:
    """Follows one pickle from PROTO to STOP on a shared reader (handlers are in ``_TABLE``)."""

    def __init__(self, scan: Scanner) -> None:
        self.scan, self.report, self.reader = scan, scan.report, scan.reader
        self.stack: list[Any] = []
        self.meta: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.proto = 0  # as the unpickler: 0 until a PROTO opcode says otherwise
        self.idioms: list[tuple[Global, tuple[str, str]]] = []  # with their verdict when misused

    # Stack underflow (and a missing MARK) raise IndexError, as in pickle itself: ``run`` turns it
    # into the ScanError where pickle.load fails, so no opcode after it counts as run.
    def pop(self) -> Any:
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.meta.pop()
        return items

    def _counted(self, op: pickletools.OpcodeInfo, counted: tuple[struct.Struct, str | None],
                 pos: int) -> Any:
        """A length-prefixed string or bytes: short ones are decoded, long ones skipped unread."""
        fmt, encoding = counted
        raw = self.reader.read(fmt.size)
        if len(raw) < fmt.size:
            raise ScanError(f"{op.name} at byte {pos} is cut short", pos)
        (length,) = fmt.unpack(raw)
        if length < 0:
            raise ScanError(f"{op.name} at byte {pos} has a negative length", pos)
        short = f"{op.name} at byte {pos} needs {length:,} bytes; the data ends first"
        if length > INLINE:
            if not self.reader.skip(length):
                raise ScanError(short, pos)
            return OPAQUE
        data = self.reader.read(length)
        if len(data) < length:
            raise ScanError(short, pos)
        if not encoding:  # short bytes are kept (NumPy's ``_reconstruct(..., b'b')`` is checked)
            return data if op.name != "BYTEARRAY8" else OPAQUE
        try:
            return data.decode(encoding, "surrogatepass")
        except UnicodeDecodeError as exc:  # pickle.load fails here too
            raise ScanError(f"{op.name} at byte {pos} is not valid {encoding}: {exc.reason}", pos) from None

    def run(self) -> None:
        """Walk opcodes until STOP; raise ScanError on a broken stream, Capped at a limit."""
        reader, report, table = self.reader, self.report, _TABLE
        highest = report.highest_opcode_protocol
        trace = self.scan.trace  # where opcodes start, while data after a STOP is searched
        try:
            while True:
                pos = reader.pos
                if trace is not None:
                    trace.add(pos)
                code = reader.read(1)
                entry = table.get(code)
                if entry is None:
                    if not code:
                        raise ScanError(f"the pickle ends at byte {pos} before its STOP opcode", pos)
                    raise ScanError(f"unknown opcode {code!r} at byte {pos}", pos)
                op, handler, counted, arg_reader = entry
                if counted is not None:
                    arg = self._counted(op, counted, pos)
                elif arg_reader is not None:
                    try:
                        arg = arg_reader(reader)
                    except (ValueError, struct.error, OverflowError) as exc:
                        raise ScanError(f"{op.name} at byte {pos}: {exc}", pos) from None
                else:
                    arg = None
                report.opcodes += 1
                if op.proto > highest:
                    highest = op.proto
                if handler(self, arg, pos):
                    return
        except IndexError:
            raise ScanError(f"{op.name} at byte {pos} finds the stack empty or no MARK: pickle.load "
                            "fails there", pos) from None
        finally:
            report.highest_opcode_protocol = max(report.highest_opcode_protocol, highest)
            self._settle_idioms()

    def _settle_idioms(self) -> None:
        """A generic callable is safe only if every time it was on the stack, the idiom's exact call
        consumed it (passed as a value, called otherwise, or left over: dangerous)."""
        for item, misused in self.idioms:
            if item.pushes != item.exact + item.attribute or item.called:
                self.report.worsen(item.module, item.name, misused)
            elif item.attribute:
                self.report.worsen(item.module, item.name, ATTRIBUTE_VERDICT)

    def _global(self, module: str, attr: str, pos: int) -> Global:
        """Resolve a global as ``find_class`` would for the protocol in force, and record it."""
        resolved, verdict = verdict_of(module, attr, self.proto)
        item = Global(module, attr, resolved.key, verdict[0])
        if resolved.key in IDIOMS or resolved.key in SHAPED_CALLS:
            self.report.add_global(module, attr, pos, idiom_verdict(resolved.key))
            item.pushes = 1
            self.idioms.append((item, misused_verdict(resolved.key, verdict)))
        else:
            self.report.add_global(module, attr, pos, verdict)
        return item

    @staticmethod
    def _idiom_call(func: Any, args: Any) -> Global | None:
        """Count a call of a generic callable in its idiom; the getattr whose result must never be
        called when it is ``getattr(Class, 'name')``. A call of such a result is noted."""
        if isinstance(func, Call) and func.fetched is not None:
            func.fetched.called = True
            return None
        if isinstance(func, Global) and func.pushes and func.key in SHAPED_CALLS:
            func.exact += shaped_call(func.key, args)
            return None
        if not (isinstance(func, Global) and func.pushes and isinstance(args, tuple) and len(args) == 2):
            return None
        target = args[0] if isinstance(args[0], Global) else None
        kind = idiom_call(func.key, target.key if target else None, target.severity if target else None,
                          args[1])
        if kind == "exact":
            func.exact += 1
        elif kind == "attribute":
            func.attribute += 1
            return func
        return None

    # -- handlers: one per opcode that matters; the rest follow pickletools' stack effects ------
    def _op_stop(self, _arg: Any, _pos: int) -> bool:
        self.pop()
        self.scan.stopped()
        return True

    def _op_proto(self, arg: Any, pos: int) -> None:
        self.scan.protos.add(pos)
        self.proto = arg
        if self.report.protocol is None:  # nested pickles (joblib object arrays) have their own
            self.report.protocol = arg

    def _op_global(self, arg: Any, pos: int) -> None:
        module, _, attr = str(arg).partition(" ")
        self.stack.append(self._global(module, attr, pos))

    def _op_inst(self, arg: Any, pos: int) -> None:
        module, _, attr = str(arg).partition(" ")
        func = self._global(module, attr, pos)
        args = tuple(self.pop_mark())
        self.report.calls["INST"] += 1  # counted once the opcode cannot fail any more, as a call
        self.stack.append(Call(func, args, fetched=self._idiom_call(func, args)))

    def _op_stack_global(self, _arg: Any, pos: int) -> None:
        attr, module = self.pop(), self.pop()
        if isinstance(module, str) and isinstance(attr, str):
            self.stack.append(self._global(module, attr, pos))
        else:
            self.report.computed_globals.append(pos)
            self.stack.append(OPAQUE)

    def _op_put(self, arg: Any, _pos: int) -> None:
        self.memo[int(arg)] = self.stack[-1]

    _op_binput = _op_long_binput = _op_put

    def _op_memoize(self, _arg: Any, _pos: int) -> None:
        self.memo[len(self.memo)] = self.stack[-1]

    def _op_get(self, arg: Any, _pos: int) -> None:
        value = self.memo.get(int(arg), OPAQUE)
        if type(value) is Global and value.pushes:
            value.pushes += 1
        self.stack.append(value)

    _op_binget = _op_long_binget = _op_get

    def _op_dup(self, _arg: Any, _pos: int) -> None:
        """The same object once more (a generic callable counted as pushed again)."""
        value = self.stack[-1]
        if type(value) is Global and value.pushes:
            value.pushes += 1
        self.stack.append(value)

    # Opcodes that add items to the object below them leave that object on the stack, itself: a
    # getattr result cannot be laundered into a placeholder and then called unseen.
    def _op_append(self, _arg: Any, _pos: int) -> None:
        self.pop()
        if not self.stack:  # no list to append to: pickle fails here
            raise IndexError

    def _op_appends(self, _arg: Any, _pos: int) -> None:
        self.pop_mark()
        if not self.stack:
            raise IndexError

    _op_additems = _op_appends

    def _op_mark(self, _arg: Any, _pos: int) -> None:
        self.meta.append(self.stack)
        self.stack = []

    def _op_tuple(self, _arg: Any, _pos: int) -> None:
        items = self.pop_mark()
        self.stack.append(tuple(items) if len(items) <= 64 else OPAQUE)

    def _op_empty_tuple(self, _arg: Any, _pos: int) -> None:
        self.stack.append(())

    def _op_tuple1(self, _arg: Any, _pos: int) -> None:
        self.stack.append((self.pop(),))

    def _op_tuple2(self, _arg: Any, _pos: int) -> None:
        second = self.pop()
        self.stack.append((self.pop(), second))

    def _op_tuple3(self, _arg: Any, _pos: int) -> None:
        third, second = self.pop(), self.pop()
        self.stack.append((self.pop(), second, third))

    def _op_empty_dict(self, _arg: Any, _pos: int) -> None:
        self.stack.append(Dict())

    def _set_items(self, items: list[Any]) -> None:
        target = self.stack[-1]
        if isinstance(target, Dict) and target.items is not None:
            for key, value in zip(items[::2], items[1::2], strict=False):
                if isinstance(key, str):
                    target.items[key] = value
            if len(target.items) > 64:
                target.items = None

    def _op_setitem(self, _arg: Any, _pos: int) -> None:
        value, key = self.pop(), self.pop()
        self._set_items([key, value])

    def _op_setitems(self, _arg: Any, _pos: int) -> None:
        self._set_items(self.pop_mark())

    def _op_reduce(self, _arg: Any, _pos: int) -> None:
        args, func = self.pop(), self.pop()
        self.report.calls["REDUCE"] += 1
        self.stack.append(Call(func, args, fetched=self._idiom_call(func, args)))

    def _op_newobj(self, _arg: Any, _pos: int) -> None:
        args, func = self.pop(), self.pop()
        self.report.calls["NEWOBJ"] += 1
        self._idiom_call(func, None)
        self.stack.append(Call(func, args))

    def _op_newobj_ex(self, _arg: Any, _pos: int) -> None:
        _kwargs, args, func = self.pop(), self.pop(), self.pop()
        self.report.calls["NEWOBJ_EX"] += 1
        self._idiom_call(func, None)
        self.stack.append(Call(func, args))

    def _op_obj(self, _arg: Any, _pos: int) -> None:
        items = self.pop_mark()
        func, args = items[0], tuple(items[1:])  # no class after the MARK: pickle fails too
        self.report.calls["OBJ"] += 1
        self.stack.append(Call(func, args, fetched=self._idiom_call(func, args)))

    def _op_build(self, _arg: Any, pos: int) -> None:
        state = self.pop()
        target = self.stack[-1]
        self.report.calls["BUILD"] += 1
        if isinstance(target, Call):
            target.state = state
            func = target.func
            if isinstance(func, Global) and (func.module, func.name) == WRAPPER:
                self.scan.after_wrapper(state, pos)

    def _op_ext1(self, _arg: Any, pos: int) -> None:
        self.report.extensions.append(pos)
        self.stack.append(OPAQUE)

    _op_ext2 = _op_ext4 = _op_ext1

    def _op_persid(self, _arg: Any, _pos: int) -> None:
        self.report.persistent_ids += 1
        self.stack.append(OPAQUE)

    def _op_binpersid(self, _arg: Any, _pos: int) -> None:
        self.report.persistent_ids += 1
        self.pop()
        self.stack.append(OPAQUE)

    def _op_none(self, _arg: Any, _pos: int) -> None:
        self.stack.append(None)

    def _op_newtrue(self, _arg: Any, _pos: int) -> None:
        self.stack.append(True)

    def _op_newfalse(self, _arg: Any, _pos: int) -> None:
        self.stack.append(False)

    def _op_frame(self, arg: Any, pos: int) -> None:
        self.scan.frame(int(arg), pos)

    def _push_arg(self, arg: Any, _pos: int) -> None:
        self.stack.append(arg if arg is None or isinstance(arg, str | int | float | bytes) else OPAQUE)


def _generic(op: pickletools.OpcodeInfo) -> Callable[[Machine, Any, int], None]:
    """A handler from pickletools' stack table: pop what the opcode takes, push placeholders."""
    before, pushes = op.stack_before, len(op.stack_after)
    mark = before.index(_MARK) if _MARK in before else None
    pops = len(before) if mark is None else mark

    def handler(machine: Machine, _arg: Any, _pos: int) -> None:
        if mark is not None:
            machine.pop_mark()
        for _ in range(pops):
            machine.pop()
        machine.stack.extend([OPAQUE] * pushes)

    return handler


def _name_pair(encoding: str) -> Callable[[Any], str]:
    """GLOBAL's and INST's two lines as the unpickler reads them: no escapes undone (pickletools'
    reader would), UTF-8 for GLOBAL and ASCII for INST, "module name" joined by a space."""
    def read(reader: Any) -> str:
        lines = []
        for _ in range(2):
            line = reader.readline()
            if not line.endswith(b"\n"):
                raise ValueError("no newline found when trying to read the global's name")
            lines.append(line[:-1].decode(encoding))
        return " ".join(lines)
    return read


_NAME_READERS = {"GLOBAL": _name_pair("utf-8"), "INST": _name_pair("ascii")}


def _quoted(read_line: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """STRING's argument: like pickle, refuse an unquoted line at its first byte (an SQLite file read
    from byte 0 starts with "S", then goes a long way before a newline)."""
    def reader(stream: Any) -> Any:
        first = stream.read(1)
        if first not in (b"'", b'"'):
            raise ValueError("the STRING opcode argument must be quoted")
        stream.unread(first)
        return read_line(stream)

    return reader


def _table() -> dict[bytes, tuple]:
    table = {}
    for op in pickletools.opcodes:
        handler = getattr(Machine, f"_op_{op.name.lower()}", None)
        if handler is None:
            literal = op.arg is not None and not op.stack_before and len(op.stack_after) == 1
            handler = Machine._push_arg if literal else _generic(op)
        counted = _COUNTED.get(op.name)
        packed = (struct.Struct(counted[0]), counted[1]) if counted else None
        arg_reader = _NAME_READERS.get(op.name) or (op.arg.reader if op.arg else None)
        if op.name == "STRING":
            assert arg_reader is not None  # STRING always has a (stringnl) argument
            arg_reader = _quoted(arg_reader)
        table[op.code.encode("latin-1")] = (op, handler, packed, arg_reader)
    return table


_TABLE = _table()
