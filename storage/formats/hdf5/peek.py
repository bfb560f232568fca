"""A first look at an HDF5 file's root group in pure Python: the tree's first level before h5py loads.

Importing NumPy and h5py takes longer than painting the window (issue 16: the tree of an HDF5 file on
screen within 0.5 s of launch). :func:`peek` reads the superblock, the root group's object header and
its direct members' object headers, and describes each member exactly as the h5py reader
(:class:`storage.formats.hdf5.io.H5File`) would: name, kind, shape, dtype text, member count. The data
is never read, and every read is bounded (:data:`MAX_BYTES`, :data:`MAX_READS`).

Its scope is what h5py writes: superblock v0–v3 (also behind a user block), object headers v1 and v2,
old-style groups (symbol table → v1 B-tree → symbol nodes + local heap, h5py's default), new-style
compact groups (link messages) and dense ones (link info → v2 B-tree name index → fractal heap with a
root direct block or one level of indirect block), and dense attributes (looked up by the hash of
``CLASS``). Anything else — shared (SOHM) messages or a superblock extension, a datatype it cannot
name exactly as the tree does, external or virtual storage, an external link to a file that exists in
the folder, a soft link through an external link or in a loop, a damaged structure or checksum —
makes :func:`peek` answer None: the tree then waits for h5py, as it did before. A preview never shows
what h5py would not.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from storage.formats.hdf5.node import BATCH, H5Node
from storage.formats.hdf5.outside import reference

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_BYTES = 4 * 2**20  # bytes peek reads at most
MAX_READS = 50_000  # reads at most (small ones: counting a member group reads its symbol nodes)
MAX_CHUNK = 1 * 2**20  # one object header chunk, heap or node read at most
MAX_MEMBERS = 20_000  # links counted in one group at most
MAX_DEPTH = 16  # B-tree levels, nested datatypes, soft links followed
MAX_CONTINUATIONS = 64  # object header continuation blocks


class Fallback(Exception):
    """Outside what the preview reads (or damaged): no preview, h5py says what there is."""


@dataclass
class Link:
    name: bytes
    kind: str  # hard, soft, external
    address: int = 0
    target: bytes = b""  # soft: the path; external: the object path
    filename: bytes = b""  # external: the file
    order: int = 0


@dataclass
class Header:
    """The messages of one object header that the preview needs."""

    messages: list[tuple[int, int, bytes]] = field(default_factory=list)  # type, flags, body

    def all(self, kind: int) -> list[tuple[int, bytes]]:
        return [(flags, body) for t, flags, body in self.messages if t == kind]

    def has(self, kind: int) -> bool:
        return any(t == kind for t, _f, _b in self.messages)


class _File:
    """Bounded reads of the file, at addresses relative to the superblock."""

    def __init__(self, handle: Any, size: int) -> None:
        self.handle = handle
        self.size = size
        self.base = 0
        self.read_bytes = 0
        self.reads = 0
        self.offsets = 8
        self.lengths = 8
        self.undefined = 2**64 - 1

    def at(self, absolute: int, count: int) -> bytes:
        if count < 0 or count > MAX_CHUNK or absolute < 0 or absolute + count > self.size:
            raise Fallback(f"read of {count} bytes at {absolute} is out of bounds")
        self.reads += 1
        self.read_bytes += count
        if self.reads > MAX_READS or self.read_bytes > MAX_BYTES:
            raise Fallback("read budget spent")
        self.handle.seek(absolute)
        data = self.handle.read(count)
        if len(data) != count:
            raise Fallback("short read")
        return data

    def read(self, address: int, count: int) -> bytes:
        if address == self.undefined:
            raise Fallback("undefined address")
        return self.at(self.base + address, count)


class _Cursor:
    """Little-endian fields of one block of bytes."""

    def __init__(self, data: bytes, pos: int = 0, file: _File | None = None) -> None:
        self.data = data
        self.pos = pos
        self.file = file

    def take(self, count: int) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise Fallback("field past the end of its block")
        out = self.data[self.pos:self.pos + count]
        self.pos += count
        return out

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "little")

    def offset(self) -> int:
        assert self.file is not None
        return self.uint(self.file.offsets)

    def length(self) -> int:
        assert self.file is not None
        return self.uint(self.file.lengths)

    def cstring(self, pad8: bool = False) -> bytes:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise Fallback("unterminated name")
        out = self.data[self.pos:end]
        self.pos = end + 1
        if pad8:
            self.pos += (-(len(out) + 1)) % 8
        return out

    def skip(self, count: int) -> None:
        self.take(count)


# -- jenkins lookup3 (the checksum of v2 structures) ---------------------------------------------------
def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def checksum(data: bytes) -> int:
    """H5_checksum_lookup3 with seed 0 (Bob Jenkins' hashlittle)."""
    m = 0xFFFFFFFF
    length = len(data)
    a = b = c = (0xDEADBEEF + length) & m
    pos = 0
    while length > 12:
        a = (a + int.from_bytes(data[pos:pos + 4], "little")) & m
        b = (b + int.from_bytes(data[pos + 4:pos + 8], "little")) & m
        c = (c + int.from_bytes(data[pos + 8:pos + 12], "little")) & m
        a = (a - c) & m; a ^= _rot(c, 4); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 6); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 8); b = (b + a) & m  # noqa: E702
        a = (a - c) & m; a ^= _rot(c, 16); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 19); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 4); b = (b + a) & m  # noqa: E702
        length -= 12
        pos += 12
    if length == 0:
        return c
    tail = data[pos:pos + length] + b"\0" * (12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & m
    b = (b + int.from_bytes(tail[4:8], "little")) & m
    c = (c + int.from_bytes(tail[8:12], "little")) & m
    c ^= b; c = (c - _rot(b, 14)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & m  # noqa: E702
    return c


def _checked(data: bytes) -> bytes:
    """``data`` without its trailing checksum, which must match."""
    if len(data) < 4 or checksum(data[:-4]) != int.from_bytes(data[-4:], "little"):
        raise Fallback("checksum mismatch")
    return data[:-4]


CLASS_HASH = checksum(b"CLASS")  # how a dense attribute index finds the name CLASS


# -- datatypes: the text storage.formats.hdf5.values.describe_dtype gives h5py's dtype ------------------
@dataclass
class _Type:
    text: str  # describe_dtype of the NumPy dtype h5py makes
    numpy: str  # str(dtype) of a plain number type, for enum bases and complex checks ("" otherwise)
    size: int
    cls: int
    array: bool = False
    big: bool = False  # a number stored big-endian
    signed: bool = False


_FLOAT_LAYOUTS = {  # size: (precision, exponent location, exponent size, mantissa location, size, bias)
    2: (16, 10, 5, 0, 10, 15),
    4: (32, 23, 8, 0, 23, 127),
    8: (64, 52, 11, 0, 52, 1023),
}
_NATIVE = {("i", 1): "int8", ("i", 2): "int16", ("i", 4): "int32", ("i", 8): "int64",
           ("u", 1): "uint8", ("u", 2): "uint16", ("u", 4): "uint32", ("u", 8): "uint64",
           ("f", 2): "float16", ("f", 4): "float32", ("f", 8): "float64",
           ("c", 8): "complex64", ("c", 16): "complex128"}


def _number_text(kind: str, size: int, big: bool) -> str:
    if big and size > 1:
        return f">{kind}{size}"
    return _NATIVE[(kind, size)]


def _decode_name(raw: bytes) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Fallback("a name that is not UTF-8") from None


def parse_type(cur: _Cursor, depth: int = 0) -> _Type:
    """One datatype message (at the cursor), as the tree names it; Fallback when it cannot."""
    if depth > MAX_DEPTH:
        raise Fallback("datatype nested too deep")
    head = cur.uint(1)
    cls, version = head & 0x0F, head >> 4
    bits = cur.uint(3)
    size = cur.uint(4)
    if version not in (1, 2, 3, 4, 5) or size == 0:  # 3–5 encode the classes read here alike
        raise Fallback("unknown datatype version")
    if cls == 0:  # fixed-point
        cur.skip(4)  # bit offset, precision: h5py maps by size
        if size not in (1, 2, 4, 8):
            raise Fallback("odd integer size")
        text = _number_text("i" if bits & 0x08 else "u", size, bool(bits & 0x01))
        return _Type(text, text, size, cls, big=bool(bits & 0x01), signed=bool(bits & 0x08))
    if cls == 1:  # floating-point
        offset, precision = cur.uint(2), cur.uint(2)
        layout = (precision, cur.uint(1), cur.uint(1), cur.uint(1), cur.uint(1), cur.uint(4))
        sign = (bits >> 8) & 0xFF
        if bits & 0x40 or size not in _FLOAT_LAYOUTS or offset != 0 or layout != _FLOAT_LAYOUTS[size] \
                or sign != precision - 1 or (bits >> 4) & 0x03 != 2:
            raise Fallback("a floating-point layout other than IEEE")
        text = _number_text("f", size, bool(bits & 0x01))
        return _Type(text, text, size, cls)
    if cls == 3:  # fixed-length string
        charset = (bits >> 4) & 0x0F
        if charset not in (0, 1):
            raise Fallback("unknown string character set")
        return _Type(f"string ({size} bytes, {'utf-8' if charset else 'ascii'})", "", size, cls)
    if cls == 5:  # opaque
        tag = cur.take(bits & 0xFF).rstrip(b"\0")
        if tag.startswith(b"NUMPY:"):
            raise Fallback("an opaque type h5py maps to a NumPy type")
        return _Type(f"opaque ({size} bytes)", "", size, cls)
    if cls == 6:  # compound
        return _compound(cur, version, bits & 0xFFFF, size, depth)
    if cls == 7:  # reference
        kind = bits & 0x0F
        if version != 1 or kind not in (0, 1):
            raise Fallback("a reference type h5py reads otherwise")
        return _Type("region reference" if kind else "object reference", "", size, cls)
    if cls == 8:  # enum
        base = parse_type(cur, depth + 1)
        if base.cls != 0:
            raise Fallback("an enum of a non-integer base")
        count = bits & 0xFFFF
        names = [cur.cstring(pad8=version < 3) for _ in range(count)]
        values = [int.from_bytes(cur.take(base.size), "big" if base.big else "little", signed=base.signed)
                  for _ in range(count)]
        members = dict(zip(names, values, strict=True))
        if members == {b"FALSE": 0, b"TRUE": 1}:
            return _Type("bool", "bool", size, cls)
        decoded = [_decode_name(n) for n in names]
        if len(set(decoded)) != len(decoded):
            raise Fallback("enum names repeated")
        shown = ", ".join(decoded[:6]) + (", …" if len(decoded) > 6 else "")
        return _Type(f"enum {base.numpy} {{{shown}}}", "", size, cls)
    if cls == 9:  # variable-length
        kind, charset = bits & 0x0F, (bits >> 8) & 0x0F
        base = parse_type(cur, depth + 1)
        if kind == 1:
            if charset not in (0, 1):
                raise Fallback("unknown string character set")
            return _Type(f"string (vlen, {'utf-8' if charset else 'ascii'})", "", size, cls)
        if kind != 0 or base.array:
            raise Fallback("an odd variable-length type")
        return _Type(f"vlen array of {base.text}", "", size, cls)
    if cls == 10:  # array
        rank = cur.uint(1)
        if version < 3:
            cur.skip(3)
        dims = tuple(cur.uint(4) for _ in range(rank))
        if version < 3:
            cur.skip(4 * rank)
        base = parse_type(cur, depth + 1)
        if rank == 0 or base.array or 0 in dims:
            raise Fallback("an odd array type")
        return _Type(f"{base.text} × {dims}", "", size, cls, array=True)
    raise Fallback(f"datatype class {cls}")


def _compound(cur: _Cursor, version: int, count: int, size: int, depth: int) -> _Type:
    names: list[str] = []
    members: list[tuple[int, _Type]] = []
    width = 1 if size < 2**8 else 2 if size < 2**16 else 3 if size < 2**24 else 4
    for _ in range(count):
        raw = cur.cstring(pad8=version < 3)
        offset = cur.uint(width if version >= 3 else 4)
        if version == 1:
            rank = cur.uint(1)
            cur.skip(3 + 4 + 4 + 16)
            if rank:
                raise Fallback("a version 1 compound array member")
        member = parse_type(cur, depth + 1)
        if offset + member.size > size:
            raise Fallback("a compound member past its end")
        names.append(_decode_name(raw))
        members.append((offset, member))
    if not names or len(set(names)) != len(names):
        raise Fallback("an odd compound")
    ends = sorted((o, o + m.size) for o, m in members)
    if any(a[1] > b[0] for a, b in pairwise(ends)):
        raise Fallback("overlapping compound members")
    if names == ["r", "i"] and all(m.cls == 1 for _o, m in members) \
            and members[0][1].numpy == members[1][1].numpy and members[0][0] == 0 \
            and members[1][0] == members[0][1].size and size == 2 * members[0][1].size:
        # h5py reads its own complex numbers back as complex
        half = members[0][1]
        if half.size in (4, 8):
            text = _number_text("c", 2 * half.size, half.numpy.startswith(">"))
            return _Type(text, text, size, 6)
        raise Fallback("a complex type of odd size")
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return _Type(f"compound {{{shown}}}", "", size, 6)


def parse_space(body: bytes, file: _File) -> tuple[int, ...] | None:
    """A dataspace message: None for a null space, () for a scalar, else the dimensions."""
    cur = _Cursor(body, 0, file)
    version, rank, flags = cur.uint(1), cur.uint(1), cur.uint(1)
    if version == 1:
        cur.skip(5)
        kind = 1 if rank else 0
    elif version == 2:
        kind = cur.uint(1)
    else:
        raise Fallback("unknown dataspace version")
    if rank > 32 or kind not in (0, 1, 2):
        raise Fallback("an odd dataspace")
    if kind == 2:
        return None
    if kind == 0:
        if rank:
            raise Fallback("a scalar with dimensions")
        return ()
    dims = tuple(cur.length() for _ in range(rank))
    if flags & 0x01:
        cur.skip(rank * file.lengths)
    if rank == 0:
        raise Fallback("a simple dataspace without dimensions")
    return dims


# -- object headers ------------------------------------------------------------------------------------
MSG_DATASPACE, MSG_LINK_INFO, MSG_DATATYPE, MSG_LINK, MSG_EXTERNAL, MSG_LAYOUT = 1, 2, 3, 6, 7, 8
MSG_ATTRIBUTE, MSG_CONTINUATION, MSG_SYMBOL_TABLE, MSG_ATTRIBUTE_INFO = 0x0C, 0x10, 0x11, 0x15


def read_header(file: _File, address: int) -> Header:
    """The messages of the object header at ``address`` (v1 or v2), continuations followed."""
    first = file.read(address, 16)
    header = Header()
    blocks: list[tuple[int, int]] = []
    if first[:4] == b"OHDR":
        version, flags = first[4], first[5]
        if version != 2:
            raise Fallback("unknown object header version")
        pos = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
        width = 1 << (flags & 0x03)
        prefix = file.read(address, pos + width)
        size = int.from_bytes(prefix[pos:pos + width], "little")
        data = _checked(file.read(address, pos + width + size + 4))
        _v2_messages(file, data, pos + width, flags, header, blocks)
        chunks = {address}
        while blocks:
            where, length = blocks.pop(0)
            if where in chunks or len(chunks) > MAX_CONTINUATIONS:
                raise Fallback("continuation loop")
            chunks.add(where)
            data = _checked(file.read(where, length))
            if data[:4] != b"OCHK":
                raise Fallback("bad continuation block")
            _v2_messages(file, data, 4, flags, header, blocks)
        return header
    if first[0] != 1:
        raise Fallback("unknown object header version")
    count = int.from_bytes(first[2:4], "little")
    size = int.from_bytes(first[8:12], "little")
    blocks.append((address + 16, size))
    seen: set[int] = set()
    while blocks:
        where, length = blocks.pop(0)
        if where in seen or len(seen) > MAX_CONTINUATIONS:
            raise Fallback("continuation loop")
        seen.add(where)
        data = file.read(where, length)
        pos = 0
        while pos + 8 <= len(data):
            kind, size, flags = struct.unpack_from("<HHB", data, pos)
            body = data[pos + 8:pos + 8 + size]
            if len(body) != size:
                raise Fallback("message past its block")
            pos += 8 + size
            _message(file, kind, flags, body, header, blocks)
    if len(header.messages) > count:
        raise Fallback("more messages than the header counts")
    return header


def _v2_messages(file: _File, data: bytes, pos: int, flags: int, header: Header,
                 blocks: list[tuple[int, int]]) -> None:
    head = 6 if flags & 0x04 else 4
    while pos + head <= len(data):
        kind, size, mflags = data[pos], int.from_bytes(data[pos + 1:pos + 3], "little"), data[pos + 3]
        body = data[pos + head:pos + head + size]
        if len(body) != size:
            raise Fallback("message past its block")
        pos += head + size
        _message(file, kind, mflags, body, header, blocks)


def _message(file: _File, kind: int, flags: int, body: bytes, header: Header,
             blocks: list[tuple[int, int]]) -> None:
    if kind == MSG_CONTINUATION:
        cur = _Cursor(body, 0, file)
        blocks.append((cur.offset(), cur.length()))
        return
    if flags & 0x02 and kind != MSG_DATATYPE:
        raise Fallback("a shared message")  # h5py's files have none; SOHM tables are not read
    if kind > 0x18 and flags & 0x08:
        raise Fallback("an unknown message the library would refuse")
    if kind:
        header.messages.append((kind, flags, body))


# -- groups --------------------------------------------------------------------------------------------
def _local_heap(file: _File, address: int) -> bytes:
    head = file.read(address, 8 + 2 * file.lengths + file.offsets)
    if head[:4] != b"HEAP" or head[4] != 0:
        raise Fallback("bad local heap")
    cur = _Cursor(head, 8, file)
    size = cur.length()
    cur.length()
    return file.read(cur.offset(), size)


def _heap_string(heap: bytes, offset: int) -> bytes:
    end = heap.find(b"\0", offset)
    if offset >= len(heap) or end < 0:
        raise Fallback("name outside the local heap")
    return heap[offset:end]


def _symbol_links(file: _File, btree: int, heap_address: int | None, limit: int) -> list[Link] | int:
    """Every link of an old-style group, in the B-tree's (name) order; only their number when
    ``heap_address`` is None (the symbol nodes' counts: no names read)."""
    heap = _local_heap(file, heap_address) if heap_address is not None else b""
    links: list[Link] = []
    counted = 0
    entry = 2 * file.offsets + 24
    seen: set[int] = set()

    def node(address: int, depth: int) -> None:
        if depth > MAX_DEPTH or address in seen:
            raise Fallback("B-tree loop")
        seen.add(address)
        head = file.read(address, 8 + 2 * file.offsets)
        if head[:4] != b"TREE" or head[4] != 0:
            raise Fallback("bad group B-tree node")
        level, used = head[5], int.from_bytes(head[6:8], "little")
        keys = file.read(address + len(head), (used + 1) * file.lengths + used * file.offsets)
        cur = _Cursor(keys, 0, file)
        children = []
        for _ in range(used):
            cur.length()
            children.append(cur.offset())
        for child in children:
            if level:
                node(child, depth + 1)
                continue
            if child in seen:
                raise Fallback("B-tree loop")
            seen.add(child)
            snod = file.read(child, 8)
            if snod[:4] != b"SNOD" or snod[4] != 1:
                raise Fallback("bad symbol node")
            count = int.from_bytes(snod[6:8], "little")
            if heap_address is None:
                nonlocal counted
                counted += count
                if counted > limit:
                    raise Fallback("too many members")
                continue
            entries = file.read(child + 8, count * entry)
            for number in range(count):
                ecur = _Cursor(entries, number * entry, file)
                name_at, header = ecur.offset(), ecur.offset()
                cache = ecur.uint(4)
                ecur.skip(4)
                scratch = ecur.take(16)
                name = _heap_string(heap, name_at)
                if cache == 2:
                    links.append(Link(name, "soft",
                                      target=_heap_string(heap, int.from_bytes(scratch[:4], "little"))))
                elif cache in (0, 1):
                    links.append(Link(name, "hard", header))
                else:
                    raise Fallback("unknown symbol cache type")
                if len(links) > limit:
                    raise Fallback("too many members")

    node(btree, 0)
    if heap_address is None:
        return counted
    if [link.name for link in links] != sorted(link.name for link in links):
        raise Fallback("symbol table out of order")
    return links


def _link_message(body: bytes, file: _File) -> Link:
    cur = _Cursor(body, 0, file)
    if cur.uint(1) != 1:
        raise Fallback("unknown link message version")
    flags = cur.uint(1)
    kind = cur.uint(1) if flags & 0x08 else 0
    order = cur.uint(8) if flags & 0x04 else 0
    if flags & 0x10:
        cur.uint(1)
    name = cur.take(cur.uint(1 << (flags & 0x03)))
    if kind == 0:
        return Link(name, "hard", cur.offset(), order=order)
    if kind == 1:
        return Link(name, "soft", target=cur.take(cur.uint(2)), order=order)
    if kind == 64:
        value = _Cursor(cur.take(cur.uint(2)))
        if value.uint(1) != 0:
            raise Fallback("unknown external link version")
        filename = value.cstring()
        return Link(name, "external", target=value.cstring(), filename=filename, order=order)
    raise Fallback("a user-defined link")


# -- dense storage: v2 B-trees (the indexes) and fractal heaps (the messages) -------------------------------
def _enc_size(limit: int) -> int:
    """H5VM_limit_enc_size: bytes that hold numbers up to ``limit``."""
    return (max(limit, 1).bit_length() - 1) // 8 + 1


def btree2_records(file: _File, address: int, kind: int) -> list[bytes]:
    """Every record of the v2 B-tree at ``address`` (of record type ``kind``), in key order."""
    head = _checked(file.read(address, 16 + file.offsets + 2 + file.lengths + 4))
    if head[:4] != b"BTHD" or head[4] != 0 or head[5] != kind:
        raise Fallback("bad v2 B-tree header")
    cur = _Cursor(head, 6, file)
    node_size, record_size, depth = cur.uint(4), cur.uint(2), cur.uint(2)
    cur.skip(2)
    root, root_count, total = cur.offset(), cur.uint(2), cur.length()
    if not record_size or node_size > MAX_CHUNK or depth > MAX_DEPTH or total > MAX_MEMBERS:
        raise Fallback("an odd v2 B-tree")
    if total == 0:
        return []
    # the sizes of the child pointers' counts, per level (H5B2__hdr_init)
    leaf_max = (node_size - 10) // record_size
    max_size = _enc_size(leaf_max)
    cum_max, cum_size = [leaf_max], [0]
    for level in range(1, depth + 1):
        pointer = file.offsets + max_size + (cum_size[level - 1] if level > 1 else 0)
        level_max = (node_size - (10 + pointer)) // (record_size + pointer)
        cum_max.append((level_max + 1) * cum_max[level - 1] + level_max)
        cum_size.append(_enc_size(cum_max[level]))
    records: list[bytes] = []
    seen: set[int] = set()

    def node(where: int, count: int, level: int) -> None:
        if where in seen or len(records) > MAX_MEMBERS:
            raise Fallback("v2 B-tree loop")
        seen.add(where)
        data = file.read(where, node_size)
        if data[:4] != (b"BTIN" if level else b"BTLF") or data[4] != 0 or data[5] != kind:
            raise Fallback("bad v2 B-tree node")
        own = [data[6 + i * record_size:6 + (i + 1) * record_size] for i in range(count)]
        pcur = _Cursor(data, 6 + count * record_size, file)
        children = []
        for _ in range(count + 1 if level else 0):
            child, child_count = pcur.offset(), pcur.uint(max_size)
            if level > 1:
                pcur.uint(cum_size[level - 1])
            children.append((child, child_count))
        _checked(data[:pcur.pos + 4])  # the checksum follows the node's used part
        if not level:
            records.extend(own)
            return
        for number, (child, child_count) in enumerate(children):
            node(child, child_count, level - 1)
            if number < count:
                records.append(own[number])

    node(root, root_count, depth)
    if len(records) != total:
        raise Fallback("v2 B-tree count mismatch")
    return records


class _Heap:
    """The managed objects of a fractal heap (a root direct block, or a root indirect block of
    direct blocks: what a few thousand links or attributes take)."""

    def __init__(self, file: _File, address: int) -> None:
        self.file = file
        size = 4 + 1 + 2 + 2 + 1 + 4 + 12 * file.lengths + 3 * file.offsets + 2 + 2 + 2 + 2 + 4 + 200
        raw = file.read(address, min(size, file.size - file.base - address))
        cur = _Cursor(raw, 0, file)
        if cur.take(4) != b"FRHP" or cur.uint(1) != 0:
            raise Fallback("bad fractal heap header")
        self.id_length, filters, self.flags, max_managed = cur.uint(2), cur.uint(2), cur.uint(1), cur.uint(4)
        if filters:
            raise Fallback("a filtered fractal heap")
        cur.length()  # next huge id
        cur.offset()  # huge objects' B-tree
        cur.length()
        cur.offset()
        for _ in range(8):
            cur.length()
        self.width = cur.uint(2)
        self.start, self.max_direct = cur.length(), cur.length()
        max_heap_bits = cur.uint(2)
        cur.uint(2)
        self.root, self.rows = cur.offset(), cur.uint(2)
        _checked(raw[:cur.pos + 4])
        if not self.width or not self.start or self.start & (self.start - 1) or self.max_direct < self.start:
            raise Fallback("an odd fractal heap")
        self.offset_size = (max_heap_bits + 7) // 8
        self.length_size = min(_enc_size(self.max_direct), _enc_size(max_managed))
        self.direct_rows = (self.max_direct.bit_length() - self.start.bit_length()) + 2
        self.blocks: dict[int, int] | None = None  # heap offset of a direct block → its address
        self.checked: set[int] = set()  # direct blocks whose signature was read

    def _block_of(self, offset: int) -> tuple[int, int]:
        """(block address, block's heap offset) of the direct block holding heap ``offset``."""
        if self.rows == 0:
            return self.root, 0
        if self.blocks is None:
            entries = self.rows * self.width
            data = self.file.read(self.root, 5 + self.file.offsets + self.offset_size
                                  + entries * self.file.offsets)
            if data[:4] != b"FHIB" or data[4] != 0:
                raise Fallback("bad fractal heap indirect block")
            cur = _Cursor(data, 5 + self.file.offsets + self.offset_size, self.file)
            self.blocks = {}
            heap_offset = 0
            for row in range(self.rows):
                block = self.start if row < 2 else self.start << (row - 1)
                for _column in range(self.width):
                    if row >= self.direct_rows:
                        raise Fallback("a nested fractal heap indirect block")
                    address = cur.offset()
                    if address != self.file.undefined:
                        self.blocks[heap_offset] = address
                    heap_offset += block
        starts = [s for s in self.blocks if s <= offset]
        if not starts:
            raise Fallback("heap offset before every block")
        start = max(starts)
        return self.blocks[start], start

    def get(self, heap_id: bytes) -> bytes:
        if len(heap_id) < 1 + self.offset_size + self.length_size or heap_id[0] & 0xF0 != 0:
            raise Fallback("a heap object that is not managed (tiny or huge)")
        offset = int.from_bytes(heap_id[1:1 + self.offset_size], "little")
        end = 1 + self.offset_size + self.length_size
        length = int.from_bytes(heap_id[1 + self.offset_size:end], "little")
        address, block_offset = self._block_of(offset)
        if address not in self.checked:
            head = self.file.read(address, 5)
            if head[:4] != b"FHDB" or head[4] != 0:
                raise Fallback("bad fractal heap direct block")
            self.checked.add(address)
        within = offset - block_offset
        if within < 5 + self.file.offsets + self.offset_size or length == 0:
            raise Fallback("a heap object inside its block's header")
        return self.file.read(address + within, length)


def _dense_links(file: _File, heap_address: int, names: int) -> list[Link]:
    heap = _Heap(file, heap_address)
    return [_link_message(heap.get(record[4:]), file) for record in btree2_records(file, names, 5)]


@dataclass
class _Group:
    links: list[Link] | None  # None when only counted (a dense member group)
    count: int


def _group(file: _File, header: Header, list_links: bool) -> _Group:
    """The links of a group object (old-style or compact), or only their count."""
    tables = header.all(MSG_SYMBOL_TABLE)
    if tables:
        cur = _Cursor(tables[0][1], 0, file)
        btree, heap = cur.offset(), cur.offset()
        if not list_links:
            count = _symbol_links(file, btree, None, MAX_MEMBERS)
            assert isinstance(count, int)
            return _Group(None, count)
        links = _symbol_links(file, btree, heap, MAX_MEMBERS)
        assert isinstance(links, list)
        return _Group(links, len(links))
    infos = header.all(MSG_LINK_INFO)
    if not infos:
        raise Fallback("a group without links")
    cur = _Cursor(infos[0][1], 0, file)
    if cur.uint(1) != 0:
        raise Fallback("unknown link info version")
    flags = cur.uint(1)
    if flags & 0x01:
        cur.skip(8)
    heap, names = cur.offset(), cur.offset()
    if heap != file.undefined:  # dense: the name index counts the links
        if not list_links:
            head = _checked(file.read(names, 16 + file.offsets + 2 + file.lengths + 4))
            if head[:4] != b"BTHD" or head[4] != 0 or head[5] != 5:
                raise Fallback("bad name index")
            at = 16 + file.offsets + 2
            return _Group(None, int.from_bytes(head[at:at + file.lengths], "little"))
        links = _dense_links(file, heap, names)
    else:
        links = [_link_message(body, file) for _f, body in header.all(MSG_LINK)]
    if len({link.name for link in links}) != len(links):
        raise Fallback("a name linked twice")
    if flags & 0x02:  # creation order indexed: h5py lists the members in that order
        links.sort(key=lambda link: link.order)
    else:
        links.sort(key=lambda link: link.name)
    return _Group(links, len(links))


# -- describing one object as storage.formats.hdf5.io.H5File._describe does ---------------------------------
class _Describer:
    def __init__(self, file: _File, path: str, root_links: dict[str, Link], root_address: int) -> None:
        self.file = file
        self.path = path
        self.root_links = root_links
        self.root_address = root_address
        self.known: dict[int, H5Node] = {}
        self.groups: dict[int, dict[str, Link] | None] = {}

    def describe(self, address: int, path: str, name: str) -> H5Node:
        known = self.known.get(address)
        if known is None:
            known = self._describe(address)
            self.known[address] = known
        return H5Node(path, name, known.kind, known.shape, known.dtype, known.members,
                      pytables_class=known.pytables_class, dimension_scale=known.dimension_scale)

    def _describe(self, address: int) -> H5Node:
        header = read_header(self.file, address)
        pyclass = self.class_attribute(header)
        scale = pyclass == "DIMENSION_SCALE"
        if scale:
            pyclass = ""
        if header.has(MSG_LAYOUT):
            if header.has(MSG_EXTERNAL):
                raise Fallback("external storage")
            layout = header.all(MSG_LAYOUT)[0][1]
            if len(layout) < 2 or layout[0] not in (1, 2, 3, 4) or (layout[0] >= 3 and layout[1] == 3):
                raise Fallback("a virtual dataset or an unknown layout")
            spaces, types = header.all(MSG_DATASPACE), header.all(MSG_DATATYPE)
            if len(spaces) != 1 or len(types) != 1:
                raise Fallback("a dataset without one dataspace and one datatype")
            shape = parse_space(spaces[0][1], self.file)
            dtype = self._datatype(*types[0])
            return H5Node("", "", "dataset", shape, dtype.text, pytables_class=pyclass, dimension_scale=scale)
        if header.has(MSG_SYMBOL_TABLE) or header.has(MSG_LINK_INFO):
            return H5Node("", "", "group", members=_group(self.file, header, False).count,
                          pytables_class=pyclass)
        types = header.all(MSG_DATATYPE)
        if len(types) == 1 and not header.has(MSG_DATASPACE):
            return H5Node("", "", "datatype", dtype=self._datatype(*types[0]).text)
        raise Fallback("an object of unknown kind")

    def _datatype(self, flags: int, body: bytes) -> _Type:
        if flags & 0x02:  # a committed datatype, kept in its own object header
            cur = _Cursor(body, 0, self.file)
            version, kind = cur.uint(1), cur.uint(1)
            if version == 1:
                cur.skip(6)
            elif version == 3 and kind != 2:
                raise Fallback("a datatype in the shared message heap")
            elif version not in (2, 3):
                raise Fallback("unknown shared message version")
            committed = read_header(self.file, cur.offset()).all(MSG_DATATYPE)
            if len(committed) != 1 or committed[0][0] & 0x02:
                raise Fallback("an odd committed datatype")
            body = committed[0][1]
        return parse_type(_Cursor(body, 0, self.file))

    def class_attribute(self, header: Header) -> str:
        """The ``CLASS`` attribute (PyTables, dimension scales) when it is a plain scalar string."""
        attributes = header.all(MSG_ATTRIBUTE)
        for _flags, body in header.all(MSG_ATTRIBUTE_INFO):
            cur = _Cursor(body, 0, self.file)
            if cur.uint(1) != 0:
                raise Fallback("unknown attribute info version")
            if cur.uint(1) & 0x01:
                cur.skip(2)
            heap, names = cur.offset(), cur.offset()
            if heap != self.file.undefined:  # dense: only a record with CLASS's hash is read
                wanted = CLASS_HASH.to_bytes(4, "little")
                found = [r[:8] for r in btree2_records(self.file, names, 8) if r[13:17] == wanted]
                if found:
                    dense = _Heap(self.file, heap)
                    attributes = attributes + [(0, dense.get(heap_id)) for heap_id in found]
        for flags, body in attributes:
            cur = _Cursor(body, 0, self.file)
            version = cur.uint(1)
            aflags = cur.uint(1)
            name_size, type_size, space_size = cur.uint(2), cur.uint(2), cur.uint(2)
            if version == 3:
                cur.uint(1)
            elif version not in (1, 2):
                raise Fallback("unknown attribute version")
            pad = (lambda n: n + (-n) % 8) if version == 1 else (lambda n: n)
            name = cur.take(pad(name_size)).split(b"\0", 1)[0]
            if name != b"CLASS":
                continue
            if flags & 0x02 or aflags & 0x03:
                raise Fallback("a shared CLASS attribute")
            dtype = parse_type(_Cursor(cur.take(pad(type_size))))
            shape = parse_space(cur.take(pad(space_size)), self.file)
            if dtype.cls != 3 or shape != ():
                raise Fallback("a CLASS attribute that is not a scalar fixed string")
            raw = cur.take(dtype.size).rstrip(b"\0")
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("utf-8", "backslashreplace")
        return ""

    def link_node(self, link: Link, depth: int = 0) -> H5Node:
        """A member of the root group as the tree shows it (links resolved as h5py does)."""
        name = _utf8(link.name)
        path = f"/{name}"
        if link.kind == "hard":
            return self.describe(link.address, path, name)
        if link.kind == "soft":
            target = _utf8(link.target)
            address = self._resolve(target, depth)
            if address is None:
                return H5Node(path, name, "soft", message=f"soft link to {target}, which does not exist")
            node = self.describe(address, path, name)
            node.message = f"soft link to {target}"
            return node
        filename, inner = _utf8(link.filename), _utf8(link.target)
        ref = reference(self.path, path, "external link", filename, judged_by=self.path)
        target = f"{ref.target}:{inner}"
        if not os.path.exists(ref.target):
            return H5Node(path, name, "external", outside=(ref,),
                          message=f"external link to {target}: that file does not exist")
        if ref.outside:
            return H5Node(path, name, "external", message=f"external link to {target} (outside this file's "
                          "folder): not read until you allow reading outside the folder", outside=(ref,))
        raise Fallback("an external link to a file h5py would open")

    def _resolve(self, target: str, depth: int, base: tuple[str, ...] = ()) -> int | None:
        """The object header a soft link reaches (relative to the group ``base``), None when nothing
        is there, as HDF5 walks the path; Fallback for what only the library can tell (an external
        link on the way, odd paths, many groups to list)."""
        if depth > MAX_DEPTH:
            raise Fallback("soft links nested too deep")
        parts = [p for p in target.split("/") if p]
        if any(p in (".", "..") for p in parts) or not target or "//" in target:
            raise Fallback("an odd soft link path")
        walked: tuple[str, ...] = () if target.startswith("/") else base
        current = self.root_address
        if walked:  # relative to the group holding the link, reached already
            start = self._resolve("/" + "/".join(walked), depth + 1)
            if start is None:
                raise Fallback("a soft link in a group that cannot be walked")
            current = start
        for part in parts:
            links = self._links_of(current)
            link = links.get(part) if links is not None else None
            if link is None:
                return None
            if link.kind == "hard":
                current = link.address
            elif link.kind == "soft":
                found = self._resolve(_utf8(link.target), depth + 1, walked)
                if found is None:
                    return None
                current = found
            else:
                raise Fallback("an external link on a soft link's way")
            walked = (*walked, part)
        return current

    def _links_of(self, address: int) -> dict[str, Link] | None:
        """The links of the group at ``address`` by name, or None when it is not a group."""
        if address == self.root_address:
            return self.root_links
        if address not in self.groups:
            header = read_header(self.file, address)
            if not (header.has(MSG_SYMBOL_TABLE) or header.has(MSG_LINK_INFO)):
                self.groups[address] = None
            else:
                links = _group(self.file, header, True).links or []
                self.groups[address] = {_utf8(link.name): link for link in links}
        return self.groups[address]


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Fallback("a name that is not UTF-8") from None


# -- the entry point ---------------------------------------------------------------------------------------
@dataclass
class Peek:
    """The root group (``root.members`` counts all its links) and its first members, in h5py's order:
    all of the first ``limit``, or (``complete`` False) those before the first one only h5py can
    describe (an external link to a file in the folder, external storage, …)."""

    root: H5Node
    children: list[H5Node]
    reads: int
    read_bytes: int
    complete: bool = True


def _superblock(file: _File) -> int:
    """Set the file's sizes and base; the root group's object header address."""
    offset = 0
    while True:
        if offset + 8 > file.size:
            raise Fallback("no HDF5 signature")
        if file.at(offset, 8) == SIGNATURE:
            break
        offset = 512 if offset == 0 else offset * 2
    file.base = offset
    head = file.at(offset, 16)
    version = head[8]
    if version in (0, 1):
        file.offsets, file.lengths = head[13], head[14]
        if file.offsets not in (2, 4, 8) or file.lengths not in (2, 4, 8):
            raise Fallback("odd offset sizes")
        file.undefined = 2 ** (8 * file.offsets) - 1
        fixed = 24 + (4 if version == 1 else 0)
        data = file.at(offset, fixed + 4 * file.offsets + 2 * file.offsets + 24)
        cur = _Cursor(data, fixed, file)
        for _ in range(4):  # base, free space, end of file, driver info
            cur.offset()
        cur.offset()  # the root's link name offset
        return cur.offset()
    if version in (2, 3):
        file.offsets, file.lengths = head[9], head[10]
        if file.offsets not in (2, 4, 8) or file.lengths not in (2, 4, 8):
            raise Fallback("odd offset sizes")
        file.undefined = 2 ** (8 * file.offsets) - 1
        data = _checked(file.at(offset, 12 + 4 * file.offsets + 4))
        cur = _Cursor(data, 12, file)
        cur.offset()  # base
        if cur.offset() != file.undefined:
            raise Fallback("a superblock extension (shared messages, file space settings)")
        cur.offset()  # end of file
        return cur.offset()
    raise Fallback("unknown superblock version")


def peek(path: str, limit: int = BATCH, opener: Callable[[str], Any] | None = None) -> Peek | None:
    """The root group and its first ``limit`` members as the tree shows them, or None when the file
    is outside what this reader knows (then only h5py can tell)."""
    try:
        if opener is None and not stat.S_ISREG(os.stat(path).st_mode):
            return None  # a pipe or device: opening could wait forever
        with (opener or (lambda p: open(p, "rb")))(path) as handle:
            size = handle.seek(0, os.SEEK_END)
            file = _File(handle, size)
            root_address = _superblock(file)
            header = read_header(file, root_address)
            group = _group(file, header, True)
            assert group.links is not None
            links = {}
            for link in group.links:
                links[_utf8(link.name)] = link
            describer = _Describer(file, os.path.abspath(path), links, root_address)
            root = H5Node("/", "/", "group", members=group.count,
                          pytables_class=describer.class_attribute(header))
            describer.known[root_address] = root
            children: list[H5Node] = []
            for link in group.links[:limit]:
                try:
                    children.append(describer.link_node(link))
                except Fallback:  # this member and those after it wait for h5py
                    if not children:
                        raise
                    return Peek(root, children, file.reads, file.read_bytes, complete=False)
            return Peek(root, children, file.reads, file.read_bytes)
    except (Fallback, OSError, ValueError, struct.error, IndexError, KeyError, RecursionError,
            AssertionError, MemoryError):
        return None
