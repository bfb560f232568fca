"""Summaries of pickled objects: pickle, joblib, .npy/.npz, and pickles inside zip or 7z archives.

Every pickle is only *scanned* (``pickle_scan``); nothing is loaded. Containers are read by
their raw layout (a zip member's local header, a 7z packed stream), the way PyTorch reads
them, so a member marked "encrypted" but stored in the clear is still checked.
"""

from __future__ import annotations

import lzma
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from typing import IO, Any, BinaryIO, cast

from storage.core.errors import KnownError, Location, ParseError
from storage.formats.objects.joblib_io import open_joblib
from storage.formats.objects.pickle.scan import (
    ScanReport,
    report_protocol,
    scan_bytes,
    scan_file,
    scan_stream,
)
from storage.inspect.summaries import CHUNK, Collector
from storage.sniff.detect import SniffResult

MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
STATS_ELEMENTS = 10_000_000  # larger arrays get stats from a sample
STATS_MEMBERS = 50
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib", ".p")
_MEMBER_ERRORS = (RuntimeError, NotImplementedError, zipfile.BadZipFile, OSError, EOFError, zlib.error,
                  lzma.LZMAError, ValueError, SyntaxError, TypeError, tokenize.TokenError)


def _open_zip(path: str) -> zipfile.ZipFile:
    """The archive's directory, or a ParseError saying why it cannot be read."""
    try:
        return zipfile.ZipFile(path)
    except (*_MEMBER_ERRORS, struct.error) as exc:
        raise ParseError(f"the zip directory cannot be read: {exc}") from None


def scan_summary(report: ScanReport) -> dict[str, Any]:
    """The summary fields of one scan."""
    refs = sorted(report.globals.values(), key=lambda g: g.offset)
    out: dict[str, Any] = {
        "protocol": report_protocol(report),
        "pickles": report.pickles, "opcodes": report.opcodes, "calls": dict(report.calls),
        "globals": [{"global": g.qualname, "severity": g.severity, "count": g.count, "offset": g.offset}
                    for g in refs],
        "complete": report.error is None and report.capped is None,
    }
    if not report.opcodes_counted:  # read by the safe loader: no opcode walk counted them
        del out["opcodes"], out["calls"]
    if report.arrays:
        out["arrays"] = report.arrays
    if report.persistent_ids:
        out["persistent_ids"] = report.persistent_ids
    if report.capped:
        out["capped"] = report.capped
    return out


def add_scan(c: Collector, report: ScanReport, where: str = "", fatal: bool = True) -> None:
    """Findings for one scan; a broken stream becomes the error when ``fatal``, else a finding."""
    for ref in sorted(report.globals.values(), key=lambda g: g.offset):
        times = f" ({ref.count} times)" if ref.count > 1 else ""
        if ref.severity == "info":
            c.add("info", f"{where}uses {ref.qualname}: {ref.why}", ref.qualname)
        else:
            c.add(ref.severity, f"{where}imports {ref.qualname} at byte {ref.offset}{times}: {ref.why}",
                  ref.qualname)
    for offset in report.computed_globals:
        c.add("dangerous", f"{where}STACK_GLOBAL at byte {offset} imports a name computed while loading "
              "(a way to hide what it imports)")
    for offset in report.extensions:
        c.add("suspicious", f"{where}an EXT opcode at byte {offset} imports a global from the copyreg "
              "extension registry")
    if report.persistent_ids:
        c.add("info", f"{where}{report.persistent_ids} persistent IDs: the loading program resolves them "
              "(PyTorch storages, for example)")
    if report.pickles > 1:
        c.add("info", f"{where}{report.pickles} pickles in one file, one after the other (a pickle.load "
              "loop, joblib and torch's legacy format read them all)")
    if report.trailing_offset is not None:
        c.add("suspicious", f"{where}data after the last pickle, from byte {report.trailing_offset}, is "
              "not a pickle itself; every place in it where a pickle may start was scanned")
    for offset in report.hidden[:20]:
        c.add("suspicious", f"{where}a pickle hidden at byte {offset}, after data that is not a pickle: "
              "a loader that seeks there runs it (its globals are listed with the others)")
    if report.resynced:
        c.add("info", f"{where}resumed after joblib array data at byte {report.resynced[0]}")
    for why in report.incomplete:
        c.incomplete.append(f"{where}{why}")
        c.add("suspicious", f"{where}not fully checked: {why}; what is there could run code")
    if report.error is not None:
        error = ParseError(f"{where}not a valid pickle: {report.error}", Location(offset=report.error_offset))
        if fatal and c.error is None:
            c.error = error
        elif not fatal:
            c.add("suspicious", error.message)


def summarize_pickle(result: SniffResult, c: Collector) -> None:
    """Scan the opcodes (decompressing joblib files on the fly) and list the globals."""
    if result.detail.get("wrapper") in ("pytorch-zip", "zip"):
        c.summary["wrapper"] = result.detail["wrapper"]
        if result.detail["wrapper"] == "zip":
            c.summary["compression"] = "zip"  # pandas' .pkl.zip: one pickle in a zip archive
        scan_container(result, c, "zip")
        return
    compression = result.detail.get("compression")
    # A compressed stream is scanned as joblib reads it whatever its label: joblib.load reads
    # every compressed pickle, and its array wrapper may come after the sniffed start.
    joblib = result.format == "joblib" or bool(compression)
    quick = None
    if compression:
        c.summary["compression"] = compression
        stream, _ = open_joblib(result.path)  # bounded; UnsupportedError when lz4 is missing
        with stream:
            report = scan_stream(stream, 0, None, joblib, reopen=lambda: open_joblib(result.path)[0])
    else:
        quick = _quick_scan(result) if not joblib else None
        report = quick[0] if quick else scan_file(result.path, 0, joblib)
    if result.detail.get("wrapper"):
        c.summary["wrapper"] = result.detail["wrapper"]
    c.summary.update(scan_summary(report))
    add_scan(c, report)
    if any(g.module.startswith("joblib") and g.name in ("NDArrayWrapper", "ZNDArrayWrapper")
           for g in report.globals.values()):
        _add_companions(result.path, c)
    if report.error is None and result.size <= SAFE_LOAD_LIMIT:
        _add_top_level(result, c, joblib, quick[1][0] if quick else None)


SAFE_LOAD_LIMIT = 512 * 1024 * 1024  # files up to this size are also loaded safely for their shape


def _quick_scan(result: SniffResult) -> tuple[ScanReport, list[Any]] | None:
    """The scan taken from one safe load at C speed (``pickle_quickscan``), when that can tell."""
    if result.size > SAFE_LOAD_LIMIT:
        return None
    from storage.formats.objects.pickle.quickscan import quick_scan

    with open(result.path, "rb") as handle:
        return quick_scan(handle.read())


def _add_top_level(result: SniffResult, c: Collector, joblib: bool, load: Any = None) -> None:
    """The top-level value's type and size, from a safe load (nothing imported or called)."""
    from storage.core.errors import KnownError
    from storage.formats.objects.doc import type_label
    from storage.formats.objects.pickle.safe import load_safe

    try:
        if load is None and result.detail.get("compression"):
            stream, _ = open_joblib(result.path)
            with stream:
                load = load_safe(stream.read(), joblib=joblib)
        elif load is None:
            with open(result.path, "rb") as handle:
                load = load_safe(handle.read(), joblib=joblib)
    except KnownError as exc:
        c.add("suspicious", f"the safe loader could not read it: {exc}")
        return
    value = load.value
    if load.encoding != "ASCII":
        c.summary["encoding"] = load.encoding
        c.add("info", "Python 2 byte strings are not ASCII: read as latin-1 text, as pandas, NumPy and "
              "joblib read Python 2 pickles (pickle.load alone fails)")
    c.summary["top_level"] = type_label(value)
    if isinstance(value, dict | list | tuple | set | frozenset):
        c.summary["items"] = len(value)
    if load.arrays:
        c.summary["arrays"] = load.arrays
    _add_table(value, c)


def _add_table(value: Any, c: Collector) -> None:
    """A pickled pandas DataFrame or Series: its rows and columns (``pickle_frame``, no pandas)."""
    from storage.formats.objects.pickle.frame import FrameError, frame_table, is_frame, summary

    if not is_frame(value):
        return
    try:
        c.summary["table"] = summary(frame_table(value))
    except FrameError as exc:
        c.add("suspicious", f"the pickled {value.func.name} cannot be read as a table: {exc}")


def _add_companions(path: str, c: Collector) -> None:
    """joblib < 0.10 kept each array in a file beside the pickle: list them, with shape and dtype."""
    from storage.formats.objects.joblib_io import companion_names, companion_path
    from storage.formats.objects.npy_io import read_npy_info

    stream, _ = open_joblib(path)
    with stream:
        names = companion_names(stream.read(MAX_MEMBER_BYTES))
    entries, missing = [], []
    for name in names[:MAX_MEMBERS]:
        entry: dict[str, Any] = {"file": name}
        try:
            target = companion_path(path, name)
        except KnownError as exc:
            entry["error"] = exc.message
            c.add("suspicious", f"array file {name!r}: {exc.message}")
        else:
            entry["present"] = os.path.isfile(target)
            if not entry["present"]:
                missing.append(name)
            elif not name.endswith(".z"):
                try:
                    entry.update(read_npy_info(target).describe())
                except KnownError as exc:
                    entry["error"] = exc.message
        entries.append(entry)
    c.summary["companions"] = entries
    if missing:
        c.add("info", f"{len(missing)} array file(s) this old joblib pickle keeps beside it are missing: "
              + ", ".join(missing[:5]))


# -- NumPy --------------------------------------------------------------------------------------

def summarize_npy(result: SniffResult, c: Collector) -> None:
    """Shape, dtype, order and min/max/mean from the header and data; object arrays: pickle scanned."""
    from storage.formats.objects.npy_io import read_npy_info  # numpy is imported only for NumPy files

    info = read_npy_info(result.path)
    offset = info.data_offset
    c.summary.update(info.describe(), data_offset=offset)
    if info.object_dtype:
        c.add("suspicious", "contains pickled objects: numpy.load(allow_pickle=True) would unpickle them")
        report = scan_file(result.path, offset)
        c.summary["scan"] = scan_summary(report)
        add_scan(c, report)
        return
    expected = info.nbytes
    present = result.size - offset
    c.summary["data_bytes"] = expected
    if present < expected:
        raise ParseError(f"the array data is cut short: {expected:,} bytes expected, {present:,} present",
                         Location(offset=result.size))
    if present > expected:
        c.add("info", f"{present - expected:,} bytes after the array data")
    from storage.formats.objects.npy_io import read_npy

    _add_stats(c.summary, read_npy(result.path))


def _add_stats(entry: dict[str, Any], array: Any) -> None:
    """min/max/mean of a numeric array (sampled past STATS_ELEMENTS, so a huge memmap is not read)."""
    from storage.core.array_stats import array_stats
    from storage.formats.objects.npy_io import PickledArray

    if isinstance(array, PickledArray):
        return
    stats = array_stats(array, STATS_ELEMENTS)
    if stats is not None:
        entry["stats"] = stats


def summarize_npz(result: SniffResult, c: Collector) -> None:
    """Each member's shape, dtype and number stats; object members' pickles are scanned."""
    from storage.formats.objects.npy_io import read_header

    members: list[dict[str, Any]] = []
    with _open_zip(result.path) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            c.incomplete.append(f"only the first {MAX_MEMBERS} of {len(infos)} members were checked")
            c.add("suspicious", f"not fully checked: only the first {MAX_MEMBERS} of {len(infos)} members")
        for info in infos[:MAX_MEMBERS]:
            entry: dict[str, Any] = {"name": info.filename, "size": info.file_size}
            try:
                with archive.open(info) as handle:
                    header = read_header(handle)
                    entry.update(header.describe())
                    if header.object_dtype:
                        c.add("suspicious", f"member {info.filename}: contains pickled objects")
                        # a ZipExtFile: typeshed says IO[bytes], it is a BufferedIOBase
                        report = scan_stream(cast(BinaryIO, handle), handle.tell(), None)
                        entry["scan"] = scan_summary(report)
                        add_scan(c, report, f"member {info.filename}: ", fatal=False)
            except _MEMBER_ERRORS as exc:
                entry["error"] = str(exc)
                c.add("suspicious", f"member {info.filename}: cannot read its .npy header ({exc})")
            members.append(entry)
    c.summary.update(member_count=len(infos), members=members)
    _npz_stats(result.path, members, c)
    if members and all("error" in m for m in members):
        c.error = ParseError("no member of this .npz has a readable .npy header")


def _npz_stats(path: str, members: list[dict[str, Any]], c: Collector) -> None:
    """Number stats of the first STATS_MEMBERS numeric members, each mapped or streamed."""
    from storage.formats.objects.npy_io import read_npz

    wanted = [m for m in members if "error" not in m and not m.get("object_dtype")][:STATS_MEMBERS]
    if not wanted:
        return
    try:
        archive = read_npz(path)
    except KnownError:
        return  # the member loop above has already said what is wrong
    with archive:
        for entry in wanted:
            try:
                stats = archive.stats(entry["name"], STATS_ELEMENTS)
                if stats is not None:
                    entry["stats"] = stats
            except KnownError as exc:
                entry["stats_error"] = exc.message


# -- containers ---------------------------------------------------------------------------------

def member_bytes(archive: zipfile.ZipFile, handle: IO[bytes], info: zipfile.ZipInfo,
                  limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a member, read from its local header (flags and CRC ignored)."""
    try:
        handle.seek(info.header_offset)
        local = handle.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_len + extra_len)
        if info.compress_type == zipfile.ZIP_STORED:
            return handle.read(min(limit, info.compress_size))
        if info.compress_type == zipfile.ZIP_DEFLATED:
            engine, out, left = zlib.decompressobj(-15), bytearray(), info.compress_size
            while len(out) < limit and not engine.eof:
                if engine.unconsumed_tail:
                    out += engine.decompress(engine.unconsumed_tail, limit - len(out))
                    continue
                block = handle.read(min(CHUNK, left))
                if not block:
                    break
                left -= len(block)
                out += engine.decompress(block, limit - len(out))
            return bytes(out)
        with archive.open(info) as member:
            return member.read(limit)
    except _MEMBER_ERRORS:
        return None


def _looks_pickled(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _scan_zip(result: SniffResult, c: Collector) -> None:
    scanned, encrypted = [], 0
    with _open_zip(result.path) as archive, open(result.path, "rb") as handle:
        infos = archive.infolist()
        c.summary["member_count"] = len(infos)
        c.summary["members"] = [{"name": i.filename, "size": i.file_size, "encrypted": bool(i.flag_bits & 1)}
                                for i in infos[:200]]
        if len(infos) > MAX_MEMBERS:
            c.incomplete.append(f"only the first {MAX_MEMBERS} of {len(infos)} members were checked")
            c.add("suspicious", f"not fully checked: only the first {MAX_MEMBERS} of {len(infos)} members")
        for info in infos[:MAX_MEMBERS]:
            if info.filename.endswith("/"):  # is_dir(), which fails on an empty name
                continue
            head = member_bytes(archive, handle, info, 16) or b""
            if not (_looks_pickled(head) or info.filename.endswith(PICKLE_SUFFIXES)):
                encrypted += bool(info.flag_bits & 1)
                continue
            data = member_bytes(archive, handle, info, MAX_MEMBER_BYTES) or b""
            if info.file_size > MAX_MEMBER_BYTES:
                why = f"member {info.filename}: only its first {MAX_MEMBER_BYTES // 2**20} MB were checked"
                c.incomplete.append(why)
                c.add("suspicious", f"not fully checked: {why}")
            report = scan_bytes(data)
            scanned.append({"member": info.filename, **scan_summary(report)})
            main = result.format == "pickle" and (info.filename.rsplit("/", 1)[-1] == "data.pkl"
                                                  or result.detail.get("wrapper") == "zip")
            add_scan(c, report, f"member {info.filename}: ", fatal=main)
    c.summary["pickles_scanned"] = scanned
    if encrypted:
        c.add("info", f"{encrypted} encrypted member(s) could not be checked")


def _scan_7z(result: SniffResult, c: Collector) -> None:
    """No 7z reader here: decode the first packed stream (LZMA2, LZMA or stored) and scan it."""
    with open(result.path, "rb") as handle:
        data = handle.read(MAX_MEMBER_BYTES + 32)
    if len(data) < 32:
        raise ParseError("the 7z archive is cut short: its 32-byte start header is incomplete")
    (packed_size,) = struct.unpack_from("<Q", data, 12)
    packed = data[32:32 + min(packed_size, MAX_MEMBER_BYTES)]
    c.summary["archive"] = "7z"
    c.summary["packed_size"] = packed_size
    filters = (("LZMA2", [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 26}]),
               ("LZMA", [{"id": lzma.FILTER_LZMA1, "dict_size": 1 << 24, "lc": 3, "lp": 0, "pb": 2}]))
    for method, chain in (*filters, ("stored", None)):
        try:
            out = packed if chain is None else lzma.LZMADecompressor(
                lzma.FORMAT_RAW, filters=chain).decompress(packed, MAX_MEMBER_BYTES)
        except lzma.LZMAError:
            continue
        if _looks_pickled(out):
            report = scan_bytes(out)
            c.summary["pickles_scanned"] = [{"member": f"packed stream ({method})", **scan_summary(report)}]
            c.add("info", "7z archive: no 7z reader here; its first packed stream was decoded "
                  f"({method}) and holds a pickle")
            add_scan(c, report, "first 7z stream: ", fatal=False)
            if packed_size > MAX_MEMBER_BYTES or len(out) >= MAX_MEMBER_BYTES:
                why = f"only the first {MAX_MEMBER_BYTES // 2**20} MB of the first 7z stream were checked"
                c.incomplete.append(why)
                c.add("suspicious", f"not fully checked: {why}")
            return
    c.add("info", "7z archive: no 7z reader here and no pickle at the start of its packed data; "
          "its members were not checked")


# -- the pickle verdict of any file -------------------------------------------------------------

# Names whose usual loader unpickles: pickle, pandas, joblib, torch, numpy (allow_pickle falls back
# to pickle.load for content that is not .npy or zip), scikit-learn's .sav convention.
PICKLE_NAMES = (".pkl", ".pickle", ".pck", ".p", ".joblib", ".jbl", ".pt", ".pth", ".ckpt", ".sav",
                ".npy", ".npz")


def pickle_named(path: str) -> bool:
    """True when the file's name says a loader would unpickle it."""
    return os.path.splitext(path)[1].lower() in PICKLE_NAMES


def parses_as_pickle(report: ScanReport) -> bool:
    """pickle.load from byte 0 reaches a STOP, or calls something, or imports something dangerous,
    before it fails. (A word list starting "cherry\napple\n" is a GLOBAL of a module that does
    not exist, then nothing: not worth a verdict.)"""
    return bool(report.pickles or report.computed_globals or report.extensions or any(report.calls.values())
                or any(ref.severity == "dangerous" for ref in report.globals.values()))


def add_pickle_start(result: SniffResult, c: Collector) -> ScanReport | None:
    """The full check (when a file is opened or inspected, never when a folder is listed).

    ``pickle.load`` needs no magic bytes: whatever the format label says (text, JSON, HDF5 with a
    user block, "compressed" bytes...), the file is read from byte 0 by the scanner, and when it
    parses as a pickle its verdict joins the file's. Pickle and uncompressed joblib summaries have
    scanned byte 0 already; shelves are several files whose values are scanned one by one.
    """
    fmt = result.format
    if fmt == "shelve" or (fmt in ("pickle", "joblib") and not result.detail.get("compression")
                           and result.detail.get("wrapper") != "pytorch-zip"):
        return None
    with warnings.catch_warnings():  # prose read as protocol-0 STRING opcodes: odd escapes
        warnings.simplefilter("ignore", DeprecationWarning)
        report = scan_file(result.path, 0)
    if not parses_as_pickle(report):
        if pickle_named(result.path) and fmt not in ("npy", "npz", "pickle", "joblib"):
            at = report.error_offset if report.error_offset is not None else 0
            c.add("info", f"named like a pickle ({os.path.splitext(result.path)[1]}), but pickle.load "
                  f"stops at byte {at} without importing anything: {report.error}")
        return None
    c.summary["pickle_from_start"] = scan_summary(report)
    risky = report.globals or report.computed_globals or report.extensions or any(report.calls.values())
    label = f"{fmt} ({result.detail['compression']})" if result.detail.get("compression") else fmt
    c.add("suspicious" if risky else "info",
          f"this {label} file also parses as a pickle from byte 0: pickle.load, and every loader that "
          "falls back to it, would run it as one")
    add_scan(c, report, "as a pickle from byte 0: ", fatal=False)
    return report


def scan_container(result: SniffResult, c: Collector, container: str) -> None:
    """Scan the pickles inside a zip or 7z archive."""
    c.summary["container"] = container
    if container == "zip":
        _scan_zip(result, c)
    elif container == "7z":
        _scan_7z(result, c)
