"""The two unpicklers behind ``pickle_safe``: the C one (speed) and the Python one (control).

Both resolve globals through one ``find_class`` that never imports (``pickle_allow`` or an inert
``GlobalNode``) and turn persistent IDs into ``PersistentNode``. The Python one also replaces
extension codes by ``ExtensionNode`` (the C one looks them up in ``copyreg``'s cache itself), keeps a
dict memo (a huge LONG_BINPUT index costs nothing), and reads the arrays joblib writes after each
``NumpyArrayWrapper`` straight from the stream.
"""

from __future__ import annotations

import math
import pickle
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, Protocol

from storage.formats.objects.pickle.allow import (
    CopyBudget,
    IdiomUse,
    LimitError,
    idiom_node,
    needs_build_check,
    resolve,
    shaped_node,
)
from storage.formats.objects.pickle.danger import (
    ATTRIBUTE_VERDICT,
    IDIOMS,
    SHAPED_CALLS,
    depends_on_protocol,
    idiom_verdict,
    misused_verdict,
    verdict_of,
    worse,
)
from storage.formats.objects.pickle.nodes import CallNode, ExtensionNode, GlobalNode, PersistentNode
from storage.formats.objects.pickle.numpy_build import rebuild_array, rebuild_dtype
from storage.formats.objects.pickle.pending import PendingList

WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
OLD_WRAPPERS = {("joblib.numpy_pickle", "NDArrayWrapper"), ("joblib.numpy_pickle", "ZNDArrayWrapper")}


@dataclass
class LoadState:
    """What one load collects besides the value (shared by nested joblib object-array pickles)."""

    careful: bool
    max_globals: int
    max_array_bytes: int
    remaining: int | None = None  # bytes left in the stream, when known
    budget: CopyBudget = field(default_factory=lambda: CopyBudget(64 * 1024**2))
    start_protocol: int = 0  # what the C unpickler is taken to run under (it hides its own)...
    later_proto: Callable[[], bool] = lambda: True  # ...unless a PROTO may precede the read position
    uses: dict[tuple[str, str], int] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # worst, per name
    resolved: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    idioms: dict[tuple[str, str, int], tuple[IdiomUse, tuple[str, str]]] = field(default_factory=dict)
    extensions: list[int] = field(default_factory=list)
    persistent_ids: int = 0
    companions: list[str] = field(default_factory=list)
    arrays: int = 0
    aligned_arrays: int = 0  # joblib >= 0.12 arrays, padded to start at a multiple of 16
    # joblib arrays whose wrapper named a subclass (np.matrix...): (array, the subclass's global),
    # so that Save writes the wrapper as it was (the tree shows the plain array)
    subclasses: list[tuple[Any, Any]] = field(default_factory=list)
    # How Python 2 byte strings (STRING opcodes) become text: "ASCII" as pickle.load does, or
    # "latin1" as pandas, NumPy and joblib read Python 2 files (a lossless byte-to-char mapping).
    encoding: str = "ASCII"
    pending: PendingList | None = None  # the C unpickler's NumPy placeholders (``pickle_pending``)
    # C unpickler: each global's first find_class as (stream position then, index among the calls
    # made at that position); the position is the end of the frame or opcode the call came from
    first_reads: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    last_read: tuple[int, int] = (-1, -1)
    computed_names: bool = False  # a global named by a string a builder handed back (C path)
    shaped: list[list[Any]] = field(default_factory=list)  # C path: ``watched_shaped`` entries


class _Common:
    """find_class / persistent_load shared by both unpicklers."""

    state: LoadState

    def _protocol(self) -> int:
        return self.proto  # type: ignore[attr-defined]

    def find_class(self, module: str, name: str) -> Any:
        """What the real ``find_class`` would return, as an allowlisted value or an inert node:
        the name is resolved for the protocol in force (``pickle_danger.resolve_global``)."""
        state = self.state
        key = (module, name)
        count = state.uses.get(key)
        if count is None:
            if len(state.uses) >= state.max_globals:
                raise LimitError(f"the pickle names more than {state.max_globals:,} different globals")
            state.uses[key] = 1
        else:
            state.uses[key] = count + 1
        protocol = self._protocol()
        cached = (module, name, protocol)
        found = state.resolved.get(cached)
        if found is None:
            resolved, verdict = verdict_of(module, name, protocol)
            if resolved.key in IDIOMS or resolved.key in SHAPED_CALLS:
                use = IdiomUse()
                state.idioms[cached] = (use, misused_verdict(resolved.key, verdict))
                if resolved.key in IDIOMS:
                    found = idiom_node(module, name, resolved.key, use)
                else:
                    found = shaped_node(module, name, resolved, use, state.budget, state.pending)
                    if state.pending is not None:  # NumPy's _reconstruct on the C path
                        found = watched_shaped(found, use, state)
                verdict = idiom_verdict(resolved.key)
            else:
                found = resolve(module, name, resolved, state.careful, state.budget, state.pending)
                if found is None:
                    found = GlobalNode(module, name)
            if isinstance(found, GlobalNode):
                found.key, found.protocol = resolved.key, protocol
            state.resolved[cached] = found
            known = state.verdicts.get(key)
            state.verdicts[key] = verdict if known is None else worse(known, verdict)
        idiom = state.idioms.get(cached)
        if idiom is not None:
            idiom[0].pushes += 1
        return found

    def persistent_load(self, pid: Any) -> PersistentNode:
        self.state.persistent_ids += 1
        return PersistentNode(pid)


def settled_verdicts(state: LoadState) -> dict[tuple[str, str], tuple[str, str]]:
    """Each name's verdict, with generic callables judged by how they were used (``IdiomUse``)."""
    verdicts = dict(state.verdicts)
    for (module, name, _protocol), (use, misused) in state.idioms.items():
        if use.misused:
            verdicts[(module, name)] = worse(verdicts[(module, name)], misused)
        elif use.attribute:
            verdicts[(module, name)] = worse(verdicts[(module, name)], ATTRIBUTE_VERDICT)
    return verdicts


# The C unpickler's memo GETs cannot be seen, so on the C path a SHAPED_CALLS stand-in is judged by
# what is left after the load instead of by counting its pushes: each call with arguments its
# library never writes, and the stand-in itself anywhere in the tree (kept as a value, or in a call
# node) or changed by BUILD, is a misuse. Only NumPy's _reconstruct takes this path (C_SHAPED).
C_SHAPED = frozenset(key for key in SHAPED_CALLS if key[1] == "_reconstruct")


def watched_shaped(node: GlobalNode, use: IdiomUse, state: LoadState) -> GlobalNode:
    """``node`` with its inexact calls counted, registered for ``judge_shaped`` after the load.

    A twin stand-in gets the same holders (an ``IdiomUse``, a closure, this entry, a dict like
    ``state.resolved``): after the load, any reference the stand-in has beyond its twin's count is
    one the tree holds."""
    twin = GlobalNode(node.module, node.name)
    twin_use = IdiomUse()
    twin_use.node = twin
    entry: list[Any] = [use, node, 0, [], twin, {0: twin}, lambda: twin]
    inner = node.build

    def build(args: tuple) -> Any:
        exact = use.exact
        value = inner(args)
        if use.exact == exact:  # not the call its library writes
            entry[2] += 1
        elif value is NotImplemented:  # the right call of a subtype we do not rebuild: kept as a node
            value = CallNode(node, args, "reduce")
            entry[3].append(value)  # its reference to the stand-in is expected (judge_shaped)
        return value

    node.build = build
    entry.append(twin_use)
    state.shaped.append(entry)
    return node


def judge_shaped(state: LoadState) -> None:
    """After a C load: each watched stand-in counts as pushed once per exact call, plus once more
    when it was misused (``IdiomUse.misused`` then says so, as the Python unpickler's count does)."""
    for entry in state.shaped:
        use, node, inexact, kept, twin = entry[:5]
        use.pushes = max(use.pushes, use.exact + use.attribute)
        if inexact or node.mutations or sys.getrefcount(node) > sys.getrefcount(twin) + len(kept):
            use.pushes += 1


class NeedsPython(Exception):
    """The C unpickler met something only the Python one may rebuild (NumPy values no longer:
    ``pickle_pending`` keeps them on the C path)."""


class FastUnpickler(_Common, pickle.Unpickler):
    """The C unpickler with a find_class that never imports.

    NumPy's ``__setstate__`` trusts its state and a crafted one crashes the process, so NumPy
    dtypes and arrays are built as placeholders whose BUILD is checked first (``pickle_pending``);
    ``state.pending`` lists them for ``settle``.
    """

    def __init__(self, file: BinaryIO, state: LoadState, buffers: Any) -> None:
        super().__init__(file, buffers=buffers, encoding=state.encoding)
        self.state, self._tell = state, file.tell
        if state.pending is None:
            state.pending = PendingList()

    def _protocol(self) -> int:
        return self.state.start_protocol

    def find_class(self, module: str, name: str) -> Any:
        """As ``_Common``'s, under the stream's first PROTO. The C unpickler hides the protocol a
        later PROTO may set, so a name that would be dangerous under another protocol, generic
        callables (their uses are counted) and classes BUILD must finish go to the Python one.
        NumPy values stay here as placeholders (``pickle_pending``). Where the stream stood at each
        global's first call is noted for ``pickle_quickscan``."""
        resolved, verdict = verdict_of(module, name, self.state.start_protocol)
        shaped = resolved.key in SHAPED_CALLS and resolved.key not in C_SHAPED
        if resolved.key in IDIOMS or shaped or needs_build_check(resolved.key) or (
                depends_on_protocol(module, name) and self._ambiguous(module, name, verdict)):
            raise NeedsPython(f"{module}.{name}")
        state = self.state
        strings = state.pending.strings if state.pending is not None else ()
        if strings and (id(module) in strings or id(name) in strings):
            state.computed_names = True
        where = self._tell()
        last, index = state.last_read
        state.last_read = (where, index + 1 if where == last else 0)
        if (module, name) not in state.first_reads:
            state.first_reads[(module, name)] = state.last_read
        return super().find_class(module, name)

    def _ambiguous(self, module: str, name: str, verdict: tuple[str, str]) -> bool:
        """True when another protocol would judge the name otherwise and the stream may already have
        switched to it: only a PROTO opcode can, bytes 0x80 0x00-0x05, and globals are mostly named
        early (memoized afterwards), before any such bytes."""
        if all(verdict_of(module, name, other)[1] == verdict for other in (2, 3, 4)):
            return False
        return self.state.later_proto()


class PickleSource(Protocol):
    """What the pure-Python unpickler reads from: a binary file, or pickle_stream's Tracked."""

    def read(self, n: int, /) -> bytes: ...

    def readline(self) -> bytes: ...


class SlowUnpickler(_Common, pickle._Unpickler):  # type: ignore[name-defined]
    """The pure-Python unpickler: dict memo, extension codes as nodes, joblib array data."""

    # pickle._Unpickler's own members, which typeshed does not declare (for the type checker only)
    memo: Any
    pop_mark: Any
    stack: list[Any]
    metastack: list[Any]
    _file_read: Any

    # typeshed types the handlers as taking an Unpickler; they take this unpickler
    dispatch: ClassVar[dict[int, Callable[..., None]]] = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: PickleSource, state: LoadState, buffers: Any, joblib: bool = False) -> None:
        super().__init__(file, buffers=buffers, encoding=state.encoding)
        self.state, self.joblib, self.raw = state, joblib, file
        self._placeholders: dict[int, list[int]] = {}
        self.keys = state.budget.keys
        self.keys.checks_sites = True

    # Every dict key and set member is measured before it is hashed (``pickle_keys``).
    def load_setitem(self) -> None:
        stack = self.stack
        value = stack.pop()
        key = self.keys.admit(stack.pop())
        stack[-1][key] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()
        target, admit = self.stack[-1], self.keys.admit
        for i in range(0, len(items), 2):
            target[admit(items[i])] = items[i + 1]

    def load_dict(self) -> None:
        items = self.pop_mark()
        admit = self.keys.admit
        self.append({admit(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    def load_additems(self) -> None:
        items = self.pop_mark()
        target, admit = self.stack[-1], self.keys.admit
        if isinstance(target, set):
            target.update(admit(item) for item in items)
        else:
            for item in items:
                target.add(admit(item))

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        admit = self.keys.admit
        self.append(frozenset(admit(item) for item in items))

    dispatch[pickle.SETITEM[0]] = load_setitem
    dispatch[pickle.SETITEMS[0]] = load_setitems
    dispatch[pickle.DICT[0]] = load_dict
    dispatch[pickle.ADDITEMS[0]] = load_additems
    dispatch[pickle.FROZENSET[0]] = load_frozenset

    def get_extension(self, code: int) -> None:
        self.state.extensions.append(code)
        self.append(ExtensionNode(code))

    def load_build(self) -> None:
        numpy = sys.modules.get("numpy")
        if numpy is not None and len(self.stack) >= 2 and self._build_numpy(self.stack[-2], numpy):
            return
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        top = self.stack[-1]
        if type(top) is CallNode and isinstance(top.func, GlobalNode) and top.func.finish is not None:
            self._finish(top)
            return
        if not self.joblib or type(top) is not CallNode or not isinstance(top.func, GlobalNode):
            return
        key = (top.func.module, top.func.name)
        if key == WRAPPER:
            self.stack[-1] = self._read_array(top.state)
        elif (key in OLD_WRAPPERS and isinstance(top.state, dict)
              and isinstance(top.state.get("filename"), str)):
            self.state.companions.append(top.state["filename"])

    dispatch[pickle.BUILD[0]] = load_build

    def _build_numpy(self, target: Any, np: Any) -> bool:
        """BUILD on a dtype or array: rebuild it from the checked state (``pickle_numpy``) and put
        the new object where the old one was, on the stack and in the latest memo entries."""
        rebuild: Callable[[Any, Any, Any], Any]
        if isinstance(target, np.dtype):
            rebuild = rebuild_dtype
        elif type(target) is np.ndarray or type(target) is np.matrix:
            def rebuild(target: Any, state: Any, np: Any) -> Any:
                array = rebuild_array(state, np, self.state.budget.spend)
                if type(target) is np.matrix:  # a matrix is 2-D: its own __array_finalize__ refuses more
                    if array.ndim != 2:
                        raise ValueError("a matrix's state is not 2-D")
                    array = array.view(np.matrix)
                return array
        else:
            return False
        state = self.stack.pop()
        try:
            new = rebuild(target, state, np)
        except (TypeError, ValueError) as exc:
            raise pickle.UnpicklingError(f"a NumPy value cannot be rebuilt: {exc}") from None
        self.stack[-1] = new
        for key in self._placeholders.pop(id(target), ()):
            if self.memo.get(key) is target:
                self.memo[key] = new
        return True

    def _finish(self, call: CallNode) -> None:
        """BUILD completed the NEWOBJ of an allowlisted class (a UUID): make the value from the
        checked state and put it where the call was, on the stack and in the memo."""
        if call.kind != "newobj" or call.args != () or call.kwargs:
            return
        value = call.func.finish(call.state)
        if value is NotImplemented:
            return
        self.stack[-1] = value
        for key in self._placeholders.pop(id(call), ()):
            if self.memo.get(key) is call:
                self.memo[key] = value

    # Where each NumPy placeholder was memoized, so that BUILD can put the rebuilt value there too.
    def _remember(self, key: int) -> None:
        top = self.stack[-1] if self.stack else None
        if type(top) is CallNode:
            if isinstance(top.func, GlobalNode) and top.func.finish is not None:
                self._placeholders.setdefault(id(top), []).append(key)
            return
        np = sys.modules.get("numpy")
        if np is not None and (type(top) in (np.ndarray, np.matrix) or isinstance(top, np.dtype)):
            self._placeholders.setdefault(id(top), []).append(key)

    def _pushed_again(self) -> None:
        """A memo GET or DUP put a value on the stack once more: count it for generic callables."""
        top = self.stack[-1]
        if type(top) is GlobalNode and self.state.idioms:
            for use, _verdict in self.state.idioms.values():
                if use.node is top:
                    use.pushes += 1

    def load_get(self) -> None:
        pickle._Unpickler.load_get(self)  # type: ignore[attr-defined]
        self._pushed_again()

    def load_binget(self) -> None:
        pickle._Unpickler.load_binget(self)  # type: ignore[attr-defined]
        self._pushed_again()

    def load_long_binget(self) -> None:
        pickle._Unpickler.load_long_binget(self)  # type: ignore[attr-defined]
        self._pushed_again()

    def load_dup(self) -> None:
        pickle._Unpickler.load_dup(self)  # type: ignore[attr-defined]
        self._pushed_again()

    dispatch[pickle.GET[0]] = load_get
    dispatch[pickle.BINGET[0]] = load_binget
    dispatch[pickle.LONG_BINGET[0]] = load_long_binget
    dispatch[pickle.DUP[0]] = load_dup

    def load_put(self) -> None:
        key = int(self.readline()[:-1])
        if key < 0:
            raise ValueError("negative PUT argument")
        self.memo[key] = self.stack[-1]
        self._remember(key)

    def load_binput(self) -> None:
        key = self.read(1)[0]
        self.memo[key] = self.stack[-1]
        self._remember(key)

    def load_long_binput(self) -> None:
        (key,) = struct.unpack("<I", self.read(4))
        self.memo[key] = self.stack[-1]
        self._remember(key)

    def load_memoize(self) -> None:
        key = len(self.memo)
        self.memo[key] = self.stack[-1]
        self._remember(key)

    dispatch[pickle.PUT[0]] = load_put
    dispatch[pickle.BINPUT[0]] = load_binput
    dispatch[pickle.LONG_BINPUT[0]] = load_long_binput
    dispatch[pickle.MEMOIZE[0]] = load_memoize

    def load_bytearray8(self) -> None:
        """As pickle's, but a length the stream cannot hold is refused before ``bytearray(n)``
        allocates (and zeroes) it."""
        (size,) = struct.unpack("<Q", self.read(8))
        remaining = self.state.remaining
        if remaining is not None and size > remaining:
            raise EOFError(f"BYTEARRAY8 claims {size:,} bytes, more than the data holds")
        data = bytearray(size)
        if self.readinto(data) != size:
            raise EOFError("BYTEARRAY8 is cut short")
        self.append(data)

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def _read(self, n: int, what: str) -> bytes:
        """Array bytes from the file itself, as joblib's ``read_array`` reads them: past the
        current pickle frame (opcodes left in the frame run after the array is read)."""
        remaining = self.state.remaining
        if n > self.state.max_array_bytes or (remaining is not None and n > remaining):
            raise LimitError(f"{what} claims {n:,} bytes, more than the file holds")
        data = self._file_read(n) if n else b""
        if len(data) < n:
            raise EOFError(f"{what} is cut short")
        return data

    def _read_array(self, state: Any) -> Any:
        """The array joblib wrote right after this wrapper's BUILD, read as raw bytes."""
        import numpy as np

        self.state.arrays += 1
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("a joblib array wrapper has no state")
        dtype, shape, order = state.get("dtype"), state.get("shape"), state.get("order", "C")
        if not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("a joblib array's dtype cannot be read safely")
        if dtype.hasobject:  # a complete nested pickle read from the file, with its own frames
            inner = SlowUnpickler(self.raw, self.state, None, joblib=True)
            return inner._load_nested()
        if (not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape)
                or order not in ("C", "F")):
            raise pickle.UnpicklingError("a joblib array's shape or order is not valid")
        if isinstance(state.get("numpy_array_alignment_bytes"), int):
            self.state.aligned_arrays += 1
            pad = self._read(1, "the array padding")[0]
            self._read(pad, "the array padding")
        count = math.prod(shape)
        data = bytearray(self._read(count * dtype.itemsize, "the array data"))
        array = np.frombuffer(data, dtype=dtype, count=count)
        array = array.reshape(shape[::-1]).transpose() if order == "F" else array.reshape(shape)
        subclass = state.get("subclass")
        if isinstance(subclass, GlobalNode) and subclass.real not in (np.ndarray, np.memmap):
            self.state.subclasses.append((array, subclass))
        return array

    def _load_nested(self) -> Any:
        """Run one pickle from the file's position, as joblib's fresh inner ``Unpickler`` does."""
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)  # type: ignore[attr-defined]
        self.read = self._unframer.read  # type: ignore[method-assign]
        self.readinto = self._unframer.readinto  # type: ignore[method-assign]
        self.readline = self._unframer.readline  # type: ignore[method-assign]
        self.metastack, self.stack = [], []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch = self.read, self.dispatch
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
        except pickle._Stop as stopinst:  # type: ignore[attr-defined]
            return stopinst.value
