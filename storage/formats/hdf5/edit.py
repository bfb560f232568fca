"""Writing to an HDF5 file in place, after a ``.bak`` copy: cells, attributes, groups, datasets.

HDF5 cannot be saved atomically (the library writes in place), so :func:`make_writable` first
copies the file to ``NAME.bak`` and only then reopens it for writing. Nothing is written into any
other file: a change through an external link, or to a dataset whose values live in external
storage or a virtual dataset's sources, is refused (:func:`_only_this_file`). Each change returns what
it replaced, so an undo command can put it back. A deleted object is first copied into a
scratch file (``Scratch``) so that deleting can be undone.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from storage.core.atomic import backup_copy
from storage.core.errors import UnsupportedError, WriteError
from storage.formats.hdf5.io import H5File, _h5py
from storage.formats.hdf5.outside import refuse_write


def backup_path(path: str) -> str:
    return path + ".bak"


def make_writable(h5: H5File, backup: bool = True) -> str:
    """Copy the file to ``.bak`` and reopen it for writing; return the copy's path.

    ``backup=False`` when this session already made the copy: a second copy would replace the
    original with the edited file.
    """
    if h5.writable:
        return backup_path(h5.path)
    if h5.lock_note:
        raise WriteError("The file is open for writing in another program; it cannot be edited here.")
    bak = backup_path(h5.path)
    with h5.lock:
        h5.close()
        try:
            if backup:
                backup_copy(h5.path)  # through a temporary: a .bak symlink is replaced, not followed
        except OSError as exc:
            h5._open(False)
            raise WriteError(f"Could not make the backup {os.path.basename(bak)}: "
                             f"{exc.strerror or exc}. The file stays read-only.") from None
        try:
            h5._open(True)
        except Exception:
            h5._open(False)
            raise
    return bak


def make_readonly(h5: H5File) -> None:
    if h5.writable:
        h5.reopen(False)


def _require(h5: H5File) -> Any:
    if not h5.writable or h5.handle is None:
        raise WriteError("The file is read-only; switch to writable mode first.")
    return h5.handle


def parse_value(text: str, dtype: np.dtype) -> Any:
    """Text typed by the user as a value of ``dtype``; ValueError with a reason when it does not fit."""
    h5py = _h5py()
    text = text.strip() if dtype.kind not in "SUO" else text
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU":
        info = h5py.check_string_dtype(dtype)
        encoded = text.encode(info.encoding if info else "utf-8")
        if dtype.kind == "S" and len(encoded) > dtype.itemsize:
            raise ValueError(f"at most {dtype.itemsize} bytes fit in this field")
        return encoded if dtype.kind == "S" else text
    if dtype.kind == "b":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError("expected true or false")
    if dtype.kind in "iu":
        try:
            number = int(text, 0)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
        limits = np.iinfo(dtype)
        if not limits.min <= number <= limits.max:
            raise ValueError(f"{number} does not fit in {dtype} ({limits.min}…{limits.max})")
        return dtype.type(number)
    if dtype.kind == "f":
        try:
            return dtype.type(float(text))
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if dtype.kind == "c":
        try:
            return dtype.type(complex(text.replace(" ", "")))
        except ValueError:
            raise ValueError(f"{text!r} is not a complex number") from None
    raise ValueError(f"values of type {dtype} cannot be edited as text")


def parse_attribute(text: str) -> Any:
    """An attribute typed as a Python literal (``3``, ``1.5``, ``[1, 2]``, ``'x'``); else plain text."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, list | tuple):
        return np.asarray(value)
    if isinstance(value, int | float | str | bool | bytes | complex):
        return value
    return text


def _only_this_file(h5: H5File, path: str, *, node: bool = True, values: bool = False) -> None:
    """WriteError when changing ``path`` (``node``: the object itself, else a member of its
    group) would write into another file than the opened one."""
    where = path if node else (path.rstrip("/").rpartition("/")[0] or "/")
    refs = h5.route(where)
    if values and not refs:
        refs = h5.sources(path, h5._get(path))
    refuse_write(path, refs)


def _cell_selection(coords: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(c) for c in coords)


def set_cell(h5: H5File, path: str, coords: tuple[int, ...], value: Any, field: str | None = None) -> Any:
    """Write one element (or one field of it); return the previous value."""
    with h5.lock:
        _require(h5)
        _only_this_file(h5, path, values=True)
        item = h5._get(path)
        selection = _cell_selection(coords) if coords else ()
        old = item[selection] if selection else item[()]
        try:
            if field:
                record = np.array(old, dtype=item.dtype)
                record[field] = value
                item[selection or ()] = record
                return np.asarray(old)[field].copy() if isinstance(old, np.ndarray) else old[field]
            item[selection or ()] = value
        except Exception as exc:
            raise WriteError(f"Could not write to {path}: {exc}") from None
        return old


def get_attribute(h5: H5File, path: str, name: str) -> Any:
    """The raw value of an attribute, or None when it does not exist."""
    with h5.lock:
        item = h5._get(path)
        return item.attrs.get(name, None)


def set_attribute(h5: H5File, path: str, name: str, value: Any) -> None:
    """Create or replace an attribute; ``None`` deletes it."""
    with h5.lock:
        _require(h5)
        _only_this_file(h5, path)
        attrs = h5._get(path).attrs
        try:
            if value is None:
                if name in attrs:
                    del attrs[name]
            else:
                attrs[name] = value
        except Exception as exc:
            raise WriteError(f"Could not set attribute {name!r} of {path}: {exc}") from None


def create_group(h5: H5File, path: str) -> None:
    with h5.lock:
        handle = _require(h5)
        _only_this_file(h5, path, node=False)
        try:
            handle.create_group(path)
        except Exception as exc:
            raise WriteError(f"Could not create group {path}: {exc}") from None


def create_dataset(h5: H5File, path: str, shape: tuple[int, ...], dtype: str) -> None:
    with h5.lock:
        handle = _require(h5)
        _only_this_file(h5, path, node=False)
        try:
            handle.create_dataset(path, shape=shape, dtype=np.dtype(dtype),
                                  chunks=True if shape and int(np.prod(shape)) > 65536 else None)
        except Exception as exc:
            raise WriteError(f"Could not create dataset {path}: {exc}") from None


class Scratch:
    """A private temporary HDF5 file holding deleted objects, so a delete can be undone."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="datashelf-h5-")
        self.handle: Any = None
        self.counter = 0

    def _file(self) -> Any:
        if self.handle is None:
            self.handle = _h5py().File(os.path.join(self.folder, "deleted.h5"), "w")
        return self.handle

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        shutil.rmtree(self.folder, ignore_errors=True)


def delete_node(h5: H5File, path: str, scratch: Scratch) -> str:
    """Delete ``path`` after copying it into ``scratch``; return the key to restore it with."""
    with h5.lock:
        handle = _require(h5)
        if path in ("", "/"):
            raise UnsupportedError("the root group cannot be deleted")
        _only_this_file(h5, path, node=False)  # deleting the link itself changes only this file
        scratch.counter += 1
        key = f"item{scratch.counter}"
        try:
            link = handle.get(path, getlink=True)
            h5py = _h5py()
            if isinstance(link, h5py.ExternalLink | h5py.SoftLink):
                scratch._file().attrs[key] = repr(("link", type(link).__name__,
                                                   getattr(link, "filename", ""), link.path))
            else:
                handle.copy(handle[path], scratch._file(), name=key)
            del handle[path]
        except Exception as exc:
            raise WriteError(f"Could not delete {path}: {exc}") from None
        return key


def restore_node(h5: H5File, path: str, scratch: Scratch, key: str) -> None:
    """Put back what :func:`delete_node` removed."""
    h5py = _h5py()
    with h5.lock:
        handle = _require(h5)
        _only_this_file(h5, path, node=False)
        store = scratch._file()
        try:
            if key in store.attrs:
                _kind, cls, filename, target = ast.literal_eval(store.attrs[key])
                handle[path] = (h5py.ExternalLink(filename, target) if cls == "ExternalLink"
                                else h5py.SoftLink(target))
            else:
                store.copy(store[key], handle, name=path)
        except Exception as exc:
            raise WriteError(f"Could not restore {path}: {exc}") from None


def flush(h5: H5File) -> None:
    with h5.lock:
        if h5.handle is not None and h5.writable:
            h5.handle.flush()
