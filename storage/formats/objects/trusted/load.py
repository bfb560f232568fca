"""Trust and load: run the real loader for a file the user vouches for, in a separate process.

The file's code runs only in a child Python (``storage.formats.objects.trusted._child``), started isolated
(``-I``)
with a fresh temporary working folder and no stdin, and killed on cancel or timeout. The child turns
what it loaded into a neutral tree of plain values and ``Repr`` stand-ins and pickles it to a file;
this side reads that file with an unpickler that can build nothing but containers, scalars, dates,
``Decimal``, numpy arrays decoded from ``.npy`` bytes and ``Repr``, so the child cannot run code here.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

from storage.core.errors import KnownError, UnreadableError
from storage.formats import registry as format_registry

POLL_SECONDS = 0.05
TAIL_BYTES = 4000
_ROOT = str(Path(__file__).resolve().parents[4])
# -I leaves PYTHONPATH, the script folder and the working folder off sys.path, so `-m storage...`
# could not find this checkout: put its root first just long enough to import the child module.
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from storage.formats.objects.trusted._child import main; "
         "del sys.path[0]; main(sys.argv[2])")


@dataclass(eq=False)
class Repr:
    """A loaded value that cannot cross the process boundary as itself: its type and repr, browsable.

    ``type_qualname`` is ``module.QualName`` (just the name for builtins). ``repr_text`` is ``repr()``
    capped at 10 kB, or ``<repr failed: Type: message>``. ``attributes`` holds the object's
    ``__dict__`` and ``__slots__`` values, converted like everything else. ``value`` is the built-in
    value inside a subclass of a built-in type (the dict of an OrderedDict, the tuple of a namedtuple,
    the int of an IntEnum, the element list of an object array), else None. ``cut`` marks a stand-in
    for what the depth or size limit left out. Hashed by identity, so it can be a dict key.
    """

    type_qualname: str
    repr_text: str
    attributes: dict = field(default_factory=dict)
    value: Any = None
    cut: bool = False

    def __reduce__(self) -> tuple:
        # State goes through BUILD, after the object is memoised, so cycles through attributes work.
        state = {"type_qualname": self.type_qualname, "repr_text": self.repr_text,
                 "attributes": self.attributes, "value": self.value, "cut": self.cut}
        return (_new_repr, (), state)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict) or set(state) != {"type_qualname", "repr_text", "attributes",
                                                         "value", "cut"}:
            raise pickle.UnpicklingError("malformed Repr state")
        if not (isinstance(state["type_qualname"], str) and isinstance(state["repr_text"], str)
                and isinstance(state["attributes"], dict) and isinstance(state["cut"], bool)):
            raise pickle.UnpicklingError("malformed Repr state")
        for name, item in state.items():
            object.__setattr__(self, name, item)


def _new_repr() -> Repr:
    """An empty Repr for the result unpickler to fill (takes no arguments on purpose)."""
    return Repr("", "")


def _array_from_npy(data: Any, scalar: Any) -> Any:
    """A numpy array (or numpy scalar) from ``.npy`` bytes, never unpickling anything."""
    if not isinstance(data, bytes) or not isinstance(scalar, bool):
        raise pickle.UnpicklingError("malformed array")
    import numpy as np

    array = np.load(io.BytesIO(data), allow_pickle=False)
    return array[()] if scalar else array


@dataclass
class TrustedResult:
    """What a trusted load gave: the neutral tree and how it went.

    ``value`` is the loaded object as plain values and ``Repr`` nodes (for stacked pickles, the list
    of them; for a shelf without a key, a dict of every key's value). ``repr_count`` counts ``Repr``
    nodes; ``elapsed`` is wall seconds; the tails are the last few kB the file's code printed.
    """

    value: Any
    repr_count: int
    elapsed: float
    stdout_tail: str
    stderr_tail: str
    truncated: bool = False
    stacked: int = 1


class TrustedLoadError(KnownError):
    """Loading in the separate process failed: the file's code raised, or the process died.

    ``exc_type`` and ``exc_message`` are the child's exception (empty when it died without one);
    ``phase`` is "open", "load", "key", "convert", "crash", "timeout", "cancel" or "result".
    """

    def __init__(self, message: str, *, phase: str, exc_type: str = "", exc_message: str = "",
                 stderr_tail: str = "") -> None:
        super().__init__(message)
        self.phase = phase
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.stderr_tail = stderr_tail


class TrustedLoadTimeout(TrustedLoadError):
    """Loading took longer than the timeout; the process was killed."""


class TrustedLoadCancelled(TrustedLoadError):
    """The caller cancelled; the process was killed."""


_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "complex"): complex, ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray, ("datetime", "datetime"): datetime, ("datetime", "date"): date,
    ("datetime", "time"): dtime, ("datetime", "timedelta"): timedelta, ("datetime", "timezone"): timezone,
    ("decimal", "Decimal"): Decimal, (__name__, "_new_repr"): _new_repr,
    (__name__, "_array_from_npy"): _array_from_npy,
}


class _ResultUnpickler(pickle.Unpickler):
    """Reads the child's tree: exact allowlisted globals only, never an import."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            found = _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"the result names {module}.{name}, which is not allowed") from None
        # BUILD can setattr on whatever is on the stack: hand out a fresh partial rather than our own
        # function, so a hostile stream can only change a throwaway object (built-in types refuse).
        return functools.partial(found) if isinstance(found, types.FunctionType) else found


def read_result(data: bytes) -> tuple[dict, Any]:
    """The ``(meta, tree)`` pair the child wrote, rebuilt without running any code it names."""
    payload = _ResultUnpickler(io.BytesIO(data)).load()
    if not (isinstance(payload, tuple) and len(payload) == 2 and isinstance(payload[0], dict)):
        raise pickle.UnpicklingError("the result is not a (meta, tree) pair")
    meta = payload[0]
    for name, kind in (("repr_count", int), ("truncated", bool), ("stacked", int)):
        if not isinstance(meta.get(name), kind):
            raise pickle.UnpicklingError(f"the result's {name} is missing")
    return meta, payload[1]


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _kill(proc: subprocess.Popen) -> None:
    """Kill the child and anything it started (it leads its own session), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()
    proc.wait()


def _check_path(path: str, kind: str) -> None:
    candidates = [path]
    if kind == "shelve":
        stem, ext = os.path.splitext(path)
        candidates += [path + ".dat", path + ".db", stem + ".dat" if ext in (".dat", ".dir", ".bak") else ""]
    if not any(c and os.path.isfile(c) for c in candidates):
        raise UnreadableError(f"There is no file {path!r} to load.")


def _child_error(info: dict, stderr_tail: str) -> TrustedLoadError:
    """The user's message for an error the child reported in ``error.json``."""
    phase = str(info.get("phase", "load"))
    exc_type, exc_message = str(info.get("type", "")), str(info.get("message", ""))
    what = f"{exc_type}: {exc_message}" if exc_message else exc_type
    key = info.get("key")
    if phase == "key":
        message = f"The shelf has no key {key!r}."
    elif phase == "open":
        message = f"The file could not be opened for loading: {what}"
    elif phase == "convert":
        message = f"The file loaded, but its content could not be prepared for display: {what}"
    elif key is not None:
        message = f"Loading key {key!r} ran the file's code and it failed: {what}"
    else:
        message = f"Loading ran the file's code and it failed: {what}"
    return TrustedLoadError(message, phase=phase, exc_type=exc_type, exc_message=exc_message,
                            stderr_tail=stderr_tail)


def trusted_load(path: str | os.PathLike[str], kind: str, *, key: str | bytes | None = None,
                 timeout: float = 120, cancel: Callable[[], bool] | None = None,
                 max_nodes: int = 2_000_000, max_depth: int = 1000,
                 extra_path: Sequence[str | os.PathLike[str]] = ()) -> TrustedResult:
    """Load ``path`` with the real loader for ``kind`` in a separate process and return its tree.

    Blocks until done (call it from a worker). ``cancel`` is polled every 50 ms; returning True kills
    the child. ``extra_path`` folders are appended to the child's ``sys.path`` so the file's classes
    can be imported; nothing else of this process's path is. ``key`` picks one shelf value.
    Raises ``UnreadableError`` for a missing file and ``TrustedLoadError`` (or its ``Timeout`` and
    ``Cancelled`` subclasses) for everything that goes wrong in the child.
    """
    kinds = tuple(f.name for f in format_registry.with_hook("trusted_loader")
                  if isinstance(f.trusted_loader, str))  # a dotted name: the child process imports it
    if kind not in kinds:
        raise ValueError(f"unknown kind {kind!r}; expected one of {kinds}")
    if key is not None and kind != "shelve":
        raise ValueError("key only applies to kind 'shelve'")
    path = os.path.abspath(os.fspath(path))
    _check_path(path, kind)
    top = tempfile.mkdtemp(prefix="datashelf-trust-")
    try:
        loader = format_registry.get(kind).trusted_loader  # type: ignore[union-attr]  # checked above
        return _run(path, str(loader), key, timeout, cancel, max_nodes, max_depth, extra_path, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _run(path: str, loader: str, key: str | bytes | None, timeout: float, cancel: Callable[[], bool] | None,
         max_nodes: int, max_depth: int, extra_path: Sequence[str | os.PathLike[str]],
         top: str) -> TrustedResult:
    workdir = os.path.join(top, "cwd")
    os.mkdir(workdir)
    result_path, error_path = os.path.join(top, "result.pickle"), os.path.join(top, "error.json")
    out_path, err_path = os.path.join(top, "stdout"), os.path.join(top, "stderr")
    spec = {"path": path, "loader": loader, "key": key.decode("utf-8", "surrogateescape")
            if isinstance(key, bytes) else key, "max_nodes": int(max_nodes), "max_depth": int(max_depth),
            "extra_path": [os.path.abspath(os.fspath(p)) for p in extra_path],
            "result": result_path, "error": error_path}
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, _ROOT, json.dumps(spec)],
                                cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                close_fds=True, start_new_session=True)
    try:
        while True:
            try:
                code = proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel():
                _kill(proc)
                raise TrustedLoadCancelled("Loading was cancelled; the loading process was stopped.",
                                           phase="cancel")
            if time.monotonic() - started > timeout:
                _kill(proc)
                raise TrustedLoadTimeout(f"Loading took longer than {timeout:g} s and was stopped. "
                                         "The file's code may be waiting or looping.", phase="timeout")
    finally:
        if proc.poll() is None:
            _kill(proc)
    elapsed = time.monotonic() - started
    stdout_tail, stderr_tail = _tail(out_path), _tail(err_path)
    if code != 0:
        raise _failure(code, error_path, stderr_tail)
    try:
        with open(result_path, "rb") as handle:
            meta, value = read_result(handle.read())
    except Exception as exc:  # the child ran untrusted code: its result may be anything
        raise TrustedLoadError(f"The loading process gave a result that could not be read: {exc}",
                               phase="result", stderr_tail=stderr_tail) from None
    return TrustedResult(value, meta["repr_count"], elapsed, stdout_tail, stderr_tail,
                         meta["truncated"], meta["stacked"])


def _failure(code: int, error_path: str, stderr_tail: str) -> TrustedLoadError:
    """The error for a child that exited non-zero: its report if it wrote one, else how it died."""
    try:
        with open(error_path, encoding="utf-8") as handle:
            info = json.load(handle)
        if isinstance(info, dict):
            return _child_error(info, stderr_tail)
    except (OSError, ValueError):
        pass
    last = _last_line(stderr_tail)
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with status {code} without a result"
    detail = f" Last message: {last}" if last else ""
    return TrustedLoadError(f"The loading process {how}: the file's code may have ended it.{detail}",
                            phase="crash", stderr_tail=stderr_tail)
