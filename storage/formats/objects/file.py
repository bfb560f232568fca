"""Open a pickle, joblib, .npy, .npz or shelf for the Objects tab: values read safely, never run.

``open_objects`` runs on a worker: it reads the file, loads each pickle with ``pickle_safe``
(no import, no call) and gathers what the file would do if loaded the usual way. Shelf values
are loaded one at a time, when the user selects a key (``load_shelf_value``), but every value
is scanned at open so a malicious one among benign ones is reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storage.core.decompression import MAX_DECOMPRESSED, decompression_limit, limit_error
from storage.core.errors import DecompressionLimitError, KnownError, UnreadableError, UnsupportedError
from storage.core.gc_pause import gc_paused
from storage.formats.objects.doc import ObjectDoc
from storage.formats.objects.pickle.quickscan import report_from_loads
from storage.formats.objects.pickle.safe import (
    GlobalUse,
    LoadCancelled,
    PickleLoadError,
    SafeLoad,
    load_all,
    load_safe,
)
from storage.formats.objects.pickle.scan import ScanReport, highest_protocol, report_protocol, scan_bytes
from storage.sniff.compressed import compression_of

MAX_SHELF_SCAN = 256 * 1024 * 1024  # bytes of shelf values scanned for the report at open
SEVERITY_ORDER = {"dangerous": 0, "suspicious": 1, "info": 2}


@dataclass
class Finding:
    severity: str  # dangerous, suspicious or info
    message: str
    where: str = ""


@dataclass
class ObjectsFile:
    """What the Objects tab shows for one file."""

    path: str
    kind: str  # pickle, joblib, npy, npz, shelve
    doc: ObjectDoc | None = None
    globals: dict[tuple[str, str], GlobalUse] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    protocol: int | None = None
    compression: str | None = None
    tail: bytes = b""  # bytes after the last pickle that are not a pickle: kept on save
    shelf: Any = None  # storage.formats.objects.shelf.io.Shelf
    shelf_protocols: dict[str, int | None] = field(default_factory=dict)
    note: str = ""
    encoding: str = "ASCII"  # "latin1" when Python 2 byte strings were read as latin-1 text
    # How Save writes it back so that the libraries that wrote it still load it (pickle_write)
    writer: dict[str, Any] = field(default_factory=dict)
    companion_files: list[str] = field(default_factory=list)  # joblib < 0.10 array files beside it
    zip_member: dict[str, Any] = field(default_factory=dict)  # pandas' .pkl.zip: {"name", "compress_type"}
    load_error: str = ""  # why the values cannot be shown (the verdict above still stands)
    global_offsets: dict[tuple[str, str], int] = field(default_factory=dict)  # first byte, as inspect
    size_limited: bool = False  # not shown because compressed data unpacks past its budget

    @property
    def dangerous(self) -> list[GlobalUse]:
        return [g for g in self.globals.values() if g.severity == "dangerous"]

    @property
    def worst(self) -> str:
        levels = [g.severity for g in self.globals.values()] + [f.severity for f in self.findings]
        return min(levels, key=lambda s: SEVERITY_ORDER.get(s, 3), default="info")

    def add_scan(self, report: ScanReport, where: str = "") -> None:
        """What the opcode scanner found (``pickle_scan``), merged with what the loads found."""
        for ref in report.globals.values():
            known = self.globals.get((ref.module, ref.name))
            if known is None:
                self.globals[(ref.module, ref.name)] = GlobalUse(ref.module, ref.name, ref.count,
                                                                  ref.severity, ref.why)
        for offset in report.computed_globals:
            self.findings.append(Finding("dangerous", f"STACK_GLOBAL at byte {offset} imports a name "
                                         "computed while loading (a way to hide what it imports)", where))
        for offset in report.hidden:
            self.findings.append(Finding("suspicious", f"a pickle hidden at byte {offset}, after data that "
                                         "is not a pickle: a loader that seeks there runs it", where))
        for why in report.incomplete:
            self.findings.append(Finding("suspicious", f"not fully checked: {why}", where))

    def add(self, load: SafeLoad, where: str = "") -> None:
        for use in load.globals:
            key = (use.module, use.name)
            known = self.globals.get(key)
            if known is None:
                self.globals[key] = GlobalUse(use.module, use.name, use.count, use.severity, use.why)
            else:
                known.count += use.count
        for severity, message in load.findings:
            self.findings.append(Finding(severity, message, where))


def _read_limited(path: str) -> bytes:
    from storage.core.disk_stamp import read_regular

    data, _info = read_regular(path)
    return data


FREEZE_ABOVE = 16 * 1024 * 1024  # as for JSON: big trees are moved out of the collector's sight
FULL_SCAN_LIMIT = 8 * 1024 * 1024  # larger streams the loads cannot place keep "Where" empty


def objects_from_bytes(path: str, kind: str, data: bytes) -> ObjectsFile:
    """Pickle bytes (of a pickle or joblib file at ``path``) read safely, as if from the file."""
    result = ObjectsFile(os.path.abspath(path), kind)
    _load_stream(result, data, joblib=kind == "joblib")
    return result


def _load_stream(result: ObjectsFile, data: bytes, joblib: bool,
                 watch: Callable[[int], None] | None = None) -> None:
    # The collector would otherwise walk the millions of new containers again and again.
    with gc_paused(freeze=len(data) > FREEZE_ABOVE):
        loads, error = load_all(data, joblib=joblib, watch=watch)
    for number, load in enumerate(loads):
        result.add(load, f"pickle {number + 1}" if len(loads) > 1 else "")
    result.protocol = highest_protocol(load.protocol for load in loads)  # as inspect says it
    _locate(result, data, loads, error, joblib)
    _note_fidelity(result, loads)
    _note_py2_strings(result, data, loads)
    if error is not None:
        offset = error.location.offset if error.location else None
        result.findings.append(Finding("suspicious", f"After the pickle: {error}", f"byte {offset}"))
        for use in error.globals:
            result.globals.setdefault((use.module, use.name), use)
    if len(loads) > 1:
        result.findings.append(Finding("info", f"{len(loads)} pickles follow one another in this file; "
                                               "each is shown as its own top-level item"))
    end = loads[-1].end
    if end < len(data) and data[end:].strip():
        result.tail = data[end:]
        if error is None:
            result.findings.append(Finding("suspicious", f"{len(data) - end:,} bytes follow the last pickle",
                                           f"byte {end:,}"))
        # Pickles after data that is not one: the scanner tries every place one may start.
        result.add_scan(scan_bytes(data, joblib, end, after_stop=True), f"after byte {end}")
    root = [load.value for load in loads] if len(loads) > 1 else loads[0].value
    result.doc = ObjectDoc(root, result.protocol, stacked=len(loads) > 1, label=os.path.basename(result.path))


def _locate(result: ObjectsFile, data: bytes, loads: list[SafeLoad], error: Any, joblib: bool) -> None:
    """Each global's first byte offset and, for pickles without PROTO, the protocol their opcodes
    need: what ``inspect`` reports, from the loads when they tell (the C unpickler noted where
    it stood), else from an opcode scan of streams up to FULL_SCAN_LIMIT."""
    without_proto = all(load.protocol is None or load.protocol < 2 for load in loads)
    if not result.globals and not without_proto:
        return
    report = report_from_loads(data, loads, error)
    if report is None:
        if len(data) > FULL_SCAN_LIMIT:
            return
        report = scan_bytes(data, joblib)
    result.global_offsets.update({key: ref.offset for key, ref in report.globals.items()})
    if without_proto:
        result.protocol = report_protocol(report)


def _note_fidelity(result: ObjectsFile, loads: list[SafeLoad]) -> None:
    """What Save needs to write a file its writers still load: the NumPy package name the file
    used (``numpy.core`` for NumPy 1.x), joblib's array layout, the Python 2 text encoding."""
    modules = {use.module for load in loads for use in load.globals}
    for core in ("numpy.core", "numpy._core"):
        if any(module == core or module.startswith(core + ".") for module in modules):
            result.writer["numpy_core"] = core
            break
    arrays = sum(load.arrays for load in loads)
    if result.kind == "joblib" and arrays:
        result.writer["joblib"] = {"aligned": sum(load.aligned_arrays for load in loads) > 0,
                                   "allow_mmap": result.compression is None,  # joblib maps raw files only
                                   "subclasses": [pair for load in loads for pair in load.subclasses]}
    result.companion_files = [name for load in loads for name in load.companions]
    _note_encoding(result, loads)


def _note_py2_strings(result: ObjectsFile, data: bytes, loads: list[SafeLoad]) -> None:
    """Python 2 byte strings (protocols 0-2), for Save to write back as byte strings; an
    ASCII-only pickle is walked for them only when small (its strings read the same either way
    in Python 3; Python 2 code mostly mixes ASCII str and unicode freely)."""
    from storage.formats.objects.pickle.py2 import ASCII_SCAN, MAX_SCAN, byte_strings

    found: frozenset[str] = frozenset()
    for load in loads:
        if load.protocol is not None and load.protocol <= 2:
            limit = ASCII_SCAN if load.encoding == "ASCII" else MAX_SCAN
            found |= byte_strings(data, load.start, load.end, limit)
    if found:
        result.writer["py2_strings"] = found


def _note_encoding(result: ObjectsFile, loads: list[SafeLoad]) -> None:
    if any(load.encoding != "ASCII" for load in loads):
        result.encoding = "latin1"


def open_objects(path: str, kind: str, cancel: Callable[[], bool] | None = None, *,
                 trusted_size: bool = False, progress: Callable[[float], None] | None = None) -> ObjectsFile:
    """Read ``path`` as ``kind`` safely.

    Compressed data may unpack to ``decompression.decompression_limit`` of its size; past that the
    values are not read (``size_limited``: the window offers "Open anyway", which passes
    ``trusted_size``).

    When the values cannot be shown (a damaged or hostile pickle the safe loader refuses), the
    result still carries the verdict, from the same scan ``inspect`` runs, with ``doc`` None and
    ``load_error`` saying why: the window shows what loading the file would do in every case.
    Raises KnownError only when not even that can be read, and LoadCancelled when ``cancel``
    answered True while a plain pickle was loading (``progress`` hears how far that load got).
    """
    try:
        return _open_objects(path, kind, cancel, trusted_size, progress)
    except (UnsupportedError, UnreadableError, LoadCancelled):  # not this tab's, unreadable, stopped
        raise
    except KnownError as exc:
        result = verdict_only(path, kind, str(exc))
        result.size_limited = isinstance(exc, DecompressionLimitError)
        return result


def verdict_only(path: str, kind: str, why: str) -> ObjectsFile:
    """No values, only the verdict of ``inspect`` (scan of every stream, byte 0 as pickle.load)."""
    from storage.inspect.report import inspect_path

    result = ObjectsFile(os.path.abspath(path), kind, load_error=why)
    report = inspect_path(path)
    whys = {f["global"]: f["message"] for f in report["findings"] if f.get("global")}
    for entry in report["summary"].get("globals", []):
        module, _, name = entry["global"].rpartition(".")  # for the bar's names: any split will do
        result.globals[(module, name)] = GlobalUse(module, name, entry["count"], entry["severity"],
                                                   whys.get(entry["global"], ""))
        if isinstance(entry.get("offset"), int):
            result.global_offsets[(module, name)] = entry["offset"]
    named = {f"{module}.{name}" for module, name in result.globals}
    for finding in report["findings"]:
        if finding.get("global") not in named:
            result.findings.append(Finding(finding["severity"], finding["message"]))
    protocol = report["summary"].get("protocol")
    result.protocol = protocol if isinstance(protocol, int) else None
    result.findings.append(Finding("suspicious", f"the values cannot be shown: {why}"))
    if report["error"] and report["error"]["message"] not in why:
        result.findings.append(Finding("suspicious", report["error"]["message"]))
    return result


def pickle_start_verdict(path: str) -> ObjectsFile | None:
    """The pickle verdict of a file opened in another tab (text, JSON, HDF5, SQLite, binary):
    what ``pickle.load`` would do reading it from byte 0, and for a zip or 7z archive what the
    pickles inside would do (torch.load unpickles a zip's members); None when there is nothing
    to say. The full check: run it when a file is opened, never while listing a folder."""
    from storage.inspect.summaries import Collector
    from storage.inspect.summaries_objects import add_pickle_start, scan_container
    from storage.sniff.detect import sniff

    found = sniff(path)
    collector = Collector({})
    container = found.detail.get("container")
    if container:
        scan_container(found, collector, container)
    inside = bool(collector.summary.get("pickles_scanned"))
    if not inside:
        collector.findings.clear()  # an archive without pickles: nothing about loading it
    report = add_pickle_start(found, collector)
    if not collector.findings:
        return None
    verdict = ObjectsFile(os.path.abspath(path), found.format)
    if report is not None:
        verdict.note = (f"this {found.format} file is also a pickle to pickle.load, which needs no magic "
                        "bytes: ")
        verdict.protocol = report_protocol(report)  # as inspect says it
        verdict.global_offsets.update({key: ref.offset for key, ref in report.globals.items()})
    elif inside:
        verdict.note = f"this {container} archive holds pickles (torch.load and the like unpickle them): "
    else:
        verdict.note = f"this {found.format} file is "  # + "named like a pickle, but…"
    for finding in collector.findings:  # the bar names the globals; the rest are its findings
        qualname = finding.get("global")
        if qualname and finding["severity"] != "info":
            module, _, name = qualname.rpartition(".")
            known = verdict.globals.get((module, name))
            if known is None:
                verdict.globals[(module, name)] = GlobalUse(module, name, 1, finding["severity"],
                                                            finding["message"])
            else:
                known.count += 1
        elif not qualname:
            verdict.findings.append(Finding(finding["severity"], finding["message"]))
    return verdict


def _watcher(size: int, cancel: Callable[[], bool] | None,
             progress: Callable[[float], None] | None) -> Callable[[int], None] | None:
    """What the load calls with its byte offset: reports the fraction read, stops when cancelled."""
    if cancel is None and progress is None:
        return None

    def watch(offset: int) -> None:
        if cancel is not None and cancel():
            raise LoadCancelled
        if progress is not None and size:
            progress(offset / size)

    return watch


def _open_objects(path: str, kind: str, cancel: Callable[[], bool] | None,
                  trusted_size: bool = False, progress: Callable[[float], None] | None = None) -> ObjectsFile:

    result = ObjectsFile(os.path.abspath(path), kind)
    if kind == "pickle":
        from storage.core.disk_stamp import read_regular

        head, _info = read_regular(path, 64 * 1024)
        if compression_of(head) is not None:  # pandas' .pkl.gz, .bz2, .xz, .zst: read as a stream
            _open_compressed(result, trusted_size, cancel, progress)
            return result
        data = _read_limited(path)
        if data.startswith(b"PK\x03\x04"):
            _open_zip_pickles(result, data, decompression_limit(len(data), trusted_size))
        elif b"joblib.numpy_pickle" in data:
            # joblib wrote it (sniffing saw no array wrapper in the part it searched): its arrays
            # follow their wrappers as raw bytes, which only joblib's reading understands
            result.kind = "joblib"
            _load_stream(result, data, joblib=True)
        else:
            _load_stream(result, data, joblib=False, watch=_watcher(len(data), cancel, progress))
    elif kind == "joblib":
        _open_compressed(result, trusted_size, cancel, progress)
    elif kind == "npy":
        _open_npy(result)
    elif kind == "npz":
        _open_npz(result, trusted_size)
    elif kind == "shelve":
        _open_shelf(result, cancel)
    else:
        raise UnsupportedError(f"The Objects tab does not read {kind} files.")
    return result


def _open_compressed(result: ObjectsFile, trusted_size: bool = False,
                     cancel: Callable[[], bool] | None = None,
                     progress: Callable[[float], None] | None = None) -> None:
    """A joblib file, or a compressed pickle (pandas' ``to_pickle('x.pkl.gz')``): decompressed
    (bounded: open_joblib's budget, relative to the file's size, or its absolute cap when
    ``trusted_size``) and read as joblib reads it; labelled joblib when its array wrapper is there."""
    from storage.formats.objects.joblib_io import open_joblib

    opened = open_joblib(result.path, MAX_DECOMPRESSED) if trusted_size else open_joblib(result.path)
    stream, result.compression = opened
    with stream:
        data = stream.read()
    if result.kind == "pickle" and b"joblib.numpy_pickle" in data:
        result.kind = "joblib"  # its arrays follow their wrappers as raw bytes
    # every compressed stream is read as joblib.load reads it, as inspect scans it
    _load_stream(result, data, joblib=result.kind == "joblib" or result.compression is not None,
                 watch=_watcher(len(data), cancel, progress))
    if result.compression:  # pickle.load reads the compressed bytes themselves from byte 0
        from storage.formats.objects.pickle.scan import scan_file
        from storage.inspect.summaries_objects import parses_as_pickle

        raw = scan_file(result.path, 0)
        if parses_as_pickle(raw):
            result.findings.append(Finding("suspicious", "the compressed bytes also parse as a pickle "
                                           "from byte 0: pickle.load would run them", "byte 0"))
            result.add_scan(raw, "as a pickle from byte 0")


ZIP_MEMBER_LIMIT = 512 * 1024 * 1024


def _open_zip_pickles(result: ObjectsFile, data: bytes, budget: int) -> None:
    """A zip of pickles (PyTorch's format): each pickled member loaded safely, shown read-only."""
    import io
    import zipfile

    from storage.inspect.summaries_objects import member_bytes

    handle = io.BytesIO(data)
    try:
        archive = zipfile.ZipFile(handle)
        infos = archive.infolist()
        lone = len(infos) == 1 and not infos[0].filename.endswith((".npy", "/"))  # pandas' .pkl.zip
        members = [info for info in infos if lone or info.filename.endswith((".pkl", ".pickle"))]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnsupportedError(f"This zip archive cannot be read: {exc}") from None
    if not members:
        raise UnsupportedError("This zip archive holds no pickles; open it with a zip tool.")
    if lone and _open_lone_member(result, archive, handle, members[0]):
        return
    values: dict[str, Any] = {}
    for info in members:
        if info.file_size > ZIP_MEMBER_LIMIT:
            result.findings.append(Finding("suspicious", f"not checked: {info.filename} is too large to "
                                           "show", info.filename))
            continue
        if info.file_size > budget:  # the members share one budget relative to the archive's size

            raise limit_error(f"the member {info.filename}", budget, len(data))
        # Read from the member's local header, as the scan does: a name that differs from the
        # directory's (a trick to hide a member from zipfile) must not hide its pickle.
        raw = member_bytes(archive, handle, info, min(ZIP_MEMBER_LIMIT, budget))
        budget -= len(raw or b"")
        if raw is None:
            values[info.filename] = "<cannot be read: damaged or encrypted member>"
            result.findings.append(Finding("suspicious", "the member cannot be read (damaged or encrypted)",
                                           info.filename))
            continue
        try:
            load = load_safe(raw)
        except PickleLoadError as exc:
            values[info.filename] = f"<not a valid pickle: {exc}>"
            result.findings.append(Finding("suspicious", str(exc), info.filename))
            for use in exc.globals:
                result.globals.setdefault((use.module, use.name), use)
            continue
        result.add(load, info.filename)
        values[info.filename] = load.value
        result.protocol = result.protocol or load.protocol
    result.note = (f"zip archive holding one pickle ({members[0].filename}, as pandas writes .pkl.zip); "
                   "read-only" if lone else
                   f"zip archive (PyTorch format) with {len(members)} pickled member(s); read-only")
    if lone:
        result.compression = "zip"
    root = values[members[0].filename] if lone and members[0].filename in values else values
    result.doc = ObjectDoc(root, None, label=os.path.basename(result.path))
    result.doc.read_only = True


def _open_lone_member(result: ObjectsFile, archive: Any, handle: Any, info: Any) -> bool:
    """pandas' ``to_pickle('x.pkl.zip')``: the one member read as a pickle file, editable; Save
    rewrites the archive with the same member name and compression. False when it is not readable
    (the read-only listing then says why)."""
    from storage.inspect.summaries_objects import member_bytes

    if info.file_size > ZIP_MEMBER_LIMIT:
        return False
    raw = member_bytes(archive, handle, info, ZIP_MEMBER_LIMIT)
    if raw is None:
        return False
    try:
        _load_stream(result, raw, joblib=False)
    except PickleLoadError:
        return False
    result.compression = "zip"
    result.zip_member = {"name": info.filename, "compress_type": info.compress_type}
    result.note = f"zip archive holding one pickle, {info.filename} (as pandas writes .pkl.zip)"
    return True


def _open_npy(result: ObjectsFile) -> None:
    from storage.formats.objects.npy_io import PickledArray, read_npy

    array = read_npy(result.path)
    if isinstance(array, PickledArray):
        assert array.info is not None  # read_npy always has the header (only joblib's has none)
        load = load_safe(array.data)
        result.add(load, "object array")
        _note_encoding(result, [load])
        result.protocol = load.protocol
        value = load.value
        result.note = f"object array {tuple(array.info.shape)}: its items were pickled; shown safely"
    else:
        value = array
    result.doc = ObjectDoc(value, None, label=os.path.basename(result.path))
    result.doc.read_only = True


def _open_npz(result: ObjectsFile, trusted_size: bool = False) -> None:
    from storage.formats.objects.npy_io import NpzArchive, PickledArray

    values: dict[str, Any] = {}
    with NpzArchive(result.path, trusted=trusted_size) as archive:
        for member in archive.members:
            if member.error:
                values[member.key] = f"<unreadable: {member.error}>"
                result.findings.append(Finding("suspicious", member.error, member.name))
                continue
            try:
                array = archive.read(member.name)
            except DecompressionLimitError:
                raise  # the whole file is offered to "Open anyway"
            except KnownError as exc:
                values[member.key] = f"<unreadable: {exc}>"
                result.findings.append(Finding("suspicious", str(exc), member.name))
                continue
            if isinstance(array, PickledArray):
                load = load_safe(array.data)
                result.add(load, member.name)
                _note_encoding(result, [load])
                values[member.key] = load.value
            else:
                values[member.key] = array
    result.doc = ObjectDoc(values, None, label=os.path.basename(result.path))
    result.doc.read_only = True


def _open_shelf(result: ObjectsFile, cancel: Callable[[], bool] | None) -> None:
    from storage.formats.objects.shelf.io import open_shelf

    shelf = open_shelf(result.path)
    result.shelf = shelf
    scanned = 0
    for raw_key, raw in shelf.raw_items():
        if cancel is not None and cancel():
            break
        from storage.formats.objects.shelf.io import decode_key

        key = decode_key(raw_key)
        if isinstance(raw, KnownError):
            result.findings.append(Finding("suspicious", str(raw), f"key {key!r}"))
            continue
        scanned += len(raw)
        if scanned > MAX_SHELF_SCAN:
            result.findings.append(Finding("suspicious", "not fully checked: only the first "
                                           f"{MAX_SHELF_SCAN // 2**20} MB of values were scanned"))
            break
        try:
            load = load_safe(raw)
        except PickleLoadError as exc:
            result.findings.append(Finding("suspicious", f"the value cannot be read: {exc}", f"key {key!r}"))
            for use in exc.globals:
                result.globals.setdefault((use.module, use.name), use)
            continue
        result.add(load, f"key {key!r}")
        for use in load.globals:
            if use.severity == "dangerous":
                result.findings.append(Finding("dangerous", f"{use.module}.{use.name}: {use.why}",
                                               f"key {key!r}"))
        result.shelf_protocols[key] = load.protocol
    result.doc = None


def load_shelf_value(shelf: Any, key: str) -> tuple[ObjectDoc, bytes]:
    """Worker body: one shelf value, loaded safely, as its own document; and its raw bytes."""
    try:
        raw = shelf.raw_value(key)
    except KeyError:
        raise UnreadableError(f"The shelf has no key {key!r} any more.") from None
    load = load_safe(raw)
    return ObjectDoc(load.value, load.protocol, label=key), raw


def save_objects(result: ObjectsFile, path: str, protocol: int | None = None, *,
                 backup: bool = False) -> None:
    """Write the document back (pickle or joblib) through the atomic writer (NAME.bak kept when
    ``backup``)."""
    from storage.core.atomic import atomic_write

    if result.doc is None or result.doc.read_only:
        raise UnsupportedError(f"{result.kind} files are shown read-only; they cannot be saved here.")
    payload = result.doc.dumps(protocol, **result.writer) + result.tail
    compression, member = saved_compression(result, path)
    if member:
        from storage.formats.objects.joblib_io import save_zip_member

        save_zip_member(path, payload, member, backup=backup)
    elif result.kind == "joblib" or compression:
        from storage.formats.objects.joblib_io import save_joblib_stream

        save_joblib_stream(path, payload, compression, backup=backup)
        _copy_companions(result, path)
    else:
        atomic_write(path, payload, backup=backup)


PANDAS_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}


def _named_compression(path: str) -> str | None:
    return PANDAS_SUFFIXES.get(os.path.splitext(path)[1].lower())


def saved_compression(result: ObjectsFile, path: str) -> tuple[str | None, dict[str, Any]]:
    """(compression, zip member) of what Save writes to ``path``. Save keeps the file's own; Save
    As of a pickle follows the new name as pandas' ``read_pickle`` infers it (``x.pkl.gz`` gzip,
    ``x.pkl`` none, when the old name was what told the compression). joblib files keep theirs:
    joblib tells the compression from the bytes."""
    if result.kind != "pickle" or os.path.abspath(path) == result.path:
        return result.compression, result.zip_member
    old, new = _named_compression(result.path), _named_compression(path)
    if new is None:
        if old is not None and old == result.compression:
            return None, {}
        return result.compression, result.zip_member
    if new != "zip":
        return new, {}
    import zipfile

    member = result.zip_member or {"name": os.path.basename(path)[:-4], "compress_type": zipfile.ZIP_DEFLATED}
    return "zip", member


def _copy_companions(result: ObjectsFile, path: str) -> None:
    """Save As of an old multi-file joblib pickle (joblib < 0.10) into another folder brings the
    array files it names: joblib.load looks for them beside the pickle."""
    from storage.core.atomic import atomic_write_with
    from storage.formats.objects.joblib_io import companion_path

    target = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    if not result.companion_files or target == os.path.realpath(os.path.dirname(result.path)):
        return
    for name in dict.fromkeys(result.companion_files):
        source = companion_path(result.path, name)  # refuses names that leave the folder
        if not os.path.exists(source):
            continue
        destination = companion_path(path, name)

        def copy(handle: Any, source: str = source) -> None:
            with open(source, "rb") as original:
                while block := original.read(1024 * 1024):
                    handle.write(block)

        atomic_write_with(destination, copy)
