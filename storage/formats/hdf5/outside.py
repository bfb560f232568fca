"""Data an HDF5 file keeps in other files: external links, external raw storage, virtual datasets.

An HDF5 file can point at any file on the disk: an external link (``h5py.ExternalLink``) opens
another HDF5 file, a dataset with external storage (``Dataset.external``) reads raw bytes from
other files, and a virtual dataset (VDS) reads from source datasets in other files. Each such
reference is a finding that names the other file, resolved as the HDF5 library resolves it when
Datashelf reads: relative names against the file's own folder (``${ORIGIN}``; the library's
default for external storage would be the current directory). Data outside the file's folder is
read only once the user allowed it (:attr:`storage.formats.hdf5.io.H5File.allow_outside`), and nothing
is ever written through such a reference (:func:`refuse_write`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from storage.core.errors import KnownError, WriteError

ORIGIN = b"${ORIGIN}"  # the HDF5 library's token for "the folder of the file being read"
MAX_SOURCES = 1000  # a VDS may name thousands of sources: the first ones are listed


@dataclass(frozen=True)
class OutsideData:
    """One reference from ``node`` (an HDF5 path of this file) to another file on the disk."""

    node: str
    kind: str  # "external link", "external storage", "virtual dataset source"
    target: str  # the other file's absolute path
    outside: bool  # True when it is not in this file's folder (or below it)

    def describe(self) -> str:
        where = "outside this file's folder" if self.outside else "in this file's folder"
        return f"{self.node}: {self.kind} in {self.target} ({where})"


class OutsideRefused(KnownError):
    """Reading ``ref`` needs the user's permission (its data is outside the file's folder)."""

    def __init__(self, ref: OutsideData) -> None:
        super().__init__(f"{ref.node} reads {ref.target}, outside this file's folder "
                         f"({ref.kind}). It is read only after you allow reading outside the folder.")
        self.ref = ref


def _text(name: Any) -> str:
    return os.fsdecode(name) if isinstance(name, bytes) else str(name)


def resolve(h5_path: str, name: Any) -> str:
    """The absolute path the library opens for ``name`` named inside the file ``h5_path``."""
    text = _text(name)
    folder = os.path.dirname(os.path.abspath(h5_path))
    return os.path.normpath(os.path.join(folder, text))


def is_outside(h5_path: str, target: str) -> bool:
    """True when ``target`` is not in ``h5_path``'s folder or below it (symlinks resolved)."""
    folder = os.path.realpath(os.path.dirname(os.path.abspath(h5_path)))
    real = os.path.realpath(target)
    return os.path.commonpath([folder, real]) != folder


def reference(h5_path: str, node: str, kind: str, name: Any, judged_by: str | None = None) -> OutsideData:
    """``name`` as named inside ``h5_path``, outside or not the folder of ``judged_by`` (the
    opened file, when ``h5_path`` is a file reached through a link; else ``h5_path``)."""
    target = resolve(h5_path, name)
    return OutsideData(node, kind, target, is_outside(judged_by or h5_path, target))


def dataset_sources(h5_path: str, node: str, item: Any, judged_by: str | None = None) -> list[OutsideData]:
    """External raw-storage files and virtual-dataset source files of the dataset ``item`` of the
    file ``h5_path`` (``judged_by``: the opened file, when ``item`` was reached through a link)."""
    found: list[OutsideData] = []
    try:
        external = item.external
    except Exception:
        external = None
    for entry in external or ():
        found.append(reference(h5_path, node, "external storage", entry[0], judged_by))
    try:
        virtual = bool(item.is_virtual)
    except Exception:
        virtual = False
    if virtual:
        try:
            sources = item.virtual_sources()[:MAX_SOURCES]
        except Exception:
            sources = []
        seen: set[str] = set()
        for source in sources:
            name = _text(source.file_name)
            if name == "." or name in seen:  # "." is this very file
                continue
            seen.add(name)
            found.append(reference(h5_path, node, "virtual dataset source", name, judged_by))
    return found


def dataset_access(h5py: Any) -> Any:
    """A dataset access property list resolving external storage and VDS sources against the
    file's folder, so what is checked is what is read."""
    dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
    dapl.set_efile_prefix(ORIGIN)
    dapl.set_virtual_prefix(ORIGIN)
    return dapl


def refuse_write(node: str, refs: list[OutsideData]) -> None:
    """Raise WriteError when writing to ``node`` would write into another file."""
    if refs:
        ref = refs[0]
        raise WriteError(f"{node} cannot be edited here: its data lives in {ref.target} ({ref.kind}), "
                         "and Datashelf writes only into the opened file and its .bak copy.")
