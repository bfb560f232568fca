"""The ``inspect`` tree of an HDF5 file: groups and datasets with shapes, dtypes and attributes.

Breadth-first and capped (nodes, attributes per node, members per group), so a file with a
million datasets gives a quick, bounded report. Nothing is read from the datasets themselves.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from storage.formats.hdf5.io import H5File, H5Node

MAX_NODES = 2000
MAX_MEMBERS = 200
MAX_ATTRS = 20


def _entry(h5: H5File, node: H5Node, notes: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": node.path, "kind": node.kind}
    if node.kind == "dataset":
        entry["shape"] = list(node.shape) if node.shape is not None else None
        entry["dtype"] = node.dtype
        try:
            info = h5.dataset_info(node.path)
        except Exception:
            info = None
        if info is not None:
            if info.chunks:
                entry["chunks"] = list(info.chunks)
            if info.filters:
                entry["filters"] = info.filters
            for warning in info.warnings:
                notes.append(f"{node.path}: {warning}")
    elif node.kind == "group":
        entry["members"] = node.members
    if node.pytables_class:
        entry["pytables_class"] = node.pytables_class
    if node.dimension_scale:
        entry["dimension_scale"] = True
    if node.message:
        entry["note"] = node.message
        if node.kind in ("external", "soft", "broken") and not node.outside:
            notes.append(f"{node.path}: {node.message}")
    if node.outside:  # other files this node reads: findings of their own (storage.inspect.summaries_db)
        entry["external_data"] = [{"kind": ref.kind, "path": ref.target, "outside_folder": ref.outside}
                                  for ref in node.outside]
    if node.kind in ("dataset", "group"):
        try:
            attrs = h5.attributes(node.path)
        except Exception:
            attrs = []
        if attrs:
            entry["attributes"] = {a.name: a.value for a in attrs[:MAX_ATTRS]}
            if len(attrs) > MAX_ATTRS:
                entry["attributes"]["…"] = f"{len(attrs) - MAX_ATTRS} more"
    return entry


def hdf5_tree(h5: H5File) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Entries breadth-first from the root, the problems met, and whether the cap was hit."""
    notes: list[str] = []
    entries = [_entry(h5, h5.root(), notes)]
    queue = deque(["/"])
    capped = False
    while queue:
        path = queue.popleft()
        total = h5.child_count(path)
        children = h5.children(path, 0, MAX_MEMBERS)
        if total > MAX_MEMBERS:
            notes.append(f"{path}: {total:,} members; the first {MAX_MEMBERS} are listed")
        for child in children:
            if len(entries) >= MAX_NODES:
                capped = True
                break
            entries.append(_entry(h5, child, notes))
            if child.kind == "group" and not child.message:  # links are not followed twice
                queue.append(child.path)
        if capped:
            break
    return entries, notes, capped
