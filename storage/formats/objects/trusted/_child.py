"""The child side of ``trusted_load``: load a file with its real loader, write the neutral tree, exit.

Started by ``storage.formats.objects.trusted.load`` as ``python -I -c <boot> ROOT SPEC`` in a fresh temporary
folder.
This is the only place a trusted file's code runs. It reports a failure as ``error.json`` (type,
message, phase) and exits with ``os._exit`` so nothing the file left behind (threads, atexit hooks,
finalisers) runs after the result is written.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import sys
import traceback
from typing import Any

from storage.formats.objects.trusted._convert import Converter


class _Failure(Exception):
    """A failure with the phase it happened in (and the shelf key, if any)."""

    def __init__(self, phase: str, exc: BaseException, key: str | None = None) -> None:
        super().__init__(phase)
        self.phase, self.exc, self.key = phase, exc, key


def _decompressed(handle: Any) -> Any:
    """What pandas' ``read_pickle`` reads of a compressed pickle (.pkl.gz, .bz2, .xz, .zst, .zip),
    or None when ``handle`` is not one: the decompressed stream of its one pickle."""
    head = handle.read(6)
    handle.seek(0)
    if head.startswith(b"\x1f\x8b"):
        import gzip

        return gzip.GzipFile(fileobj=handle)
    if head.startswith(b"BZh"):
        import bz2

        return bz2.BZ2File(handle)
    if head.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return lzma.LZMAFile(handle)
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(handle)
    if head.startswith(b"PK\x03\x04"):
        import zipfile

        archive = zipfile.ZipFile(handle)
        names = archive.namelist()
        if len(names) == 1:
            return archive.open(names[0])
    return None


def _load_pickles(path: str) -> tuple[Any, int]:
    """One pickle, or the list of several stacked in one file; a compressed pickle as pandas
    reads it (its one pickle)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below; open errors are a separate phase)
        stream = _decompressed(handle)
    except Exception as exc:
        raise _Failure("open", exc) from None
    if stream is not None:
        with handle, stream:
            return pickle.load(stream), 1
    with handle:
        size = os.fstat(handle.fileno()).st_size
        values = []
        while True:
            values.append(pickle.load(handle))
            if handle.tell() >= size:
                break
    return (values[0] if len(values) == 1 else values), len(values)


def _shelf_name(path: str) -> str:
    """The name ``shelve.open`` wants: a dbm.dumb shelf's base name when given one of its files."""
    import dbm

    stem, ext = os.path.splitext(path)
    if ext in (".dat", ".dir", ".bak") and not dbm.whichdb(path) and dbm.whichdb(stem) == "dbm.dumb":
        return stem
    return path


def _load_shelf(path: str, key: str | None) -> Any:
    import shelve

    try:
        shelf = shelve.open(_shelf_name(path), flag="r")  # noqa: SIM115 (closed below)
    except Exception as exc:
        raise _Failure("open", exc) from None
    with shelf:
        if key is not None:
            if key not in shelf:
                raise _Failure("key", KeyError(key), key)
            try:
                return shelf[key]
            except Exception as exc:
                raise _Failure("load", exc, key) from None
        values = {}
        for name in list(shelf.keys()):
            try:
                values[name] = shelf[name]
            except Exception as exc:
                raise _Failure("load", exc, name) from None
        return values


def load_pickles(path: str, _key: str | None) -> tuple[Any, int]:
    return _load_pickles(path)


def load_joblib(path: str, _key: str | None) -> tuple[Any, int]:
    import joblib

    return joblib.load(path), 1


def load_npy(path: str, _key: str | None) -> tuple[Any, int]:
    import numpy as np

    return np.load(path, allow_pickle=True), 1


def load_npz(path: str, _key: str | None) -> tuple[Any, int]:
    import numpy as np

    with np.load(path, allow_pickle=True) as archive:
        return {name: archive[name] for name in archive.files}, 1


def load_shelf(path: str, key: str | None) -> tuple[Any, int]:
    return _load_shelf(path, key), 1


def load(path: str, loader: str, key: str | None) -> tuple[Any, int]:
    """The object the real loader gives, and how many stacked pickles it came from.

    ``loader`` is the format's ``trusted_loader`` in ``storage.formats.registry``, a dotted
    ``"module:function"`` name taking ``(path, key)``.
    """
    import importlib

    module, _, name = loader.partition(":")
    return getattr(importlib.import_module(module), name)(path, key)


def _type_of(exc: BaseException) -> str:
    """The exception's name as users know it: ``pickle.UnpicklingError``, not ``_pickle.…``."""
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    public = sys.modules.get(module[1:]) if module.startswith("_") else None
    if public is not None and getattr(public, cls.__name__, None) is cls:
        module = module[1:]
    return f"{module}.{cls.__qualname__}"


def _report(spec: dict, failure: _Failure) -> None:
    try:
        message = str(failure.exc)
    except Exception:
        message = "(the exception's message could not be read)"
    if isinstance(failure.exc, KeyError) and failure.phase == "key":
        message = ""
    info = {"phase": failure.phase, "type": _type_of(failure.exc), "message": message[:2000],
            "key": failure.key}
    with open(spec["error"], "w", encoding="utf-8") as handle:
        json.dump(info, handle)
    traceback.print_exception(failure.exc, file=sys.stderr)


def _exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def main(spec_json: str) -> None:
    """Load, convert and write the result named in ``spec_json``; never returns."""
    spec = json.loads(spec_json)
    gc.disable()  # a short-lived process that ends with os._exit: full collections would only cost time
    sys.path.extend(spec["extra_path"])
    try:
        try:
            value, stacked = load(spec["path"], spec["loader"], spec["key"])
        except _Failure:
            raise
        except BaseException as exc:  # SystemExit too: a file may call sys.exit()
            raise _Failure("load", exc) from None
        try:
            converter = Converter(spec["max_nodes"], spec["max_depth"])
            tree = converter.convert(value)
            meta = {"repr_count": converter.repr_count, "truncated": converter.truncated, "stacked": stacked}
            # The tree is at most max_depth deep and pickling it recurses a few C frames per level; the
            # limit is raised only here, where no code of the file's runs (repr() ran under the default).
            sys.setrecursionlimit(max(sys.getrecursionlimit(), spec["max_depth"] * 8 + 2000))
            data = pickle.dumps((meta, tree), protocol=5)
        except BaseException as exc:
            raise _Failure("convert", exc) from None
    except _Failure as failure:
        _report(spec, failure)
        _exit(3)
    part = spec["result"] + ".part"
    with open(part, "wb") as handle:
        handle.write(data)
    os.replace(part, spec["result"])
    _exit(0)
