"""The scan report of a plain pickle file taken from its safe load, at the C unpickler's speed.

``pickle_scan`` walks every opcode in Python (seconds for a 20 MB list of dicts). When the safe
loader reads the whole file on the C unpickler, it has already seen what the verdict needs: every
global the file names (``find_class`` is called once per GLOBAL, STACK_GLOBAL and INST opcode, in
stream order, so the counts are the scanner's), every persistent ID, and the pickles stacked in
the file. What is left is each global's first byte offset. The loader noted where the stream
stood at each first ``find_class``: the end of the frame (protocol 4+) or of the opcode the call
came from, and the call's rank there. Frames are stepped over by their length, and only the
frames holding such a call are walked opcode by opcode to find it.

Anything the C load did not settle (a damaged stream, extension codes, a NumPy value it left to
the Python unpickler, a pickle without PROTO, data after the last pickle) gets the full scan, and
so does a file that names a global by a string computed while loading (what ``str()`` or a NumPy
object scalar handed back), which the scanner reports as a hidden import. Opcode and call counts
need the full walk, so this report has none.
"""

from __future__ import annotations

from typing import Any

from storage.formats.objects.pickle.danger import worse
from storage.formats.objects.pickle.guards import opcode_end
from storage.formats.objects.pickle.scan import GlobalRef, ScanReport, highest_protocol

_FRAME = 0x95
_GLOBAL_OPS = frozenset(b"ci\x93")  # GLOBAL, INST, STACK_GLOBAL: each calls find_class once
_BLANK = frozenset(b" \t\r\n")  # between stacked pickles


def quick_scan(data: bytes) -> tuple[ScanReport, list[Any]] | None:
    """(report, the safe loads) of a plain pickle, or None when only the full scan can tell."""
    from storage.core.gc_pause import gc_paused
    from storage.formats.objects.pickle.safe import PickleLoadError, load_all

    if data[:1] != b"\x80":
        return None
    try:
        with gc_paused():
            loads, error = load_all(data)
    except PickleLoadError:
        return None
    out = report_from_loads(data, loads, error)
    return (out, loads) if out is not None else None


def report_from_loads(data: bytes, loads: list[Any], error: Any = None) -> ScanReport | None:
    """The scan report of ``data`` from its safe loads (``load_all``'s answer), or None when only
    the full scan can tell (see the module's docstring)."""
    if data[:1] != b"\x80" or not loads:
        return None
    if error is not None or loads[-1].trailing or any(
            load.engine != "c" or load.extensions or load.computed_names for load in loads):
        return None
    uses: dict[tuple[str, str], int] = {}
    verdicts: dict[tuple[str, str], tuple[str, str]] = {}  # the loads' own, as the scanner's are
    first: dict[tuple[str, str], tuple[int, int]] = {}
    for load in loads:
        for use in load.globals:
            key = (use.module, use.name)
            uses[key] = uses.get(key, 0) + use.count
            verdict, known = (use.severity, use.why), verdicts.get(key)
            verdicts[key] = verdict if known is None else worse(known, verdict)
        for key, read in load.first_reads.items():
            first.setdefault(key, read)
    if set(first) != set(uses):
        return None
    offsets = _place(data, first)
    if offsets is None:
        return None
    protocol = highest_protocol(load.protocol for load in loads)
    out = ScanReport(protocol=protocol, highest_opcode_protocol=protocol or 0,
                     pickles=len(loads), persistent_ids=sum(load.persistent_ids for load in loads),
                     opcodes_counted=False)
    for key, count in uses.items():
        out.globals[key] = GlobalRef(*key, offsets[key], *verdicts[key], count)
    return out


def _place(data: bytes, first: dict[tuple[str, str], tuple[int, int]]) -> dict[tuple[str, str], int] | None:
    """Each global's first offset from where its first ``find_class`` happened; None if one cannot
    be placed exactly."""
    wanted: dict[int, list[tuple[int, tuple[str, str]]]] = {}
    for key, (where, rank) in first.items():
        wanted.setdefault(where, []).append((rank, key))
    offsets: dict[tuple[str, str], int] = {}
    stop = max(wanted, default=0)
    pos = 0
    ops: list[int] | None
    while pos < stop:
        code = data[pos]
        if code == _FRAME and pos + 9 <= len(data):
            start = pos + 9
            end = start + int.from_bytes(data[pos + 1:start], "little")
            ops = [start]
        elif code in _BLANK:
            pos += 1
            continue
        else:
            found = opcode_end(data, pos)
            if found is None:
                return None
            start, end, ops = pos, found, [pos]
        if end in wanted:
            if code == _FRAME:
                ops = _globals_in(data, start, end)
                if ops is None:
                    return None
            for rank, key in wanted[end]:
                if rank >= len(ops) or not _names(data, ops[rank], key):
                    return None
                offsets[key] = ops[rank]
        pos = end
    return offsets if len(offsets) == len(first) else None


def _globals_in(data: bytes, start: int, end: int) -> list[int] | None:
    """Offsets of the GLOBAL, INST and STACK_GLOBAL opcodes of one frame (None if its opcodes do
    not end exactly where the frame does)."""
    found, pos = [], start
    while pos < end:
        if data[pos] in _GLOBAL_OPS:
            found.append(pos)
        after = opcode_end(data, pos)
        if after is None:
            return None
        pos = after
    return found if pos == end else None


def _names(data: bytes, at: int, key: tuple[str, str]) -> bool:
    """The opcode at ``at`` imports a global and, when its names are written there (GLOBAL, INST),
    they are ``key``'s."""
    code = data[at]
    if code not in _GLOBAL_OPS:
        return False
    if code == 0x93:
        return True  # its names come from the stack: the find_class call at this rank had them
    end = opcode_end(data, at)
    module, _, name = data[at + 1:(end or at + 1) - 1].partition(b"\n")
    try:
        return (module.decode("utf-8"), name.decode("utf-8")) == key
    except UnicodeDecodeError:
        return False
