"""The app's session state: one mapping of typed keys that survives restarts.

Components read and write values by key (``settings["window.active_tab"]``), like
Streamlit's ``st.session_state``; a key that was never set reads as its default. Every key is
declared once below with its type and default (napari's settings, Spyder's CONF_VERSION).
Preferences and session state live in separate sections of one JSON file, written through the
atomic writer. A corrupt, unreadable or newer-version file never stops the app: it is moved
aside with a timestamp, the app starts with defaults and :attr:`Settings.notice` says so once.
Two instances on one settings folder share the session's open documents: each save re-reads
the file and keeps the entries another instance wrote (keys declared with ``shared_by``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.core.atomic import PRIVATE_FILE, atomic_write, private_folder
from storage.core.errors import KnownError
from storage.recovery.journal import FOLDER as JOURNAL_FOLDER

SCHEMA_VERSION = 1
FILE_NAME = "settings.json"
ENV_VAR = "DATASHELF_SETTINGS_DIR"
MAX_RECENT = 10
MAX_FILE_MODES = 500


@dataclass(frozen=True)
class Key:
    """A declared setting: its section, JSON type and default."""

    name: str
    section: str  # "preferences" or "state"
    type: type | tuple[type, ...]
    default: Any
    doc: str = ""
    # Entries that instances on one settings folder share: for a list, the field naming an
    # entry; for a dict, "key" (its keys name the entries). Saving merges them with the file's
    # (see Settings.write), so no instance drops entries another live instance wrote.
    shared_by: str = ""

    def fresh_default(self) -> Any:
        # Defaults are copied through JSON so callers can never mutate the declaration.
        return json.loads(json.dumps(self.default))

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) and self.type in (int, float):
            return False
        return isinstance(value, self.type)


KEYS: dict[str, Key] = {k.name: k for k in (
    # -- preferences: what the user chose
    Key("general.restore_session", "preferences", bool, True,
        "Reopen the documents that were open at the last exit."),
    Key("general.autosave_delay_ms", "preferences", int, 2000,
        "How long after a change the settings are written."),
    Key("view.status_bar", "preferences", bool, True, "Show the status bar."),
    Key("files.backup_on_save", "preferences", bool, False,
        "Keep the previous version of a file as NAME.bak when saving over it."),
    Key("files.show_hidden", "preferences", bool, False,
        "Show hidden files in the Files tab's folder browser."),
    Key("sqlite.open_mode", "preferences", str, "ask",
        "How an existing SQLite database opens: 'ask' (read-only, offering Edit), 'read_only' "
        "or 'edit'. Files that cannot be written always open read-only."),
    Key("connections.saved", "preferences", list, [],
        "Saved database connections (storage/settings/connections.py); never their passwords."),
    # -- state: what the app remembers of the last session
    Key("window.geometry", "state", str, "", "Main window geometry (base64 of Qt's bytes)."),
    Key("window.state", "state", str, "", "Dock and toolbar state (base64 of Qt's bytes)."),
    Key("window.active_tab", "state", str, "files", "The tab that was in front."),
    Key("recent_files", "state", list, [], "Recently opened files, newest first."),
    Key("recent_formats", "state", dict, {}, "The detected format of each recent file."),
    Key("dialogs.last_dirs", "state", dict, {}, "Last folder of each file dialog, by dialog id."),
    Key("session.documents", "state", list, [],
        "Open documents: [{path, format, tab}] in tab order.", shared_by="path"),
    Key("session.active_documents", "state", dict, {}, "Per tab, the path of its front document."),
    Key("sql.history", "state", list, [],
        "Statements run in the SQLite tab's Execute SQL, newest first (at most 200)."),
    Key("files.root_folder", "state", str, "",
        "The folder the Files tab's browser shows ('' for the home folder)."),
    Key("connections.recent", "state", list, [],
        "Recently opened database connections: [{name, url}] without passwords, newest first."),
    Key("session.connections", "state", list, [],
        "Open database connections: [{name, url, id, view}] (the URL without its password).",
        shared_by="url"),
    Key("sqlite.file_modes", "state", list, [],
        "How each SQLite file reopens: [{path, mode}] newest first, mode 'edit' (created here, or "
        "the user chose to edit it) or 'read_only'; ahead of sqlite.open_mode.", shared_by="path"),
    Key("session.view_state", "state", dict, {},
        "Per document path, its view state (splitters, column widths, selection).",
        shared_by="key"),
)}


def default_settings_dir() -> Path:
    """``$DATASHELF_SETTINGS_DIR`` if set, else the platform's config folder for Datashelf."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("Datashelf", appauthor=False, roaming=True))


SHARED = {name: key.shared_by for name, key in KEYS.items() if key.shared_by}


def _entry_names(field: str, entries: Any) -> frozenset[str]:
    if isinstance(entries, dict):
        return frozenset(entries)
    if not isinstance(entries, list):
        return frozenset()
    return frozenset(e[field] for e in entries if isinstance(e, dict) and isinstance(e.get(field), str))


def merge_shared(field: str, mine: Any, on_disk: Any, held: frozenset[str]) -> Any:
    """``mine`` plus the entries of ``on_disk`` this instance never held: another instance's.

    An entry this instance held (found at load, or in its last save) and no longer has was
    closed or dropped here, so it goes; with one instance the result is ``mine``.
    """
    names = _entry_names(field, mine) | held
    if isinstance(mine, dict):
        stored = on_disk if isinstance(on_disk, dict) else {}
        return {**{k: v for k, v in stored.items() if k not in names}, **mine}
    others = [e for e in (on_disk if isinstance(on_disk, list) else [])
              if isinstance(e, dict) and isinstance(e.get(field), str) and e[field] not in names]
    return [*mine, *others]


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Serialise read-merge-write of the settings file between processes (POSIX flock on the
    folder itself, so no lock file is left behind); elsewhere a no-op."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def encode_bytes(data: bytes) -> str:
    """Qt's geometry and state are bytes; JSON holds them as base64."""
    return base64.b64encode(bytes(data)).decode("ascii")


def decode_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return b""


# Migrations from an older schema: version -> function(raw dict) -> raw dict of version + 1.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


class Settings:
    """Typed, persistent key-value state. Not thread-safe: use from the GUI thread."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_settings_dir()
        self.path = self.folder / FILE_NAME
        self._values: dict[str, Any] = {}
        self._listeners: list[Callable[[str], None]] = []
        self._notices: list[str] = []
        self._dirty = False
        self._write_failed = False
        # Per shared key, the entries this instance last wrote (or found at load): an entry of
        # those missing from its next save was closed here; any other entry in the file is
        # another instance's.
        self._held: dict[str, frozenset[str]] = {}
        self._stamp: tuple[int, int, int] | None = None  # the file as this instance last saw it
        self.load()

    # -- mapping interface ---------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        key = self._key(name)
        if name not in self._values:
            self._values[name] = key.fresh_default()
        return self._values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        key = self._key(name)
        if isinstance(value, tuple):
            value = list(value)
        if not key.accepts(value):
            raise TypeError(f"setting {name!r} takes {key.type}, not {type(value).__name__}")
        if self._values.get(name) == value and name in self._values:
            return
        self._values[name] = value
        self._dirty = True
        for listener in list(self._listeners):
            listener(name)

    def __contains__(self, name: object) -> bool:
        return name in KEYS

    def __iter__(self) -> Iterator[str]:
        return iter(KEYS)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in KEYS else default

    def reset(self, name: str) -> None:
        self[name] = self._key(name).fresh_default()

    def touch(self, name: str) -> None:
        """Mark a key changed after mutating its list or dict value in place."""
        self._key(name)
        self._dirty = True
        for listener in list(self._listeners):
            listener(name)

    @staticmethod
    def _key(name: str) -> Key:
        try:
            return KEYS[name]
        except KeyError:
            raise KeyError(f"unknown setting {name!r}") from None

    # -- change notification --------------------------------------------------------------
    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(name)`` after every change (the GUI schedules a delayed save)."""
        self._listeners.append(listener)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def take_notices(self) -> list[str]:
        """Messages for the user about the settings file, each given out once."""
        notices, self._notices = self._notices, []
        return notices

    # -- convenience for common state -----------------------------------------------------
    def add_recent(self, path: str | os.PathLike[str], fmt: str = "") -> None:
        entry = os.path.abspath(os.fspath(path))
        recent = [entry, *(p for p in self["recent_files"] if p != entry)][:MAX_RECENT]
        formats = {p: f for p, f in self["recent_formats"].items() if p in recent}
        if fmt:
            formats[entry] = fmt
        self["recent_formats"] = formats
        self["recent_files"] = recent

    def recent_files(self, formats: tuple[str, ...] | None = None) -> list[str]:
        """Recent files that still exist, newest first; only of ``formats`` when given."""
        known = self["recent_formats"]
        return [p for p in self["recent_files"] if os.path.exists(p)
                and (formats is None or known.get(p) in formats)][:MAX_RECENT]

    def last_dir(self, dialog: str) -> str:
        folder = self["dialogs.last_dirs"].get(dialog, "")
        return folder if folder and os.path.isdir(folder) else str(Path.home())

    def set_last_dir(self, dialog: str, folder: str | os.PathLike[str]) -> None:
        dirs = dict(self["dialogs.last_dirs"])
        dirs[dialog] = os.fspath(folder)
        self["dialogs.last_dirs"] = dirs

    def file_mode(self, path: str | os.PathLike[str]) -> str | None:
        """How the SQLite file at ``path`` reopens ('edit' or 'read_only'), if the user chose."""
        entry = os.path.abspath(os.fspath(path))
        mode = next((e.get("mode") for e in self["sqlite.file_modes"]
                     if isinstance(e, dict) and e.get("path") == entry), None)
        return mode if mode in ("edit", "read_only") else None

    def set_file_mode(self, path: str | os.PathLike[str], mode: str) -> None:
        """Remember how the SQLite file at ``path`` reopens (the newest MAX_FILE_MODES files)."""
        entry = os.path.abspath(os.fspath(path))
        others = [e for e in self["sqlite.file_modes"] if isinstance(e, dict) and e.get("path") != entry]
        self["sqlite.file_modes"] = [{"path": entry, "mode": mode}, *others][:MAX_FILE_MODES]

    # -- persistence ----------------------------------------------------------------------
    def load(self) -> None:
        """Read the file; on any problem start from defaults and keep the bad file aside."""
        self._values = {}
        self._dirty = False
        self._held = {}
        self._stamp = self._disk_stamp()
        try:
            raw_bytes = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return  # first launch, or a folder that cannot exist: defaults, said on save
        except OSError as exc:
            self._set_aside(f"could not be read ({exc.strerror or exc})")
            return
        try:
            raw = json.loads(raw_bytes.decode("utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            self._set_aside(f"was corrupt ({exc.__class__.__name__})")
            return
        version = raw.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            self._set_aside("had no schema version")
            return
        if version > SCHEMA_VERSION:
            self._set_aside(f"was written by a newer Datashelf (settings version {version})")
            return
        while version < SCHEMA_VERSION and version in MIGRATIONS:
            raw = MIGRATIONS[version](raw)
            version += 1
        dropped = []
        for section in ("preferences", "state"):
            values = raw.get(section, {})
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                key = KEYS.get(name)
                if key is None or key.section != section:
                    continue  # a key this version does not know: ignore it
                if key.accepts(value):
                    self._values[name] = value
                else:
                    dropped.append(name)
        # What the last session left is this instance's to keep or close.
        self._held = {name: _entry_names(field, self[name]) for name, field in SHARED.items()}
        if dropped:
            self._notices.append(
                "Some settings had the wrong type and were reset: " + ", ".join(sorted(dropped)))

    def _set_aside(self, why: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{FILE_NAME}.{stamp}.bad")
        try:
            os.replace(self.path, aside)
            with contextlib.suppress(OSError):
                os.chmod(aside, PRIVATE_FILE)  # a copy of the user's settings
            kept = f"It was kept as {aside.name}."
        except OSError:
            kept = "It could not be moved aside, so settings will not be saved this session."
            self._write_failed = True
        self._notices.append(f"The settings file {self.path} {why}; starting with defaults. {kept}")

    def to_json(self) -> str:
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "preferences": {}, "state": {}}
        for name, value in self._values.items():
            data[KEYS[name].section][name] = value
        return _dump(data)

    def _disk_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def _merged(self, text: str) -> tuple[str, dict[str, frozenset[str]]]:
        """``text`` with each shared key merged with the file's: another live instance on this
        folder keeps its entries (read just before writing, under the folder lock). Also
        returns the entries of this instance's own text, per shared key."""
        data = json.loads(text)
        mine = {name: data[KEYS[name].section].get(name, KEYS[name].fresh_default())
                for name in SHARED}
        own = {name: _entry_names(field, mine[name]) for name, field in SHARED.items()}
        try:
            raw = json.loads(self.path.read_bytes().decode("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return text, own  # nothing readable to keep: this instance's view stands
        if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
            return text, own
        changed = False
        for name, field in SHARED.items():
            stored = raw.get(KEYS[name].section)
            disk = stored.get(name) if isinstance(stored, dict) else None
            merged = merge_shared(field, mine[name], disk, self._held.get(name, frozenset()))
            if merged != mine[name]:
                data[KEYS[name].section][name] = merged
                changed = True
        return (_dump(data) if changed else text), own

    def save(self) -> bool:
        """Write atomically. Returns False (and notes it once) when the folder is unwritable."""
        text = self.snapshot()
        return text is not None and self.write(text)

    def snapshot(self) -> str | None:
        """The file's new text, taken on the owning thread; None when writing is off.

        With :meth:`write` this lets the GUI hand the disk work to a worker thread.
        """
        if self._write_failed:
            return None
        self._dirty = False
        return self.to_json()

    def write(self, text: str) -> bool:
        """Write a :meth:`snapshot` (safe to call from a worker thread)."""
        try:
            private_folder(self.folder, tighten=self._folder_is_ours())
            with _folder_lock(self.folder):
                text, own = self._merged(text)  # another instance may have written since
                atomic_write(self.path, text, private=True)  # it holds paths, queries, connections
                self._stamp = self._disk_stamp()
                self._held = own
        except (OSError, KnownError) as exc:
            self._write_failed = True
            self._dirty = True
            reason = exc.message if isinstance(exc, KnownError) else (exc.strerror or str(exc))
            self._notices.append(
                f"Settings cannot be saved to {self.folder} ({reason}); "
                "changes will last until Datashelf closes.")
            return False
        return True

    def _folder_is_ours(self) -> bool:
        """True when the folder holds nothing but Datashelf's files, so it may be made 0700; a
        folder chosen with --settings-dir that holds other things keeps its permissions."""
        if self.folder.name == "Datashelf":
            return True
        try:
            names = os.listdir(self.folder)
        except OSError:
            return True  # missing: private_folder creates it 0700
        return all(n == JOURNAL_FOLDER or n.startswith((FILE_NAME, f".{FILE_NAME}.")) for n in names)

    def save_if_dirty(self) -> bool:
        """Save when something changed here, or when another instance on this folder wrote the
        file since (so its copy of the shared lists gets this instance's entries back)."""
        changed_elsewhere = self._disk_stamp() not in (None, self._stamp)
        return self.save() if self._dirty or changed_elsewhere else True

    # -- test helpers ---------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """Every key with its current value (defaults included)."""
        return {name: self[name] for name in KEYS}


def _dump(data: dict[str, Any]) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a path with invalid UTF-8 (a lone surrogate): escape it
        text = json.dumps(data, indent=2, ensure_ascii=True, sort_keys=True) + "\n"
    return text
