"""Crash recovery of a shelf's unsaved edits: key order plus every changed value, as one payload.

A shelf's edits are key adds, renames and deletes (pending in :class:`storage.formats.objects.shelf.io.Shelf`)
and values edited in their trees. The payload keeps the final key order and the bytes of every
value that differs from the files; a key absent from the order was deleted. Replaying it over
the unchanged shelf gives the same pending state, which Save then writes. When the shelf changed
meanwhile, the edits go to a copy of its files (``name (recovered)``), never over the original.
"""

from __future__ import annotations

import functools
import os
from typing import IO

from storage.core.atomic import atomic_write_with
from storage.core.errors import ParseError, UnreadableError
from storage.formats.objects.shelf.io import Shelf, open_shelf
from storage.recovery.journal import recovered_path
from storage.recovery.payload import pack, unpack


def pack_shelf(shelf: Shelf, edited: dict[str, bytes]) -> bytes:
    """The payload of ``shelf``'s pending state plus values edited in trees (``edited``: key → pickle)."""
    order, changes = shelf.pending_state()
    for key, pickled in edited.items():
        raw = key.encode("utf-8", "surrogateescape")
        if raw in order:
            changes[raw] = pickled
    values, body, offset = [], bytearray(), 0
    for raw, data in changes.items():
        if data is None or raw not in order:
            continue
        values.append([raw.hex(), offset, len(data)])
        body += data
        offset += len(data)
    meta = {"backend": shelf.backend, "order": [k.hex() for k in order], "values": values}
    return pack("shelf", meta, bytes(body))


def state_of(payload: bytes) -> tuple[list[bytes], dict[bytes, bytes | None]]:
    """(key order, changes) from a ``shelf`` payload; deleted keys map to None."""
    kind, header, body = unpack(payload)
    if kind != "shelf":
        raise ParseError(f"The recovery data holds {kind} edits, not shelf edits.")
    try:
        order = [bytes.fromhex(k) for k in header["order"]]
        changes: dict[bytes, bytes | None] = {}
        for key, start, length in header["values"]:
            if start < 0 or length < 0 or start + length > len(body):
                raise ValueError("value outside the payload")
            changes[bytes.fromhex(key)] = bytes(body[start:start + length])
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"The recovered shelf edits are damaged ({exc}).") from None
    return order, changes


def apply_state(shelf: Shelf, order: list[bytes], changes: dict[bytes, bytes | None]) -> None:
    """Replay a recovered state over ``shelf`` (the deletions of keys on disk included)."""
    on_disk = shelf.raw_keys() if not shelf.modified else shelf.pending_state()[0]
    full = dict(changes)
    for raw in on_disk:
        if raw not in order:
            full[raw] = None
    try:
        shelf.set_pending_state(order, full)
    except ValueError as exc:
        raise ParseError(f"The recovered shelf edits do not fit this shelf: {exc}.") from None


def write_shelf_copy(original: str, payload: bytes) -> str:
    """Copy the shelf's files to ``name (recovered)…``, replay the edits there and save; return
    the path to open. The original files are only read."""
    order, changes = state_of(payload)
    shelf = open_shelf(original)
    base = shelf.path
    target_base = recovered_path(base)
    copies: list[str] = []
    try:
        for path in shelf.files:
            if not path.startswith(base):
                continue
            target = target_base + path[len(base):]
            with open(path, "rb") as source:
                atomic_write_with(target, functools.partial(_copy, source))
            copies.append(target)
        copy = open_shelf(target_base)
        apply_state(copy, order, changes)
        copy.save()
    except FileNotFoundError as exc:
        raise UnreadableError(f"The shelf {os.path.basename(base)} is gone: {exc.filename}") from None
    except BaseException:
        for path in copies:
            try:
                os.remove(path)
            except OSError:
                pass
        raise
    return target_base if os.path.exists(target_base) else copies[0]


def _copy(source: IO[bytes], handle: IO[bytes]) -> None:
    while chunk := source.read(1 << 20):
        handle.write(chunk)
