"""Plain-text descriptions of a node and a dataset for the HDF5 tab's information panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gui.common.formatting import human_size
from gui.hdf5.models import kind_text, shape_text
from storage.formats.hdf5.node import H5Node

if TYPE_CHECKING:
    from storage.formats.hdf5.io import DatasetInfo


def describe_node(node: H5Node) -> str:
    lines = [f"Path:  {node.path}", f"Kind:  {kind_text(node) or node.kind}"]
    if node.kind == "group":
        lines.append(f"Members:  {node.members:,}")
    if node.kind == "dataset":
        lines.append(f"Shape:  {shape_text(node)}")
    if node.message:
        lines.append(f"Note:  {node.message}")
    return "\n".join(lines)


def describe_info(node: H5Node, info: DatasetInfo) -> str:
    lines = [f"Path:  {node.path}", f"Shape:  {shape_text(node)}  ({info.size:,} elements)",
             f"Type:  {info.dtype}"]
    if info.fields:
        lines.append(f"Fields:  {', '.join(info.fields)}")
    if info.maxshape and info.maxshape != info.shape:
        lines.append("Max shape:  " + " × ".join("∞" if n is None else f"{n:,}" for n in info.maxshape))
    lines.append("Layout:  " + ("chunked " + " × ".join(f"{n:,}" for n in info.chunks)
                                if info.chunks else "contiguous"))
    if info.compression:
        opts = f" ({info.compression_opts})" if info.compression_opts is not None else ""
        lines.append(f"Compression:  {info.compression}{opts}")
    if info.filters:
        lines.append(f"Filters:  {', '.join(info.filters)}")
    lines.append(f"Stored:  {human_size(info.storage_bytes)}")
    if info.fillvalue:
        lines.append(f"Fill value:  {info.fillvalue}")
    if node.pytables_class:
        lines.append(f"PyTables class:  {node.pytables_class}")
    if node.message:
        lines.append(f"Note:  {node.message}")
    for warning in info.warnings:
        lines.append(f"WARNING:  {warning}")
    return "\n".join(lines)
