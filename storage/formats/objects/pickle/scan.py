"""List every global a pickle would import, by walking its opcodes; nothing is ever unpickled.

``pickle_machine`` follows each pickle on a symbolic stack; this module feeds it a reader and
handles several pickles back to back, the streams hidden in data after a STOP (every PROTO
opcode and protocol-0 GLOBAL in that data is tried as the start of a pickle, as a loader that
seeks there would read it), and the raw array bytes joblib writes after each
``NumpyArrayWrapper``, read from where joblib's ``read_array`` reads them: the file position
after the current pickle frame, so opcodes left in the frame after the wrapper's BUILD are
followed as the pickle they are. Long payloads are skipped, not read, so a 1 GB array costs
nothing. The whole stream is followed, in time linear in its size; the one remaining bound (how
far a decompressed stream is followed) is reported in ``ScanReport.incomplete``, never silent.
"""

from __future__ import annotations

import io
import lzma
import math
import re
import struct
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from storage.core.errors import KnownError
from storage.formats.objects.pickle.danger import worse
from storage.formats.objects.pickle.machine import (
    CALLS,
    MAX_READ,
    MAX_STREAM,
    OPS,
    Capped,
    Dict,
    Machine,
    ScanError,
    itemsize,
)

_BLOCK = 64 * 1024
# Where a pickle hidden in data after a STOP may start: PROTO 2-5; a GLOBAL or INST (after its
# MARK); a string naming a module, as STACK_GLOBAL takes it (pickle.load needs no PROTO first).
_CANDIDATE = re.compile(rb"\x80[\x02-\x05]|\(?[ci][A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n"
                        rb"|\x8c[\x01-\xff][A-Za-z_]|X[\x01-\xff]\x00\x00\x00[A-Za-z_]|V[A-Za-z_][\w.]{0,200}\n")
MAX_LINE = MAX_READ  # a text opcode's argument line is held in memory up to this, then reported
HIDDEN_SEARCH_SECONDS = 60.0  # a bound on the search after a STOP, reported when reached
_SPOOL = 64 * 1024 * 1024  # a non-seekable stream's trailing data is kept in memory up to this
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


def highest_protocol(protocols: Iterable[int | None]) -> int | None:
    """The protocol of a stream of pickles, as the window and ``inspect`` both say it: the highest
    of its pickles' protocols (a protocol-1 pickle followed by a protocol-4 one is protocol 4)."""
    known = [p for p in protocols if p is not None]
    return max(known) if known else None


def report_protocol(report: ScanReport) -> int:
    """The protocol a scan says the stream has: its highest PROTO, or without one the highest
    protocol its opcodes need. What ``inspect`` prints and the window shows."""
    return report.protocol if report.protocol is not None else report.highest_opcode_protocol


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
    hidden: list[int] = field(default_factory=list)  # offsets of pickles found in data after a STOP
    error: str | None = None
    error_offset: int | None = None
    trailing_offset: int | None = None
    incomplete: list[str] = field(default_factory=list)  # why parts of the data were not followed
    opcodes_counted: bool = True  # False when taken from a safe load (``pickle_quickscan``)

    @property
    def capped(self) -> str | None:
        """The reasons the scan did not cover everything, joined; None when it covered it all."""
        return "; ".join(self.incomplete) or None

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
    """Buffered reads with an absolute position; the last bytes read can be pushed back.

    ``pos`` is the offset of the next byte; the raw stream is always ``len(buf) - off`` ahead.
    ``frame_end`` is where the current pickle frame ends (None outside frames). An *overlay* is
    the rest of a frame whose reading was interrupted by joblib array data read from after the
    frame: it is read first (at its own offsets), then reading resumes after the array.
    """

    def __init__(self, raw: BinaryIO, base: int = 0, size: int | None = None, block: int = _BLOCK) -> None:
        self.raw, self.pos, self.size = raw, base, size
        self.block = block  # the first reads' size; it doubles up to _BLOCK (a probe reads little)
        self.limit = MAX_STREAM if size is None else size
        self.buf, self.off = b"", 0
        self.frame_end: int | None = None
        self._resume: tuple[bytes, int, int, int | None] | None = None  # buf, off, pos, size

    def _raw_read(self, n: int) -> bytes:
        try:
            return self.raw.read(n) or b""
        except _STREAM_ERRORS as exc:  # damaged compressed data, bad zip CRC, ...
            raise ScanError(f"the data cannot be read at byte {self.pos}: {exc}", self.pos) from None
        except KnownError as exc:  # the decompressing reader's own limit or damage report
            raise ScanError(f"the data cannot be read at byte {self.pos}: {exc}", self.pos) from None

    def _fill(self, want: int) -> bool:
        """Buffer at least ``want`` unread bytes if the stream has them; False at its end."""
        if self._resume is not None:
            return False  # an overlay holds all it ever will
        parts, have = [self.buf[self.off:]], len(self.buf) - self.off
        grew = False
        while have < want:
            chunk = self._raw_read(max(want - have, self.block))
            self.block = min(2 * self.block, _BLOCK)
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
            grew = True
        self.buf, self.off = b"".join(parts), 0
        return grew

    def _leave_overlay(self) -> None:
        """At the end of an overlay, go back to the stream after the array."""
        if self._resume is not None and self.off >= len(self.buf):
            self.buf, self.off, self.pos, self.size = self._resume
            self._resume = None
            self.limit = MAX_STREAM if self.size is None else self.size

    def drop_overlay(self) -> tuple[bytes, int]:
        """End the overlay now; (its unread bytes, their offset). Reading goes on after the array."""
        rest, at = self.buf[self.off:], self.pos
        self.off = len(self.buf)
        self._leave_overlay()
        return rest, at

    @property
    def in_overlay(self) -> bool:
        return self._resume is not None

    def overlay(self, data: bytes, start: int) -> None:
        """Read ``data`` (found at offset ``start``) next, then carry on from the current position."""
        self._resume = (self.buf, self.off, self.pos, self.size)
        self.buf, self.off, self.pos, self.size = data, 0, start, start + len(data)
        self.limit = self.size
        self.frame_end = None

    def read(self, n: int) -> bytes:
        off = self.off
        end = off + n
        if end <= len(self.buf) and self.pos + n <= self.limit:  # the common case: already buffered
            self.off = end
            self.pos += n
            return self.buf[off:end]
        self._leave_overlay()
        if self.pos + n > MAX_STREAM and self.size is None:
            raise Capped(f"only the first {MAX_STREAM // 2**30} GB of the decompressed stream were followed")
        if self.size is not None:
            n = min(n, self.size - self.pos)
        n = max(0, n)
        if len(self.buf) - self.off < n:
            self._fill(n)
        data = self.buf[self.off:self.off + n]
        self.off += len(data)
        self.pos += len(data)
        return data

    def readline(self) -> bytes:
        self._leave_overlay()
        searched = self.off
        while True:
            end = self.buf.find(b"\n", searched)
            if 0 <= end < self.off + MAX_LINE:
                return self.read(end + 1 - self.off)
            searched = len(self.buf)
            have = len(self.buf) - self.off
            if have > MAX_LINE:
                raise Capped(f"a protocol-0 opcode at byte {self.pos} has an argument line longer than "
                             f"{MAX_LINE // 2**20} MB; what follows it was not followed")
            start = self.off
            if not self._fill(max(2 * have, have + _BLOCK)):  # geometric growth: linear overall
                return self.read(len(self.buf) - self.off)
            searched -= start  # _fill moved the unread bytes to the front

    def skip(self, n: int) -> bool:
        """Move ``n`` bytes forward without keeping them; False when the data ends first."""
        self._leave_overlay()
        if self.size is not None and self.pos + n > self.size:
            return False
        if self.size is None and self.pos + n > MAX_STREAM:
            raise Capped(f"only the first {MAX_STREAM // 2**30} GB of the decompressed stream were followed")
        taken = min(n, len(self.buf) - self.off)
        self.off, self.pos, n = self.off + taken, self.pos + taken, n - taken
        if n and self.size is not None and _seekable(self.raw):
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

    def tell(self) -> int:
        return self.pos


class _OverBudget(Exception):
    """The search for hidden pickles did as much work as the data's size allows."""


def _seekable(raw: BinaryIO) -> bool:
    try:
        return bool(raw.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class Scanner:
    """Scan one stream that may hold several pickles back to back (and joblib array data).

    ``reopen`` gives the stream again from its start, for streams that cannot seek (decompressed
    data): the data after the last pickle is then read once more to look for hidden pickles.
    """

    def __init__(self, raw: BinaryIO, base: int = 0, size: int | None = None, joblib: bool = False,
                 reopen: Callable[[], BinaryIO] | None = None) -> None:
        self.raw, self.base, self.size, self.reopen = raw, base, size, reopen
        self.raw_start = raw.tell() if _seekable(raw) else None
        self.reader = _Reader(raw, base, size)
        self.report = ScanReport()
        self.joblib = joblib
        self.protos: set[int] = set()  # where PROTO opcodes were followed (no need to start there again)
        # Opcode starts followed while searching data after a STOP: a pickle starting at one of them
        # was followed already, on a stack and memo holding at least what it would hold itself.
        self.trace: set[int] | None = None
        self._budget, self._deadline = 0, 0.0
        self._unsized_array: int | None = None

    def after_wrapper(self, state: Any, pos: int) -> None:
        """joblib reads the array right after this BUILD: skip its bytes or scan its inner pickle.

        As in joblib's ``NumpyArrayWrapper.read_array``, the bytes come from the file handle, which
        is past the whole current frame: what is left of the frame is read after the array.
        """
        self.report.arrays += 1
        reader = self.reader
        rest, rest_at = b"", reader.pos
        if reader.in_overlay:  # the overlay is what is left of the current frame
            rest, rest_at = reader.drop_overlay()
        elif reader.frame_end is not None and reader.pos < reader.frame_end:
            rest = reader.read(reader.frame_end - reader.pos)
            if len(rest) < reader.frame_end - rest_at:
                raise ScanError(f"the pickle frame around byte {pos} is cut short", pos)
        reader.frame_end = None
        self._read_array(state, pos)
        reader.frame_end = None
        if rest:
            reader.overlay(rest, rest_at)

    def frame(self, length: int, pos: int) -> None:
        """A FRAME opcode: as pickle's unframer, refused inside a frame that still has bytes."""
        reader = self.reader
        if reader.in_overlay:
            rest, _at = reader.drop_overlay()
            if rest:
                raise ScanError(f"FRAME at byte {pos} begins before the end of the current frame", pos)
        elif reader.frame_end is not None and pos < reader.frame_end:
            raise ScanError(f"FRAME at byte {pos} begins before the end of the current frame", pos)
        reader.frame_end = reader.pos + length

    def stopped(self) -> None:
        """A STOP: the rest of its frame is never read by the loader; the next pickle starts after it."""
        reader = self.reader
        if reader.in_overlay:
            reader.drop_overlay()
        elif reader.frame_end is not None and reader.pos < reader.frame_end:
            left = reader.frame_end - reader.pos  # pickle reads a whole frame at once, short or not
            end = MAX_STREAM if reader.size is None else reader.size
            reader.skip(min(left, end - reader.pos))
        reader.frame_end = None

    def _read_array(self, state: Any, pos: int) -> None:
        items = state.items if isinstance(state, Dict) else None
        if not items:
            self._unsized_array = pos
            return
        size = itemsize(items.get("dtype"))
        if size is None:  # object array: a complete nested pickle follows, with its own frames
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
        """After an array of unknown size, find the FRAME where the pickle resumes (a guess)."""
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
                    self.report.incomplete.append(
                        f"the size of the joblib array before byte {start} could not be read, so its "
                        f"{at:,} bytes were skipped unchecked")
                    return True
            at += 1
        self.reader.unread(window)
        return False

    def _one(self) -> None:
        """Follow one pickle from the reader's position (resyncing past unsized joblib arrays)."""
        machine = Machine(self)
        self.reader.frame_end = None
        while True:
            try:
                machine.run()
                if machine.proto:  # this top-level pickle's PROTO (nested ones have their own)
                    self.report.protocol = highest_protocol((self.report.protocol, machine.proto))
                return
            except ScanError:
                if not (self.joblib and self._resync()):
                    raise

    def _next_content(self) -> bool:
        """Skip blanks after a STOP; True when more bytes follow."""
        reader = self.reader
        rest = reader.read(64)
        stripped = rest.lstrip(b" \t\r\n")
        while rest and not stripped:
            rest = reader.read(4096)
            stripped = rest.lstrip(b" \t\r\n")
        if not stripped:
            return False
        reader.unread(stripped)
        return True

    def run(self, after_stop: bool = False) -> ScanReport:
        """Scan every pickle in the stream; errors and limits end up in the report.

        ``after_stop``: the stream starts right after another pickle's STOP (data the caller found
        after what it loaded), so what is not a pickle there is searched for hidden ones.
        """
        report, reader = self.report, self.reader
        try:
            while True:
                if (report.pickles or after_stop) and not self._next_content():
                    return report
                start = reader.tell()
                try:
                    self._one()
                except ScanError as exc:
                    if report.pickles or after_stop:
                        report.trailing_offset = start
                        self._hidden(start)
                    else:
                        report.error, report.error_offset = str(exc), exc.offset
                    return report
                report.pickles += 1
        except Capped as exc:
            report.incomplete.append(str(exc))
            return report

    # -- pickles hidden in the data after a STOP ------------------------------------------------
    def _trailing_view(self, start: int) -> tuple[BinaryIO, int, int | None] | None:
        """A cheaply seekable view of the data from ``start``: (handle, offset of its byte 0, size).

        A file or bytes in memory serve as they are; anything else (a zip member, a decompressed
        stream: seeking back means decompressing again) is copied once into a spooled file.
        """
        if self.raw_start is not None and isinstance(self.raw, io.BytesIO | io.BufferedReader | io.FileIO):
            shift = self.base - self.raw_start
            size = self.size if self.size is not None else self.raw.seek(0, io.SEEK_END) + shift
            return self.raw, shift, size
        if self.raw_start is not None:
            self.raw.seek(self.raw_start + start - self.base)
            source, close = self.raw, False
        elif self.reopen is not None:
            source, close = self.reopen(), True
            skipper = _Reader(source, self.base, None)
            if not skipper.skip(start - self.base):
                source.close()
                return None
        else:
            return None
        spool = tempfile.SpooledTemporaryFile(_SPOOL)  # noqa: SIM115  (_hidden closes it)
        try:
            copier = _Reader(source, start, None)
            while chunk := copier.read(1 << 20):
                spool.write(chunk)
        finally:
            if close:
                source.close()
        end = spool.tell()
        spool.seek(0)
        return cast(BinaryIO, spool), start, start + end  # typeshed says IO[bytes]; it has BinaryIO's methods

    def _hidden(self, start: int) -> None:
        """Try every place after ``start`` where a pickle may begin; scan each one that parses."""
        try:
            view = self._trailing_view(start)
        except (ScanError, *_STREAM_ERRORS, KnownError):
            view = None
        if view is None:
            self.report.incomplete.append(f"the data after byte {start} was not searched for more pickles")
            return
        handle, shift, size = view
        self.trace = set()
        self._budget = self.report.opcodes + 4 * max((size or start) - start, 0) + 1_000_000
        self._deadline = time.monotonic() + HIDDEN_SEARCH_SECONDS
        try:
            self._search(handle, shift, size, start + 1)
        except _OverBudget as exc:
            self.report.incomplete.append(
                f"the data after byte {start} is full of pickle-like fragments; the search for pickles "
                f"hidden in it stopped at byte {exc.args[0]} (work or time bound)")
        finally:
            self.trace = None
            if handle is not self.raw:
                handle.close()

    def _search(self, handle: BinaryIO, shift: int, size: int | None, at: int) -> None:
        assert self.trace is not None  # _hidden sets it for the search
        keep = 512  # a candidate cut by a block boundary is found in the next block
        while size is None or at < size:
            handle.seek(at - shift)
            block = handle.read(1 << 20)
            if not block:
                return
            next_at = at + max(1, len(block) - keep) if len(block) > keep else at + len(block)
            for match in _CANDIDATE.finditer(block):
                where = at + match.start()
                if where >= next_at:
                    break
                if where in self.protos or where in self.trace:
                    continue
                after = block[match.start() + 2:match.start() + 3]
                if match.group()[:1] == b"\x80" and after and after not in OPS:
                    continue  # PROTO then no opcode: pickle.load fails before doing anything
                if self.report.opcodes > self._budget or time.monotonic() > self._deadline:
                    raise _OverBudget(where)
                end = self._try_at(handle, shift, size, where)
                if end is not None:  # a pickle: go on after it (stacked ones follow)
                    next_at = end
                    break
            at = next_at

    def _try_at(self, handle: BinaryIO, shift: int, size: int | None, where: int) -> int | None:
        """Scan from ``where``; the offset after the last pickle found there, or None."""
        handle.seek(where - shift)
        saved = self.reader
        self.reader = _Reader(handle, where, size, block=256)
        end = None
        try:
            self._one()
            self.report.hidden.append(where)
            self.report.pickles += 1
            end = self.reader.tell()
            while self._next_content():
                self._one()
                self.report.pickles += 1
                end = self.reader.tell()
        except ScanError:
            pass
        finally:
            self.reader = saved
        return end


def scan_stream(raw: BinaryIO, base: int = 0, size: int | None = None, joblib: bool = False,
                reopen: Callable[[], BinaryIO] | None = None) -> ScanReport:
    """Scan the pickles in ``raw`` from its current position (``base`` is that position's offset)."""
    return Scanner(raw, base, size, joblib, reopen).run()


def scan_bytes(data: bytes, joblib: bool = False, start: int = 0, after_stop: bool = False) -> ScanReport:
    """Scan pickles held in memory (a shelf value, a zip member) from offset ``start``."""
    raw = io.BytesIO(data)
    raw.seek(start)
    return Scanner(raw, start, len(data), joblib).run(after_stop)


def scan_file(path: str, offset: int = 0, joblib: bool = False) -> ScanReport:
    """Scan the pickles of a file from ``offset``."""
    with open(path, "rb") as handle:
        size = handle.seek(0, io.SEEK_END)
        handle.seek(offset)
        return scan_stream(handle, offset, size, joblib)
