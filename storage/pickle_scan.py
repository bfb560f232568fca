"""List every global a pickle would import, by walking its opcodes; nothing is ever unpickled.

``pickle_machine`` follows each pickle on a symbolic stack; this module feeds it a bounded
reader, handles several pickles back to back, trailing data, and the raw array bytes joblib
writes after each ``NumpyArrayWrapper``. Long payloads are skipped, not read, so a 1 GB array
costs nothing.
"""

from __future__ import annotations

import io
import lzma
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .pickle_danger import worse
from .pickle_machine import CALLS, MAX_READ, MAX_STREAM, OPS, Capped, Dict, Machine, ScanError, itemsize

_BLOCK = 64 * 1024
_STREAM_ERRORS = (OSError, EOFError, ValueError, RuntimeError, lzma.LZMAError, zlib.error, zipfile.BadZipFile)


@dataclass
class GlobalRef:
    """One global the stream references: where first, how often, and how risky."""

    module: str
    name: str
    offset: int
    severity: str
    why: str
    count: int = 1

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class ScanReport:
    """What a scan found; ``error`` set means the stream broke at ``error_offset``."""

    protocol: int | None = None
    highest_opcode_protocol: int = 0
    pickles: int = 0
    opcodes: int = 0
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CALLS, 0))
    globals: dict[tuple[str, str], GlobalRef] = field(default_factory=dict)
    computed_globals: list[int] = field(default_factory=list)
    extensions: list[int] = field(default_factory=list)
    persistent_ids: int = 0
    arrays: int = 0
    resynced: list[int] = field(default_factory=list)
    error: str | None = None
    error_offset: int | None = None
    trailing_offset: int | None = None
    capped: str | None = None

    def add_global(self, module: str, name: str, offset: int, verdict: tuple[str, str]) -> None:
        """Record a global as written; ``verdict`` is ``pickle_danger.judge`` of what it resolves to
        (a name seen again, perhaps under another protocol, keeps its worst verdict)."""
        ref = self.globals.get((module, name))
        if ref is not None:
            ref.count += 1
            ref.severity, ref.why = worse((ref.severity, ref.why), verdict)
            return
        self.globals[(module, name)] = GlobalRef(module, name, offset, *verdict)

    def worsen(self, module: str, name: str, verdict: tuple[str, str]) -> None:
        """Raise the verdict of a recorded global (a generic callable found misused at the end)."""
        ref = self.globals[(module, name)]
        ref.severity, ref.why = worse((ref.severity, ref.why), verdict)

    @property
    def dangerous(self) -> bool:
        return bool(self.computed_globals) or any(g.severity == "dangerous" for g in self.globals.values())


class _Reader:
    """Buffered, bounded reads with an absolute position; the last bytes read can be pushed back.

    ``pos`` is the offset of the next byte; the raw stream is always ``len(buf) - off`` ahead.
    """

    def __init__(self, raw: BinaryIO, base: int = 0, size: int | None = None) -> None:
        self.raw, self.pos, self.size, self.parsed = raw, base, size, 0
        self.limit = MAX_STREAM if size is None else min(size, MAX_STREAM)
        self.buf, self.off = b"", 0

    def _raw_read(self, n: int) -> bytes:
        try:
            return self.raw.read(n) or b""
        except _STREAM_ERRORS as exc:  # damaged compressed data, bad zip CRC, ...
            raise ScanError(f"the data cannot be read at byte {self.pos}: {exc}", self.pos) from None

    def _fill(self, want: int) -> bool:
        """Buffer at least ``want`` unread bytes if the stream has them; False at its end."""
        parts, have = [self.buf[self.off:]], len(self.buf) - self.off
        grew = False
        while have < want:
            chunk = self._raw_read(max(want - have, _BLOCK))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
            grew = True
        self.buf, self.off = b"".join(parts), 0
        return grew

    def read(self, n: int) -> bytes:
        off = self.off
        end = off + n
        if end <= len(self.buf) and self.pos + n <= self.limit:  # the common case: already buffered
            self.off = end
            self.pos += n
            self.parsed += n
            return self.buf[off:end]
        if self.size is not None:
            n = min(n, self.size - self.pos)
        n = max(0, min(n, MAX_STREAM - self.pos))
        if len(self.buf) - self.off < n:
            self._fill(n)
        data = self.buf[self.off:self.off + n]
        self.off += len(data)
        self.pos += len(data)
        self.parsed += len(data)
        return data

    def readline(self) -> bytes:
        while True:
            end = self.buf.find(b"\n", self.off)
            if end >= 0:
                return self.read(end + 1 - self.off)
            if len(self.buf) - self.off > MAX_READ or not self._fill(len(self.buf) - self.off + _BLOCK):
                return self.read(len(self.buf) - self.off)

    def skip(self, n: int) -> bool:
        """Move ``n`` bytes forward without keeping them; False when the data ends first."""
        if self.size is not None and self.pos + n > self.size:
            return False
        taken = min(n, len(self.buf) - self.off)
        self.off, self.pos, n = self.off + taken, self.pos + taken, n - taken
        if n and self.size is not None and getattr(self.raw, "seekable", lambda: False)():
            self.raw.seek(n, io.SEEK_CUR)
            self.pos += n
            return True
        while n:
            chunk = self._raw_read(min(n, 1 << 20))
            if not chunk:
                return False
            n -= len(chunk)
            self.pos += len(chunk)
        return True

    def unread(self, data: bytes) -> None:
        """Push back ``data``, which must be the end of what was just read."""
        if len(data) > self.off:
            raise ValueError("can only push back bytes that were just read")
        self.off -= len(data)
        self.pos -= len(data)
        self.parsed -= len(data)

    def tell(self) -> int:
        return self.pos


class Scanner:
    """Scan one stream that may hold several pickles back to back (and joblib array data)."""

    def __init__(self, raw: BinaryIO, base: int = 0, size: int | None = None, joblib: bool = False) -> None:
        self.reader = _Reader(raw, base, size)
        self.report = ScanReport()
        self.joblib = joblib
        self._unsized_array: int | None = None

    def after_wrapper(self, state: Any, pos: int) -> None:
        """joblib wrote the array right after this BUILD: skip its bytes or scan its inner pickle."""
        self.report.arrays += 1
        items = state.items if isinstance(state, Dict) else None
        if not items:
            self._unsized_array = pos
            return
        size = itemsize(items.get("dtype"))
        if size is None:  # object array: a complete nested pickle follows
            Machine(self).run()
            return
        shape = items.get("shape")
        if size < 0 or not isinstance(shape, tuple) or not all(isinstance(n, int) for n in shape):
            self._unsized_array = pos
            return
        if isinstance(items.get("numpy_array_alignment_bytes"), int):
            pad = self.reader.read(1)
            if not pad or not self.reader.skip(pad[0]):
                raise ScanError(f"the array data after byte {pos} is cut short", pos)
        if not self.reader.skip(math.prod(shape) * size):
            raise ScanError(f"the array data after byte {pos} is cut short", pos)

    def _resync(self) -> bool:
        """After an array of unknown size, find the FRAME where the pickle resumes."""
        if self._unsized_array is None:
            return False
        self._unsized_array = None
        start = self.reader.tell()
        window = self.reader.read(MAX_READ)
        at = 0
        while (at := window.find(b"\x95", at)) >= 0:
            if at + 10 <= len(window):
                (length,) = struct.unpack_from("<Q", window, at + 1)
                if 0 < length < len(window) and window[at + 9:at + 10] in OPS:
                    self.reader.unread(window[at:])
                    self.report.resynced.append(start + at)
                    return True
            at += 1
        self.reader.unread(window)
        return False

    def run(self) -> ScanReport:
        """Scan every pickle in the stream; errors and limits end up in the report."""
        report, reader = self.report, self.reader
        while True:
            start = reader.tell()
            if report.pickles:
                rest = reader.read(64)
                stripped = rest.lstrip(b" \t\r\n")
                while rest and not stripped:
                    rest = reader.read(4096)
                    stripped = rest.lstrip(b" \t\r\n")
                if not stripped:
                    return report
                reader.unread(stripped)
                start = reader.tell()
            machine = Machine(self)
            try:
                while True:
                    try:
                        machine.run()
                        break
                    except ScanError:
                        if not (self.joblib and self._resync()):
                            raise
            except ScanError as exc:
                if report.pickles:
                    report.trailing_offset = start
                else:
                    report.error, report.error_offset = str(exc), exc.offset
                return report
            except Capped as exc:
                report.capped = str(exc)
                return report
            report.pickles += 1


def scan_stream(raw: BinaryIO, base: int = 0, size: int | None = None, joblib: bool = False) -> ScanReport:
    """Scan the pickles in ``raw`` from its current position (``base`` is that position's offset)."""
    return Scanner(raw, base, size, joblib).run()


def scan_bytes(data: bytes, joblib: bool = False) -> ScanReport:
    """Scan pickles held in memory (a shelf value, a zip member)."""
    return Scanner(io.BytesIO(data), 0, len(data), joblib).run()


def scan_file(path: str, offset: int = 0, joblib: bool = False) -> ScanReport:
    """Scan the pickles of a file from ``offset``."""
    with open(path, "rb") as handle:
        size = handle.seek(0, io.SEEK_END)
        handle.seek(offset)
        return scan_stream(handle, offset, size, joblib)
