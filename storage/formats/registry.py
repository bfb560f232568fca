"""The one place that says what a file format is (STYLE.md §12).

Each :class:`Format` names its sniff tests, ``inspect`` summary, loader and saver, journal payload
kinds, File ▸ New template, icon and MIME types, fuzz target and seeds, and the tab and document
class that open it. Sniffing, ``inspect``, File ▸ New, crash recovery, trusted load,
``--install-desktop``, the fuzzer and the main window's tab routing all iterate this registry;
adding a format is one module (or folder) plus one :func:`register` call.

Hooks are given as dotted names ``"package.module:attribute"`` (a callable also works, for
tests) and imported on first use only, so importing this module imports nothing but the
standard library: the GUI classes named here are loaded when a file of that format is opened.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Hook = str | Callable[..., Any]

# Where a format's sniff test runs among the others (lower first). The magic-number tests come
# first; a new format's test runs after them and before the text/JSON fallback, which always answers.
ORDER_MAGIC = 50
ORDER_DEFAULT = 900
ORDER_FALLBACK = 1000


@dataclass(frozen=True)
class SniffTest:
    """One content test: ``hook(probe) -> SniffResult | None`` (see :class:`storage.sniff.detect.Probe`).

    A test may answer with another format of its family (the pickle test says "joblib" when it
    finds joblib's marker), so a format can have no test of its own.
    """

    hook: Hook
    order: int = ORDER_DEFAULT


@dataclass(frozen=True)
class NewFile:
    """A File ▸ New choice: the dialog's label, the extension, and ``template() -> bytes``.

    ``rank`` orders the dialog's choices; the lowest is the default.
    """

    label: str
    extension: str
    template: Hook
    rank: int = 100


@dataclass(frozen=True)
class Payload:
    """A journal payload kind (``storage.recovery.payload``) that a format's documents write.

    When the original changed since, crash recovery writes the edits as a new file beside it:
    ``file_bytes(header, body) -> bytes`` gives that file's bytes, or ``copy(original, payload) ->
    path to open`` writes a payload that is not one file (a shelf's several). ``no_copy`` says why a
    kind with neither cannot be restored as a copy.
    """

    kind: str
    file_bytes: Hook | None = None
    copy: Hook | None = None
    no_copy: str = ""


@dataclass(frozen=True)
class Format:
    """Everything Datashelf knows about one format, by its sniffed name."""

    name: str
    label: str
    tab: str                                   # the main window tab that opens it (a TabPage.tab_id)
    document: str = ""                         # dotted GUI document class; "" = the tab's own viewer
    extensions: tuple[str, ...] = ()           # lower-case, with the dot: ties and empty files only
    sniff: tuple[SniffTest, ...] = ()
    open_patterns: tuple[str, ...] = ()        # the Open dialog's globs; default: "*" + each extension
    summary: Hook | None = None                # inspect: ``summary(result, collector)``
    loader: Hook | None = None                 # what the tab's worker reads the file with
    saver: Hook | None = None                  # what Save writes it with (through the atomic writer)
    trusted_loader: Hook | None = None         # the real loader, run in trusted_load's child process
    payloads: tuple[Payload, ...] = ()         # the journal payload kinds its documents write
    new_file: NewFile | None = None
    icon: str = ""                             # an icon theme name
    mime_types: tuple[str, ...] = ()           # listed in the desktop file (Open With)
    default_mime_types: tuple[str, ...] = ()   # those Datashelf becomes the default for, if none is set
    mime_xml: Hook | None = None               # ``() -> str``: <mime-type> elements defining new types
    fuzz_target: Hook | None = None            # ``target(path)``: what the tab does, without Qt
    fuzz_seeds: Hook | None = None             # ``seeds(folder) -> list[Seed]``: small valid files
    checks_pickle_start: bool = True           # False: its document judges pickle danger itself
    textual: bool = False                      # previews decode it as text (else a hex dump)


_FORMATS: dict[str, Format] = {}
_RESOLVED: dict[str, Any] = {}


def register(fmt: Format) -> Format:
    """Add ``fmt`` (a name may be registered once); return it."""
    if fmt.name in _FORMATS:
        raise ValueError(f"the format {fmt.name!r} is registered already")
    _FORMATS[fmt.name] = fmt
    return fmt


def unregister(name: str) -> Format:
    """Remove the format ``name`` and return it (tests restore the registry so)."""
    return _FORMATS.pop(name)


@contextmanager
def registered(fmt: Format) -> Iterator[Format]:
    """Register ``fmt`` for the ``with`` block (replacing a format of its name), then restore."""
    before = dict(_FORMATS)
    _FORMATS[fmt.name] = fmt
    try:
        yield fmt
    finally:
        _FORMATS.clear()
        _FORMATS.update(before)


def get(name: str) -> Format | None:
    return _FORMATS.get(name)


def formats() -> tuple[Format, ...]:
    """Every registered format, in registration order."""
    return tuple(_FORMATS.values())


def names() -> tuple[str, ...]:
    return tuple(_FORMATS)


def by_extension(ext: str) -> Format | None:
    """The format that claims the lower-case extension ``ext`` (first registered wins)."""
    return next((f for f in _FORMATS.values() if ext in f.extensions), None)


def for_tab(tab_id: str) -> tuple[str, ...]:
    """The names of the formats the tab ``tab_id`` opens."""
    return tuple(f.name for f in _FORMATS.values() if f.tab == tab_id)


def open_patterns(fmt: Format) -> tuple[str, ...]:
    """The globs the Open dialog offers for ``fmt``."""
    return fmt.open_patterns or tuple("*" + ext for ext in fmt.extensions)


def sniff_tests() -> list[tuple[Format, SniffTest]]:
    """Every format's sniff tests in the order they run (by ``order``, then registration)."""
    tests = [(f, t) for f in _FORMATS.values() for t in f.sniff]
    return sorted(tests, key=lambda pair: pair[1].order)


def payload(kind: str) -> Payload | None:
    """The registered journal payload kind ``kind``, or None."""
    return next((p for f in _FORMATS.values() for p in f.payloads if p.kind == kind), None)


def with_hook(attribute: str) -> Iterator[Format]:
    """The formats that set ``attribute`` (a hook, a template, MIME types)."""
    return (f for f in _FORMATS.values() if getattr(f, attribute))


def resolve(hook: Hook) -> Any:
    """The object a dotted ``"module:attribute"`` names (imported once), or ``hook`` itself."""
    if not isinstance(hook, str):
        return hook
    found = _RESOLVED.get(hook)
    if found is None:
        module, _, attribute = hook.partition(":")
        found = importlib.import_module(module)
        for part in attribute.split(".") if attribute else ():
            found = getattr(found, part)
        _RESOLVED[hook] = found
    return found


def hook_of(name: str, attribute: str) -> Any:
    """The resolved ``attribute`` hook of the format ``name``, or None when it has none."""
    fmt = _FORMATS.get(name)
    hook = getattr(fmt, attribute, None) if fmt is not None else None
    return resolve(hook) if hook else None


# -- the built-in formats -----------------------------------------------------------------------

_SNIFF = "storage.sniff.detect:"
_FILES_DOC = "gui.files.document:FileDocument"
_JSON_DOC = "gui.json.document:JsonDocument"
_OBJECTS_DOC = "gui.objects.document:ObjectsDocument"
_BODY = "storage.recovery.payload:body_bytes"
_OBJECTS_PAYLOAD = (Payload("pickle", _BODY),
                    Payload("shelf", copy="storage.formats.objects.shelf.journal:write_shelf_copy",
                            no_copy="Shelf edits are restored over a copy of the shelf's files "
                                    "(storage.formats.objects.shelf.journal.write_shelf_copy), "
                                    "not as one file."))
_JSON_PAYLOAD = (Payload("json", _BODY), Payload("json-text", _BODY))
_SQL_PAYLOAD = (Payload("sql-edits", no_copy="Database edits are retried on the database itself; "
                                             "they cannot be restored as a file."),)
_TEXT_PAYLOAD = (Payload("text", "storage.recovery.payload:text_bytes"),)
_HEX_PAYLOAD = (Payload("hex", no_copy="Byte edits only make sense over the original file, which changed "
                                       "or is gone: they cannot be restored as a copy."),)
_FUZZ = "tests.fuzz.targets:"
_SEEDS = "tests.fuzz.seeds:"


def _objects_format(name: str, label: str, **fields: Any) -> Format:
    """A format of the Objects tab (pickle, joblib, shelve, NumPy): one loader, saver and journal."""
    return Format(name, label, "objects", _OBJECTS_DOC, loader="storage.formats.objects.file:open_objects",
                  saver="storage.formats.objects.file:save_objects", payloads=_OBJECTS_PAYLOAD,
                  checks_pickle_start=False, **fields)


_TABLE = "storage.formats.table."
_TABLE_DOC = "gui.tables.document:TableDocument"


def _table_formats() -> tuple[Format, ...]:
    """CSV, Parquet and Arrow: the Tables tab's, read through DuckDB (storage.formats.table)."""
    summary = _TABLE + "summary:summarize_table"
    return (
        Format("csv", "Delimited text (CSV)", "tables", _TABLE_DOC, (".csv", ".tsv", ".tab", ".psv"),
               (SniffTest(_TABLE + "sniff:sniff_delimited", ORDER_DEFAULT),), summary=summary,
               loader=_TABLE + "source:open_table", icon="text-csv",
               mime_types=("text/csv", "text/tab-separated-values"), textual=True,
               payloads=(Payload("csv-edits", no_copy="CSV edits are kept by row over the file they were "
                                                      "made on, which changed or is gone: they cannot be "
                                                      "restored as a copy."),)),
        Format("parquet", "Parquet", "tables", _TABLE_DOC, (".parquet", ".pq"),
               (SniffTest(_TABLE + "sniff:sniff_parquet", ORDER_MAGIC),), summary=summary,
               loader=_TABLE + "source:open_table", icon="x-office-spreadsheet",
               mime_types=("application/vnd.apache.parquet", "application/x-parquet")),
        Format("arrow", "Feather / Arrow IPC", "tables", _TABLE_DOC,
               (".arrow", ".feather", ".ipc", ".arrows"),
               (SniffTest(_TABLE + "sniff:sniff_arrow", ORDER_MAGIC),), summary=summary,
               loader=_TABLE + "source:open_table", icon="x-office-spreadsheet",
               mime_types=("application/vnd.apache.arrow.file", "application/vnd.apache.arrow.stream")),
    )


def _builtin() -> None:
    for fmt in (
        Format("text", "Text file", "files", _FILES_DOC,
               (".txt", ".text", ".log", ".md", ".rst", ".ini", ".cfg", ".toml", ".yaml",
                ".yml", ".py", ".xml", ".html"),
               (SniffTest(_SNIFF + "sniff_text_or_json", ORDER_FALLBACK),),
               summary="storage.inspect.summaries:summarize_text",
               loader="storage.formats.text.file:load_text",
               saver="storage.formats.text.file:save_text", payloads=_TEXT_PAYLOAD,
               new_file=NewFile("Text file", ".txt", "storage.formats.newfile:empty_text", 4),
               icon="text-x-generic",
               textual=True, fuzz_target=_FUZZ + "t_text", fuzz_seeds=_SEEDS + "text_seeds"),
        Format("binary", "Binary file", "files", _FILES_DOC, (".bin",),
               (SniffTest(_SNIFF + "sniff_seven_zip", 55), SniffTest(_SNIFF + "sniff_lone_proto", 85)),
               summary="storage.inspect.summaries:summarize_binary",
               loader="storage.formats.text.hex:HexBuffer",
               saver="storage.formats.text.hex:HexBuffer.save_to", payloads=_HEX_PAYLOAD,
               icon="application-octet-stream", fuzz_target=_FUZZ + "t_hex"),
        Format("json", "JSON document", "json", _JSON_DOC, (".json", ".geojson"),
               summary="storage.formats.json.summary:summarize_json",
               loader="storage.formats.json.io:read_json",
               saver="storage.formats.json.io:write_json", payloads=_JSON_PAYLOAD,
               new_file=NewFile("JSON document", ".json", "storage.formats.newfile:empty_json", 0),
               icon="text-x-script", mime_types=("application/json",), fuzz_target=_FUZZ + "t_json",
               textual=True, fuzz_seeds=_SEEDS + "json_seeds"),
        Format("jsonl", "JSON Lines", "json", _JSON_DOC, (".jsonl", ".ndjson"),
               summary="storage.formats.json.summary:summarize_jsonl",
               loader="storage.formats.json.io:read_jsonl",
               saver="storage.formats.json.io:write_jsonl", payloads=_JSON_PAYLOAD,
               new_file=NewFile("JSON Lines", ".jsonl", "storage.formats.newfile:empty_text", 1),
               icon="text-x-script", mime_types=("application/x-ndjson",), fuzz_target=_FUZZ + "t_jsonl",
               textual=True),
        _objects_format("pickle", "Pickle", extensions=(".pkl", ".pickle", ".pck"),
                        open_patterns=("*.pkl", "*.pickle", "*.p"),
                        sniff=(SniffTest(_SNIFF + "sniff_pickle_proto", 60),
                               SniffTest(_SNIFF + "sniff_compressed_pickle", 70),
                               SniffTest(_SNIFF + "sniff_pickle_protocol01", 80)),
                        summary="storage.inspect.summaries_objects:summarize_pickle",
                        trusted_loader="storage.formats.objects.trusted._child:load_pickles",
                        new_file=NewFile("Pickle (an empty dict)", ".pkl",
                                         "storage.formats.newfile:empty_pickle", 3),
                        icon="application-x-executable", mime_types=("application/x-python-pickle",),
                        default_mime_types=("application/x-python-pickle",), fuzz_target=_FUZZ + "t_pickle",
                        fuzz_seeds=_SEEDS + "pickle_seeds"),
        _objects_format("joblib", "joblib", extensions=(".joblib", ".jbl"),
                        summary="storage.inspect.summaries_objects:summarize_pickle",
                        trusted_loader="storage.formats.objects.trusted._child:load_joblib",
                        icon="application-x-executable",
                        mime_types=("application/x-joblib",), default_mime_types=("application/x-joblib",),
                        fuzz_target=_FUZZ + "t_joblib"),
        _objects_format("npy", "NumPy array", extensions=(".npy",),
                        sniff=(SniffTest(_SNIFF + "sniff_npy", 40),),
                        summary="storage.inspect.summaries_objects:summarize_npy",
                        trusted_loader="storage.formats.objects.trusted._child:load_npy",
                        icon="application-x-executable",
                        mime_types=("application/x-npy",), default_mime_types=("application/x-npy",),
                        fuzz_target=_FUZZ + "t_npy", fuzz_seeds=_SEEDS + "numpy_seeds"),
        _objects_format("npz", "NumPy archive", extensions=(".npz",),
                        sniff=(SniffTest(_SNIFF + "sniff_zip", ORDER_MAGIC),),
                        summary="storage.inspect.summaries_objects:summarize_npz",
                        trusted_loader="storage.formats.objects.trusted._child:load_npz",
                        icon="application-x-executable",
                        fuzz_target=_FUZZ + "t_npz"),
        _objects_format("shelve", "shelve", sniff=(SniffTest(_SNIFF + "sniff_shelve", 10),),
                        open_patterns=("*.db", "*.dat", "*.dir", "*.bak", "*.shelf"),
                        summary="storage.inspect.summaries_db:summarize_shelve",
                        trusted_loader="storage.formats.objects.trusted._child:load_shelf",
                        icon="application-x-executable",
                        mime_types=("application/x-python-shelve",),
                        default_mime_types=("application/x-python-shelve",),
                        fuzz_target=_FUZZ + "t_shelve", fuzz_seeds=_SEEDS + "shelf_seeds"),
        Format("sqlite", "SQLite database", "sqlite", "gui.sql.document:SqlDocument",
               (".db", ".sqlite", ".sqlite3", ".db3"), (SniffTest(_SNIFF + "sniff_sqlite", 20),),
               summary="storage.inspect.summaries_db:summarize_sqlite",
               loader="storage.formats.sql.sqlite_db:Reader",
               payloads=_SQL_PAYLOAD,
               new_file=NewFile("SQLite database", ".db", "storage.formats.newfile:empty_sqlite", 2),
               icon="x-office-spreadsheet", mime_types=("application/vnd.sqlite3", "application/x-sqlite3"),
               fuzz_target=_FUZZ + "t_sqlite", fuzz_seeds=_SEEDS + "sqlite_seeds"),
        Format("hdf5", "HDF5", "hdf5", "gui.hdf5.document:Hdf5Document", (".h5", ".hdf5", ".hdf", ".he5"),
               (SniffTest(_SNIFF + "sniff_hdf5", 30),),
               open_patterns=("*.h5", "*.hdf5", "*.hdf", "*.he5", "*.h5py", "*.nc", "*.nc4", "*.cdf"),
               summary="storage.inspect.summaries_db:summarize_hdf5",
               loader="storage.formats.hdf5.io:H5File", icon="application-x-hdf",
               mime_types=("application/x-hdf5", "application/x-hdf"),
               default_mime_types=("application/x-hdf5",),
               fuzz_target=_FUZZ + "t_hdf5", fuzz_seeds=_SEEDS + "hdf5_seeds"),
        *_table_formats(),
        Format("unknown", "Unknown", "files", _FILES_DOC,
               summary="storage.inspect.summaries:summarize_binary",
               icon="application-octet-stream", fuzz_target=_FUZZ + "t_hex"),
    ):
        register(fmt)


_builtin()
