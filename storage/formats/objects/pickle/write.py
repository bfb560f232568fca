"""Write a safely loaded tree back as a pickle, re-emitting its nodes exactly as they were read.

A ``pickle._Pickler`` subclass: values are pickled normally (they are plain containers and the
allowlisted types), while ``GlobalNode`` becomes GLOBAL/STACK_GLOBAL without importing anything
(the stock ``save_global`` imports the module to check it), and ``CallNode`` re-emits its func, args
and call opcode, then its items and BUILD state. The memo keeps shared references and cycles.
Whatever a protocol cannot express faithfully is refused with ``UnsupportedError``.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import io
import pickle
import struct
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import IO, Any, ClassVar

from storage.core.errors import UnsupportedError, WriteError
from storage.formats.objects.pickle.nodes import (
    NO_STATE,
    BufferNode,
    CallNode,
    CostlyKey,
    ExtensionNode,
    GlobalNode,
    PersistentNode,
)

_BATCH = 1000
_STACK = 512 * 1024**2
NUMPY_CORES = ("numpy.core", "numpy._core")  # NumPy 1.x's package name, and NumPy 2's
JOBLIB_ALIGNMENT = 16  # joblib >= 0.12 pads so that each array starts at a multiple of 16
_ARRAY_CHUNK = 16 * 1024**2
_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")


def _moved(module: str, target: str) -> str | None:
    """``module`` under the NumPy package name ``target`` when it is under the other one."""
    for prefix in NUMPY_CORES:
        if prefix != target and (module == prefix or module.startswith(prefix + ".")):
            return target + module[len(prefix):]
    return None


def _numpy_object(obj: Any) -> bool:
    module = getattr(type(obj), "__module__", "") or ""
    if isinstance(obj, type) or callable(obj):
        module = getattr(obj, "__module__", "") or module
    return isinstance(module, str) and module.startswith("numpy")


class _Counter:
    """The output stream with its position: joblib's padding depends on where an array starts."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle, self.position = handle, 0

    def write(self, data: Any) -> int:
        self.position += len(data) if isinstance(data, bytes | bytearray) else memoryview(data).nbytes
        return self.handle.write(data)


class _TreePickler(pickle._Pickler):  # type: ignore[name-defined]
    """``numpy_core`` (a name of NUMPY_CORES, or None for whatever the running NumPy writes) keeps
    the module names the file used, so a NumPy 1.x user can still load what NumPy 2 writes."""

    # pickle._Pickler's own members, which typeshed does not declare (for the type checker only)
    proto: int
    framer: Any
    write: Any
    save: Any
    memoize: Any

    # typeshed types the handlers as taking an Unpickler; they take the pickler
    dispatch: ClassVar[dict[type, Callable[..., None]]] = dict(pickle._Pickler.dispatch)
    numpy_core: str | None = None
    py2_strings: frozenset[str] = frozenset()  # text that was a Python 2 byte string (pickle_py2)

    _as_text = False  # inside the codecs.encode call that spells bytes in protocols 0-2

    def save_str(self, obj: str) -> None:
        """A Python 2 byte string goes back as one (protocols 0-2, which Python 2 reads)."""
        if self.proto > 2 or self._as_text or obj not in self.py2_strings:
            pickle._Pickler.save_str(self, obj)  # type: ignore[attr-defined]
            return
        self._py2_string(obj.encode("latin-1"))
        self.memoize(obj)

    def save_bytes(self, obj: bytes) -> None:
        """Bytes that were a Python 2 byte string (a NumPy array's data) go back as one; other
        bytes as ``codecs.encode(text, 'latin1')``, whose text must stay unicode for Python 2."""
        if self.proto > 2 or not self.py2_strings:
            pickle._Pickler.save_bytes(self, obj)  # type: ignore[attr-defined]
            return
        if obj.decode("latin-1") in self.py2_strings:
            self._py2_string(obj)
            self.memoize(obj)
            return
        self._as_text = True
        try:
            pickle._Pickler.save_bytes(self, obj)  # type: ignore[attr-defined]
        finally:
            self._as_text = False

    def _py2_string(self, raw: bytes) -> None:
        if self.proto == 0:  # as Python 2's repr: quoted, escaped; Python 3 reads it with escape_decode
            self.write(pickle.STRING + b"'" + codecs.escape_encode(raw)[0] + b"'\n")
        elif len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)

    dispatch[str] = save_str
    dispatch[bytes] = save_bytes

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = getattr(obj, "__module__", None)
        qualname = name or getattr(obj, "__qualname__", None)
        moved = _moved(module, self.numpy_core) if self.numpy_core and isinstance(module, str) else None
        if moved is not None and isinstance(qualname, str):
            self.save(self._node(moved, qualname))  # written without importing, memoized once
            return
        super().save_global(obj, name)  # type: ignore[misc]  # pickle._Pickler has it; typeshed omits it

    dispatch[types.FunctionType] = save_global  # the base table holds the base method itself

    def _node(self, module: str, name: str) -> GlobalNode:
        nodes = self.__dict__.setdefault("_nodes", {})
        if (module, name) not in nodes:
            nodes[module, name] = GlobalNode(module, name)
        return nodes[module, name]

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is PersistentNode:
            if obj.pid is None:
                raise UnsupportedError("A persistent ID of None cannot be written: it reads as no ID.")
            pid = obj.pid
            if self.proto == 0 and not (isinstance(pid, str) and "\n" not in pid and pid.isascii()):
                raise UnsupportedError("Protocol 0 only writes persistent IDs of one line of ASCII text.")
            return obj.pid
        return None

    def _global(self, node: GlobalNode) -> None:
        module, name = node.module, node.name
        if self.proto >= 3:  # Python 2 names are only translated when reading protocols 0-2
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            else:
                module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            for part in (module, name):
                if not isinstance(part, str) or "\n" in part:
                    raise UnsupportedError(f"The global {node.qualname!r} cannot be written in protocol "
                                           f"{self.proto}: its name is not one line of text.")
            if self.proto >= 3 or (module.isascii() and name.isascii()):
                self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
            else:
                raise UnsupportedError(f"The global {node.qualname!r} has non-ASCII names, which protocol "
                                       f"{self.proto} reads differently.")
        self.memoize(node)
        for op, value in node.mutations:
            self._mutation(op, value)

    def _mutation(self, op: str, value: Any) -> None:
        if op == "build":
            self.save(value)
            self.write(pickle.BUILD)
        elif op == "appends":
            self._items(value)
        elif op == "setitem":
            self.save(value[0])
            self.save(value[1])
            self.write(pickle.SETITEM)
        elif op == "additems":
            self._set_items(value)

    def save_global_node(self, node: GlobalNode) -> None:
        if type(node) is ExtensionNode:
            code = node.code
            if self.proto < 2:
                raise UnsupportedError("Extension codes need protocol 2 or later.")
            if not isinstance(code, int) or not -(2**31) <= code < 2**31:
                raise UnsupportedError(f"Extension code {code!r} does not fit in a pickle.")
            if 0 <= code <= 0xFF:
                self.write(pickle.EXT1 + code.to_bytes(1, "little"))
            elif 0 <= code <= 0xFFFF:
                self.write(pickle.EXT2 + code.to_bytes(2, "little"))
            else:
                self.write(pickle.EXT4 + code.to_bytes(4, "little", signed=True))
            self.memoize(node)
            return
        self._global(node)

    dispatch[GlobalNode] = save_global_node
    dispatch[ExtensionNode] = save_global_node

    def save_costly_key(self, node: CostlyKey) -> None:
        self.save(node.key)  # the memo writes its shared parts once, as the file did

    dispatch[CostlyKey] = save_costly_key

    def _items(self, items: list) -> None:
        for start in range(0, len(items), _BATCH):
            batch = items[start:start + _BATCH]
            if self.proto >= 1 and len(batch) > 1:
                self.write(pickle.MARK)
                for item in batch:
                    self.save(item)
                self.write(pickle.APPENDS)
            else:
                for item in batch:
                    self.save(item)
                    self.write(pickle.APPEND)

    def _set_items(self, items: list) -> None:
        if self.proto < 4:
            raise UnsupportedError(f"Items added to a set-like object (ADDITEMS) need protocol 4; "
                                   f"this is protocol {self.proto}.")
        for start in range(0, len(items), _BATCH):
            self.write(pickle.MARK)
            for item in items[start:start + _BATCH]:
                self.save(item)
            self.write(pickle.ADDITEMS)

    def _dict_items(self, pairs: list) -> None:
        for start in range(0, len(pairs), _BATCH):
            batch = pairs[start:start + _BATCH]
            if self.proto >= 1 and len(batch) > 1:
                self.write(pickle.MARK)
                for key, value in batch:
                    self.save(key)
                    self.save(value)
                self.write(pickle.SETITEMS)
            else:
                for key, value in batch:
                    self.save(key)
                    self.save(value)
                    self.write(pickle.SETITEM)

    def save_call(self, node: CallNode) -> None:
        args = node.args
        if not isinstance(args, tuple):
            raise UnsupportedError(f"The arguments of {node.label()} must be a tuple to be written.")
        kind, kwargs = node.kind, node.kwargs or {}
        if kind in ("newobj", "newobj_ex"):
            if kwargs or kind == "newobj_ex":
                if self.proto >= 4:
                    self.save(node.func)
                    self.save(args)
                    self.save(kwargs)
                    self.write(pickle.NEWOBJ_EX)
                else:  # the same call, spelt the way older protocols can: copyreg.__newobj_ex__
                    self.save(self._helper("__newobj_ex__"))
                    self.save((node.func, args, kwargs))
                    self.write(pickle.REDUCE)
            elif self.proto >= 2:
                self.save(node.func)
                self.save(args)
                self.write(pickle.NEWOBJ)
            else:
                self.save(self._helper("__newobj__"))
                self.save((node.func, *args))
                self.write(pickle.REDUCE)
        else:
            if kwargs:
                raise UnsupportedError(f"{node.label()} passes keyword arguments to a call, which a "
                                       "pickle cannot express.")
            self.save(node.func)
            self.save(args)
            self.write(pickle.REDUCE)
        self.memoize(node)
        self._after(node)

    def _helper(self, name: str) -> GlobalNode:
        helpers = self.__dict__.setdefault("_helpers", {})
        if name not in helpers:
            helpers[name] = GlobalNode("copyreg", name)
        return helpers[name]

    def _after(self, node: CallNode) -> None:
        if node.list_items is not None:
            self._items(node.list_items)
        if node.dict_items is not None:
            self._dict_items(node.dict_items)
        if node.set_items is not None:
            self._set_items(node.set_items)
        if node.state is not NO_STATE:
            self.save(node.state)
            self.write(pickle.BUILD)

    dispatch[CallNode] = save_call

    def save_buffer_node(self, node: BufferNode) -> None:
        raise UnsupportedError(f"The pickle refers to {node.label()}, whose bytes were never in the "
                               "file: it cannot be written back.")

    dispatch[BufferNode] = save_buffer_node


class _JoblibPickler(_TreePickler):
    """Writes arrays as ``joblib.dump`` does: a ``NumpyArrayWrapper`` then the raw bytes, after a
    padding byte count and padding when the file was aligned (so ``mmap_mode`` maps them)."""

    def __init__(self, counter: _Counter, protocol: int, *, aligned: bool, allow_mmap: bool,
                 subclasses: Sequence[tuple[Any, GlobalNode]] = ()) -> None:
        super().__init__(counter, protocol)
        self.counter, self.aligned, self.allow_mmap = counter, aligned, allow_mmap
        self.subclasses = {id(array): node for array, node in subclasses}  # the arrays stay alive there

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        np = sys.modules.get("numpy")
        if np is not None and type(obj) is np.ndarray and not obj.dtype.hasobject:
            self._save_array(obj, np)
            return
        super().save(obj, save_persistent_id)

    def _save_array(self, array: Any, np: Any) -> None:
        order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
        subclass = self.subclasses.get(id(array), np.ndarray)  # np.matrix in old joblib files
        state: dict[str, Any] = {"subclass": subclass, "shape": array.shape, "order": order,
                                 "dtype": array.dtype, "allow_mmap": self.allow_mmap}
        if self.aligned:
            state["numpy_array_alignment_bytes"] = JOBLIB_ALIGNMENT
        wrapper = CallNode(self._node(*_WRAPPER), (), "newobj")
        wrapper.state = state
        super().save(wrapper)
        if self.proto >= 4:
            self.framer.commit_frame(force=True)  # the wrapper's frame ends before the raw bytes
        if self.aligned:
            pad = JOBLIB_ALIGNMENT - (self.counter.position + 1) % JOBLIB_ALIGNMENT
            self.counter.write(bytes([pad]) + b"\xff" * pad)
        # the bytes in the wrapper's order, without a copy of a contiguous array, in 16 MB writes
        flat = np.ascontiguousarray(array if order == "C" else array.T).reshape(-1).view(np.uint8)
        for start in range(0, flat.size, _ARRAY_CHUNK):
            self.counter.write(flat[start:start + _ARRAY_CHUNK].data)


def _depth(value: Any, limit: int) -> int:
    """The nesting depth of ``value`` (iteratively), stopping at ``limit``."""
    deepest, seen = 0, set()
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if id(item) in seen:
            continue
        if isinstance(item, list | tuple | set | frozenset):
            seen.add(id(item))
            todo.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            seen.add(id(item))
            todo.extend((child, depth + 1) for pair in item.items() for child in pair)
        elif isinstance(item, CallNode | GlobalNode | PersistentNode | CostlyKey):
            seen.add(id(item))
            todo.extend((child, depth + 1) for _name, child in item.parts())
    return deepest


class _HasNodes(Exception):
    """The tree holds labelled nodes: only the tree pickler can write it."""


class _PlainPickler(pickle.Pickler):
    """The C pickler, for trees of plain values (containers, scalars, rebuilt allowlisted types).

    ``reducer_override`` is not called for exact builtin containers and scalars, so those go at C
    speed; the first labelled node stops it, because the C pickler would import the module a
    global names to check it (the tree pickler writes globals without importing anything).
    """

    avoid_numpy = False  # NumPy values are left to the tree pickler (module names, joblib layout)

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, CallNode | GlobalNode | PersistentNode | BufferNode | CostlyKey):
            raise _HasNodes
        if self.avoid_numpy and _numpy_object(obj):
            raise _HasNodes
        return NotImplemented


def _dump_plain(value: Any, protocol: int, avoid_numpy: bool = False) -> bytes | None:
    """``value`` pickled by the C pickler, or None when it holds nodes or nests too deep for it."""
    buffer = io.BytesIO()
    try:
        pickler = _PlainPickler(buffer, protocol)
        pickler.avoid_numpy = avoid_numpy
        pickler.dump(value)
    except (_HasNodes, RecursionError):
        return None
    except (pickle.PicklingError, TypeError, ValueError, AttributeError):
        return None  # let the tree pickler say what cannot be written, in its words
    return buffer.getvalue()


def dump_tree_to(value: Any, handle: IO[bytes], protocol: int, *, max_depth: int = 1_000_000,
                 numpy_core: str | None = None, joblib: dict[str, Any] | None = None,
                 py2_strings: frozenset[str] | None = None) -> None:
    """Write ``value`` as a pickle of ``protocol`` (0-5) to ``handle`` (for ``atomic_write_with``).

    ``numpy_core`` ("numpy.core" or "numpy._core") names NumPy's globals as the source file did;
    ``joblib`` ({"aligned": bool, "allow_mmap": bool, "subclasses": [(array, global)]}) writes arrays
    in joblib's layout, each wrapper naming the array subclass the file named for it;
    ``py2_strings`` (``pickle_py2.byte_strings``) are written as Python 2 byte strings in protocols 0-2.
    """
    if not 0 <= protocol <= pickle.HIGHEST_PROTOCOL:
        raise UnsupportedError(f"Pickle protocol {protocol} does not exist (0 to {pickle.HIGHEST_PROTOCOL}).")
    if numpy_core is not None and numpy_core not in NUMPY_CORES:
        raise ValueError(f"numpy_core must be one of {NUMPY_CORES}")
    np = sys.modules.get("numpy")
    if numpy_core is not None and np is not None and _running_core(np) == numpy_core:
        numpy_core = None  # the running NumPy writes these names itself
    py2_strings = py2_strings if py2_strings and protocol <= 2 else None
    plain = None if py2_strings else _dump_plain(value, protocol,
                                                  avoid_numpy=numpy_core is not None or joblib is not None)
    if plain is not None:
        handle.write(plain)
        return
    depth = _depth(value, max_depth)
    if depth > max_depth:
        raise UnsupportedError(f"The value is nested more than {max_depth:,} levels deep.")
    box: dict[str, BaseException] = {}

    def work() -> None:
        try:
            if joblib is not None:
                pickler: _TreePickler = _JoblibPickler(_Counter(handle), protocol, **joblib)  # type: ignore[arg-type]
            else:
                pickler = _TreePickler(handle, protocol)
            pickler.numpy_core = numpy_core
            if py2_strings:
                pickler.py2_strings = py2_strings
            pickler.dump(value)
        except BaseException as exc:
            box["error"] = exc

    old_limit = sys.getrecursionlimit()
    needed = 4 * depth + 1000
    if needed <= old_limit:
        work()
    else:
        old_stack = threading.stack_size(min(_STACK, max(64 * 1024**2, needed * 512)))
        try:
            sys.setrecursionlimit(needed)
            thread = threading.Thread(target=work, name="datashelf-pickle-write", daemon=True)
            thread.start()
        finally:
            threading.stack_size(old_stack)
        thread.join()
        sys.setrecursionlimit(old_limit)
    error = box.get("error")
    if isinstance(error, UnsupportedError | WriteError):
        raise error
    if isinstance(error, RecursionError):
        raise UnsupportedError("The value refers to itself in a way a pickle cannot write "
                               "(a call whose arguments contain the call).") from None
    if isinstance(error, pickle.PicklingError | TypeError | ValueError | AttributeError):
        raise UnsupportedError(f"The value cannot be written as a pickle: {error}") from None
    if error is not None:
        raise error


def _running_core(np: Any) -> str:
    """The package name the running NumPy pickles its globals under."""
    major = np.__version__.split(".")[0]
    return "numpy._core" if major.isdigit() and int(major) >= 2 else "numpy.core"


def dump_tree(value: Any, protocol: int, *, max_depth: int = 1_000_000, numpy_core: str | None = None,
              joblib: dict[str, Any] | None = None, py2_strings: frozenset[str] | None = None) -> bytes:
    """``value`` as pickle bytes of ``protocol`` (options as for ``dump_tree_to``)."""
    buffer = io.BytesIO()
    dump_tree_to(value, buffer, protocol, max_depth=max_depth, numpy_core=numpy_core, joblib=joblib,
                 py2_strings=py2_strings)
    return buffer.getvalue()
