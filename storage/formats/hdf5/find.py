"""Find text in an HDF5 file's member names and attributes (no Qt; runs in a worker).

The walk goes depth-first in the tree's order (each group's members by name, as the tree lists
them), reading each node's attributes as the Attributes table shows them. Links to other files
and soft links are not followed (the tree does not expand them either). ``cancel`` is checked
at every node, so a big file's search stops at once.
"""

from __future__ import annotations

from collections.abc import Callable

from storage.core.errors import KnownError
from storage.formats.hdf5.io import BATCH, H5File, H5Node

# (node path, attribute name or None for the node's own name)
Hit = tuple[str, str | None]


def find_in_file(h5: H5File, text: str, limit: int = 10_000,
                 cancel: Callable[[], bool] | None = None) -> list[Hit]:
    """Nodes whose name, and attributes whose name or value, hold ``text`` (case-insensitive)."""
    needle = text.casefold()
    hits: list[Hit] = []
    if not needle:
        return hits
    stack: list[H5Node] = [h5.root()]
    while stack and len(hits) < limit:
        if cancel is not None and cancel():
            break
        node = stack.pop()
        if node.path != "/" and needle in node.name.casefold():
            hits.append((node.path, None))
        if node.kind in ("group", "dataset"):  # the ones whose Attributes table is shown
            try:
                attributes = h5.attributes(node.path)
            except KnownError:
                attributes = []  # unreadable here: the Attributes table says why when selected
            hits += [(node.path, a.name) for a in attributes
                     if needle in a.name.casefold() or needle in a.value.casefold()]
        if node.kind == "group" and node.members:
            members: list[H5Node] = []
            while True:
                try:
                    batch = h5.children(node.path, len(members), BATCH)
                except KnownError:
                    break
                members += batch
                if len(batch) < BATCH or (cancel is not None and cancel()):
                    break
            stack.extend(reversed(members))
    return hits[:limit]
