"""Reading HDF5 files (h5py, PyTables, netCDF4) lazily and safely.

An :class:`H5File` is opened read-only; children of a group are listed in batches, a dataset is
read one 2-D window at a time (:meth:`H5File.read_window`), so a 10^10-element dataset is never
read whole. Every h5py call goes through one lock, so workers and the GUI thread can share the
handle, and every failure becomes a :class:`~storage.core.errors.KnownError` with a readable message.

Data in other files (external links, external raw storage, virtual dataset sources; see
:mod:`storage.formats.hdf5.outside`) is named on its node, read only when it is in the file's folder or
the user allowed reading outside it (:attr:`H5File.allow_outside`), and never reached while the
file is open for writing (the library would open the other file for writing too).
"""

from __future__ import annotations

import errno
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np

from storage.core.decompression import decompression_limit, size_text
from storage.core.errors import DecompressionLimitError, ParseError, UnreadableError, UnsupportedError
from storage.formats.hdf5.node import BATCH, H5Node
from storage.formats.hdf5.outside import (
    OutsideData,
    OutsideRefused,
    dataset_access,
    dataset_sources,
    reference,
)
from storage.formats.hdf5.values import decode_bytes, describe_dtype, format_value

__all__ = ["BATCH", "Attribute", "DatasetInfo", "H5File", "H5Node", "Window"]

MAX_WINDOW_CELLS = 2_000_000
_FILTER_NAMES = {1: "gzip", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset",
                 32001: "blosc", 32004: "lz4", 32008: "bitshuffle", 32015: "zstd", 307: "bzip2",
                 32000: "lzf"}


def _h5py():
    try:
        import h5py
    except ImportError:
        raise UnsupportedError("h5py is not installed, so HDF5 files cannot be read "
                               "(pip install h5py)") from None
    return h5py


@dataclass
class Attribute:
    name: str
    value: str
    dtype: str
    shape: tuple[int, ...] | None


@dataclass
class DatasetInfo:
    path: str
    shape: tuple[int, ...]
    dtype: str
    numeric: bool
    fields: tuple[str, ...] = ()
    chunks: tuple[int, ...] | None = None
    compression: str | None = None
    compression_opts: Any = None
    filters: list[str] = field(default_factory=list)
    fillvalue: str = ""
    storage_bytes: int = 0
    warnings: list[str] = field(default_factory=list)
    maxshape: tuple[int | None, ...] | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class Window:
    """A 2-D block of cells as text, with where it starts."""

    row_start: int
    col_start: int
    cells: list[list[str]]
    values: np.ndarray | None = None  # the numbers themselves, for plots (numeric data only)


def _exists_or_refuse(ref: OutsideData) -> None:
    """A missing other file is never looked for: the library would then try other places (the
    current folder, the bare file name) and could read a file nobody named."""
    if not os.path.exists(ref.target):
        raise UnreadableError(f"{ref.node}: {ref.kind} {ref.target} does not exist, so it is not read "
                              "(the HDF5 library would look for a file of that name elsewhere)")


def _open_error(path: str, exc: BaseException) -> Exception:
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == errno.ENOENT:
        return UnreadableError(f"Cannot open {path}: the file does not exist")
    if isinstance(exc, PermissionError) or "ermission denied" in text:
        return UnreadableError(f"Cannot open {path}: permission denied")
    if "truncated" in text or "signature" in text or "superblock" in text or "eof" in text.lower():
        return ParseError(f"{os.path.basename(path)} is not a readable HDF5 file (truncated or "
                          f"damaged): {text}")
    return ParseError(f"The HDF5 library cannot read {os.path.basename(path)}: {text}")


def dtype_of(item: Any, path: str) -> np.dtype:
    """``item.dtype``, or ParseError: h5py raises ValueError for a damaged datatype message."""
    try:
        return item.dtype
    except Exception as exc:
        raise ParseError(f"{path}: its data type cannot be read: {exc}") from None


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("unable to lock" in text or "locking" in text
                               or getattr(exc, "errno", None) in (errno.EAGAIN, errno.EWOULDBLOCK))


class H5File:
    """A read-only (or, after :meth:`storage.formats.hdf5.edit.make_writable`, writable) HDF5 handle."""

    def __init__(self, path: str, writable: bool = False) -> None:
        self.path = os.path.abspath(path)
        self.lock = threading.RLock()
        self.lock_note = ""  # set when the file was locked by another writer
        self.writable = False
        self.handle: Any = None
        self.reads = 0  # window reads, for tests and benchmarks
        self.cells_read = 0
        self.allow_outside = False  # the user allowed reading data outside the file's folder
        self._dapl: Any = None
        # What route()/sources()/_open_dataset learnt per path, while the file is read-only (its
        # links and layouts cannot change then): a tile read asks the library nothing twice.
        self._known: dict[tuple[str, str], Any] = {}
        self._heap_damaged: bool | None = None
        self._open(writable)

    def _open(self, writable: bool) -> None:
        h5py = _h5py()
        self._known.clear()
        mode = "r+" if writable else "r"
        try:
            self.handle = h5py.File(self.path, mode)
        except OSError as exc:
            if not _is_lock_error(exc) or writable:
                if writable and _is_lock_error(exc):
                    raise UnreadableError(f"{os.path.basename(self.path)} is open for writing in "
                                          "another program; close it there before editing") from None
                raise _open_error(self.path, exc) from None
            try:  # another process writes the file: read what is on disk without taking a lock
                self.handle = h5py.File(self.path, "r", locking=False)
            except OSError as again:
                raise _open_error(self.path, again) from None
            self.lock_note = ("The file is locked: another program has it open for writing. It is "
                              "shown read-only without a lock, as it is on disk now; what that program "
                              "has not flushed yet is missing and some parts may look inconsistent.")
        except Exception as exc:  # h5py raises ValueError, RuntimeError, … for damaged files
            raise _open_error(self.path, exc) from None
        self.writable = writable

    def close(self) -> None:
        with self.lock:
            if self.handle is not None:
                try:
                    self.handle.close()
                finally:
                    self.handle = None

    def reopen(self, writable: bool) -> None:
        with self.lock:
            self.close()
            self._open(writable)

    def __enter__(self) -> H5File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_vlen(self, dtype: Any) -> None:
        """Refuse (ParseError) to read variable-length values the HDF5 library would hang on."""
        from storage.formats.hdf5.guard import check_vlen

        self._heap_damaged = check_vlen(self.path, dtype, self._heap_damaged)

    # -- tree --------------------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        if self.handle is None:
            raise UnreadableError("the file is closed")
        self._check_route(path)
        try:
            item = self.handle[path]
            if isinstance(item, _h5py().Dataset) and self._relative_names(path, item):
                del item  # the library refuses a second prefix while the dataset is open
                return self._open_dataset(path)
            return item
        except KeyError as exc:
            raise UnreadableError(f"{path} cannot be read: {exc}") from None
        except Exception as exc:
            raise ParseError(f"{path} cannot be read: {exc}") from None

    def _memo(self, kind: str, path: str, compute: Callable[[], Any]) -> Any:
        if self.writable:  # edits may add or remove links: ask every time
            return compute()
        key = (kind, path)
        if key not in self._known:
            self._known[key] = compute()
        return self._known[key]

    def _relative_names(self, path: str, item: Any) -> bool:
        """True when external storage or VDS sources of ``item`` are named relative to a folder."""
        def compute() -> bool:
            h5py = _h5py()
            plist = item.id.get_create_plist()
            names = [plist.get_external(i)[0] for i in range(plist.get_external_count())]
            if plist.get_layout() == h5py.h5d.VIRTUAL:
                names += [plist.get_virtual_filename(i) for i in range(plist.get_virtual_count())]
            return any(not os.path.isabs(os.fsdecode(n)) and os.fsdecode(n) != "." for n in names)

        return bool(self._memo("relative", path, compute))

    def _open_dataset(self, path: str) -> Any:
        """The dataset reopened with our access list, so that relative names of its external
        storage or VDS sources resolve against the file's folder (the library's default for
        external storage is the current folder)."""
        h5py = _h5py()
        name = path.encode("utf-8", "surrogateescape")
        try:
            return h5py.Dataset(h5py.h5d.open(self.handle.id, name, dapl=self._dataset_access()))
        except Exception as exc:
            if "prefix" not in str(exc):
                raise
        raise UnreadableError(f"{path} keeps its data in other files named relative to a folder, and "
                              "it is open elsewhere in this program without that folder; reopen the file")

    def _dataset_access(self) -> Any:
        if self._dapl is None:
            self._dapl = dataset_access(_h5py())
        return self._dapl

    def route(self, path: str, depth: int = 0) -> list[OutsideData]:
        """The external links crossed on the way to ``path`` (``path`` itself included), soft
        links of this file followed (a few levels deep)."""
        return list(self._memo("route", f"{depth}:{path}", lambda: self._route(path, depth)))

    def _route(self, path: str, depth: int) -> list[OutsideData]:
        h5py = _h5py()
        found: list[OutsideData] = []
        base, current = self.path, ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            try:
                link = self.handle.get(current, getlink=True)
            except Exception:
                break  # the access that follows reports it
            if isinstance(link, h5py.ExternalLink):
                found.append(reference(base, current, "external link", link.filename, judged_by=self.path))
                base = found[-1].target  # further links resolve against the linked file
            elif isinstance(link, h5py.SoftLink) and not found and depth < 8:
                parent = current.rpartition("/")[0] or "/"
                target = link.path if link.path.startswith("/") else f"{parent.rstrip('/')}/{link.path}"
                found.extend(self.route(target, depth + 1))
        return found

    def _check_route(self, path: str) -> None:
        """Raise unless every external link on the way to ``path`` may be followed now."""
        for ref in self.route(path):
            _exists_or_refuse(ref)
            if self.writable:
                raise UnsupportedError(f"{ref.node} is an external link to {ref.target}: links are not "
                                       "followed while the file is open for writing (the library would "
                                       "open that file for writing too). Reload opens it read-only.")
            if ref.outside and not self.allow_outside:
                raise OutsideRefused(ref)

    def sources(self, path: str, item: Any) -> list[OutsideData]:
        """The other files the dataset ``item`` at ``path`` reads its values from."""
        def compute() -> list[OutsideData]:
            links = self.route(path)
            owner = links[-1].target if links else self.path  # names resolve against their own file
            return dataset_sources(owner, path, item, judged_by=self.path)

        return list(self._memo("sources", path, compute))

    def data(self, path: str) -> Any:
        """The dataset at ``path``, to read its values: refused while they live outside the
        file's folder (until allowed), or in a virtual dataset's sources while writable."""
        item = self._get(path)
        if isinstance(item, _h5py().Dataset):
            for ref in self.sources(path, item):
                _exists_or_refuse(ref)
                if self.writable and ref.kind == "virtual dataset source":
                    raise UnsupportedError(f"{path} is a virtual dataset reading {ref.target}: it is not "
                                           "read while the file is open for writing (the library would "
                                           "open its sources for writing too). Reload opens it read-only.")
                if ref.outside and not self.allow_outside:
                    raise OutsideRefused(ref)
            self._check_chunks(path, item)
        return item

    def _check_chunks(self, path: str, item: Any) -> None:
        """Refuse a compressed dataset whose every chunk unpacks to more than the decompression
        budget of its stored bytes: reading one cell decompresses its whole chunk (up to 4 GB), so a
        few KB of deflated zeros could fill memory."""
        def compute() -> tuple[int, int]:
            if not item.chunks:
                return 0, 0
            try:
                filtered = item.id.get_create_plist().get_nfilters() > 0
                stored = item.id.get_storage_size()
            except Exception:
                return 0, 0
            return (math.prod(item.chunks) * item.dtype.itemsize, stored) if filtered else (0, 0)

        chunk, stored = self._memo("chunks", path, compute)
        limit = decompression_limit(stored)
        if chunk > limit:
            raise DecompressionLimitError(
                f"{path}: each compressed chunk of this dataset unpacks to {size_text(chunk)}, from "
                f"{size_text(stored)} stored; more than the {size_text(limit)} Datashelf unpacks from it "
                "(a decompression bomb could fill memory), so its values are not read.", limit)

    def root(self) -> H5Node:
        with self.lock:
            return self._node("/", "/")

    def node(self, path: str) -> H5Node:
        with self.lock:
            name = path.rstrip("/").rpartition("/")[2]
            return self._node(path, name or "/")

    def child_count(self, path: str) -> int:
        with self.lock:
            try:
                return len(self._get(path))
            except Exception:
                return 0

    def children(self, path: str, start: int = 0, count: int = BATCH) -> list[H5Node]:
        """Members ``start``…``start+count`` of a group, in the file's order (by name)."""
        with self.lock:
            group = self._get(path)
            try:
                names = list(islice(iter(group), start, start + count))
            except Exception as exc:
                raise ParseError(f"the members of {path} cannot be listed: {exc}") from None
            base = path.rstrip("/")
            return [self._node(f"{base}/{name}", name) for name in names]

    def _node(self, path: str, name: str) -> H5Node:
        h5py = _h5py()
        handle = self.handle
        if handle is None:
            raise UnreadableError("the file is closed")
        if path != "/":
            parent = path.rstrip("/").rpartition("/")[0] or "/"
            try:
                self._check_route(parent)
            except (OutsideRefused, UnsupportedError) as exc:
                return H5Node(path, name, "external", message=str(exc))
            try:
                link = handle.get(path, getlink=True)
            except Exception as exc:
                return H5Node(path, name, "broken", message=str(exc))
            if isinstance(link, h5py.ExternalLink):
                refs = self.route(path)
                ref = refs[-1] if refs else reference(self.path, path, "external link", link.filename)
                target = f"{ref.target}:{link.path}"
                where = " (outside this file's folder)" if ref.outside else ""
                if not os.path.exists(ref.target):
                    return H5Node(path, name, "external", message=f"external link to {target}: "
                                  "that file does not exist", outside=(ref,))
                try:
                    item = self._get(path)
                except OutsideRefused:
                    return H5Node(path, name, "external", message=f"external link to {target}{where}: "
                                  "not read until you allow reading outside the folder", outside=(ref,))
                except Exception as exc:
                    return H5Node(path, name, "external", message=f"external link to {target}{where} "
                                  f"cannot be followed: {exc}", outside=(ref,))
                node = self._describe(path, name, item)
                node.message = f"external link to {target}{where}"
                node.outside = (ref, *node.outside)
                return node
            if isinstance(link, h5py.SoftLink):
                try:
                    item = self._get(path)
                except OutsideRefused as exc:
                    return H5Node(path, name, "soft", message=f"soft link to {link.path}: {exc}",
                                  outside=(exc.ref,))
                except Exception:
                    return H5Node(path, name, "soft", message=f"soft link to {link.path}, which "
                                  "does not exist")
                node = self._describe(path, name, item)
                node.message = f"soft link to {link.path}"
                return node
        try:
            item = self._get(path) if path != "/" else handle[path]
        except Exception as exc:
            return H5Node(path, name, "broken", message=f"cannot be read: {exc}")
        return self._describe(path, name, item)

    def _describe(self, path: str, name: str, item: Any) -> H5Node:
        h5py = _h5py()
        pyclass = ""
        try:
            raw = None
            if "CLASS" in item.attrs:
                self.check_vlen(item.attrs.get_id("CLASS").dtype)
                raw = item.attrs.get("CLASS")
            if raw is not None:
                pyclass = decode_bytes(raw) if isinstance(raw, bytes) else str(raw)
        except Exception:
            pass
        scale = pyclass == "DIMENSION_SCALE"  # HDF5's own CLASS value, not PyTables'
        if scale:
            pyclass = ""
        if isinstance(item, h5py.Dataset):
            try:
                shape, dtype = item.shape, describe_dtype(item.dtype)
            except Exception as exc:  # a damaged datatype message: h5py raises ValueError
                return H5Node(path, name, "broken", message=f"its data type cannot be read: {exc}")
            sources = tuple(self.sources(path, item))
            node = H5Node(path, name, "dataset", tuple(shape) if shape is not None else None,
                          dtype, pytables_class=pyclass, dimension_scale=scale, outside=sources)
            if sources:
                node.message = "; ".join(ref.describe() for ref in sources[:3]) + (
                    f"; and {len(sources) - 3} more" if len(sources) > 3 else "")
            return node
        if isinstance(item, h5py.Group):
            try:
                members = len(item)
            except Exception:
                members = 0
            return H5Node(path, name, "group", members=members, pytables_class=pyclass)
        try:
            return H5Node(path, name, "datatype", dtype=describe_dtype(item.dtype))
        except Exception as exc:
            return H5Node(path, name, "broken", message=f"its data type cannot be read: {exc}")

    # -- attributes and information -----------------------------------------------------------
    def attributes(self, path: str) -> list[Attribute]:
        """Every attribute of ``path``, decoded to short text; unreadable ones say why."""
        with self.lock:
            item = self._get(path)
            out = []
            try:
                names = list(item.attrs)
            except Exception as exc:
                raise ParseError(f"the attributes of {path} cannot be read: {exc}") from None
            for name in names:
                try:
                    attr_id = item.attrs.get_id(name)
                    dtype, shape = attr_id.dtype, attr_id.shape
                except Exception:
                    dtype, shape = None, None
                try:
                    self.check_vlen(dtype)
                    value = item.attrs[name]
                    text = format_value(value, dtype, self.handle)
                except Exception as exc:
                    text = f"<cannot read: {exc}>"
                out.append(Attribute(name, text, describe_dtype(dtype) if dtype is not None else "?",
                                     tuple(shape) if shape is not None else None))
            return out

    def dataset_info(self, path: str) -> DatasetInfo:
        h5py = _h5py()
        with self.lock:
            item = self._get(path)
            if not isinstance(item, h5py.Dataset):
                raise UnsupportedError(f"{path} is not a dataset")
            dtype = dtype_of(item, path)
            numeric = dtype.names is None and dtype.kind in "iufb" and dtype.subdtype is None \
                and h5py.check_enum_dtype(dtype) is None
            shape = tuple(item.shape) if item.shape is not None else ()
            info = DatasetInfo(path, shape, describe_dtype(dtype), numeric, tuple(dtype.names or ()),
                               item.chunks, item.compression, item.compression_opts,
                               maxshape=item.maxshape)
            if item.shape is None:
                info.warnings.append("an empty (null) dataspace: there is no data")
            try:
                info.storage_bytes = item.id.get_storage_size()
            except Exception:
                pass
            try:
                self.check_vlen(dtype)
                # A damaged fill-value message makes this check raise, and reading the value
                # then crashes the HDF5 library (a segfault found by tests/fuzz/run.py): ask first.
                item.id.get_create_plist().fill_value_defined()
                info.fillvalue = format_value(item.fillvalue, dtype, self.handle)
            except Exception:
                pass
            self._filters(item, info)
            return info

    def _filters(self, item: Any, info: DatasetInfo) -> None:
        h5py = _h5py()
        try:
            plist = item.id.get_create_plist()
            count = plist.get_nfilters()
        except Exception:
            return
        for number in range(count):
            try:
                code, _flags, values, raw_name = plist.get_filter(number)
            except Exception:
                continue
            name = _FILTER_NAMES.get(code) or decode_bytes(raw_name)
            label = f"{name} (id {code})" if name else f"id {code}"
            info.filters.append(label + (f" {list(values)}" if values else ""))
            if not h5py.h5z.filter_avail(code):
                info.warnings.append(f"the filter {label} is not available here: its plugin is "
                                     "missing (try hdf5plugin), so the data may not be readable")

    # -- data (storage.formats.hdf5.window) ------------------------------------------------------------
    def read_window(self, path: str, axes: tuple[int, int | None], index: tuple[int, ...],
                    rows: tuple[int, int], cols: tuple[int, int]) -> Window:
        """Cells ``rows`` × ``cols`` of a 2-D slice; see :func:`storage.formats.hdf5.window.read_window`."""
        from storage.formats.hdf5.window import read_window

        return read_window(self, path, axes, index, rows, cols)

    def read_numeric(self, path: str, axes: tuple[int, int | None], index: tuple[int, ...],
                     rows: tuple[int, int], max_cols: int = 4096) -> np.ndarray:
        """Numbers of a slice for a plot; see :func:`storage.formats.hdf5.window.read_numeric`."""
        from storage.formats.hdf5.window import read_numeric

        return read_numeric(self, path, axes, index, rows, max_cols)
