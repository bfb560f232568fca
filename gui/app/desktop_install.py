"""Install Datashelf into a Linux desktop's menus and file associations (``--install-desktop``).

Per-user only, following the XDG base directory, desktop entry, icon theme, shared MIME info
and MIME applications specs: a ``.desktop`` file, hicolor icons, a MIME package and entries
in ``mimeapps.list``. Plain Python without Qt, so it runs without a display.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from storage.core.atomic import atomic_write
from storage.formats import registry as format_registry

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
APP_ID = "datashelf"
DESKTOP_ID = f"{APP_ID}.desktop"
MIME_PACKAGE = f"{APP_ID}-mime.xml"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

# Every type a registered format lists goes to [Added Associations] ("Open With" offers Datashelf).
# Datashelf becomes the default only for the types a format marks so (the Python-specific ones),
# and only where the user has no default yet: JSON, JSON Lines and SQLite keep their editor.
DEFAULTS_GROUP = "Default Applications"
ADDED_GROUP = "Added Associations"
COMMAND_TIMEOUT = 30  # seconds; a cache update that hangs must not hang the install

# Desktop entry spec, "The Exec key": an argument holding one of these must be quoted.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`=")


def _is_freedesktop() -> bool:
    return sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd", "dragonfly"))


def _xdg_dir(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    # The base directory spec says relative values are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def quote_exec_arg(arg: str) -> str:
    """Quote one argument for an ``Exec`` line (before the string escaping of the key file)."""
    arg = arg.replace("%", "%%")  # field codes start with %
    if any(ch in _RESERVED for ch in arg):
        escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
        return f'"{escaped}"'
    return arg


def _escape_string_value(value: str) -> str:
    """Escape a value of type string; the spec applies this on top of Exec quoting."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def _default_for() -> list[str]:
    """The MIME types Datashelf offers itself as the default application for."""
    return list(dict.fromkeys(m for f in format_registry.formats() for m in f.default_mime_types))


def _desktop_entry(main_script: Path, python: Path) -> str:
    template = (RESOURCES / "datashelf.desktop").read_text(encoding="utf-8")
    template = template.replace("@MIMETYPES@", "".join(f"{m};" for m in _mime_types()))
    exec_line = " ".join(quote_exec_arg(str(arg)) for arg in (python, main_script))
    # TryExec hides the menu entry if the interpreter (say, a deleted virtualenv) is gone.
    return (template.replace("@EXEC@", _escape_string_value(exec_line))
            .replace("@TRYEXEC@", _escape_string_value(str(python))))


def _mime_types() -> list[str]:
    """The MimeType list of the desktop file: every registered format's types, in registry order."""
    return list(dict.fromkeys(m for f in format_registry.formats() for m in f.mime_types))


def _mime_package(source: Path) -> bytes:
    """The shared MIME package: the built-in types' definitions in ``resources/``, then those of
    registered formats that bring their own (``Format.mime_xml``: ``<mime-type>`` elements)."""
    text = source.read_text(encoding="utf-8")
    extra = "".join(format_registry.resolve(f.mime_xml)() for f in format_registry.with_hook("mime_xml"))
    end = text.rfind("</mime-info>")
    return (text[:end] + extra + text[end:] if extra and end >= 0 else text).encode("utf-8")


def _planned_files(data_home: Path) -> list[tuple[Path, Path]]:
    """(source in resources/, destination under data_home) for every file we copy."""
    pairs = [(RESOURCES / "icons" / f"{APP_ID}-{size}.png",
              data_home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png")
             for size in ICON_SIZES]
    pairs.append((RESOURCES / f"{APP_ID}.svg",
                  data_home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"))
    pairs.append((RESOURCES / MIME_PACKAGE, data_home / "mime" / "packages" / f"{APP_ID}.xml"))
    return pairs


# --- mimeapps.list, edited line by line so comments, order and other groups survive ---------

def _group_spans(lines: list[str], group: str) -> list[tuple[int, int]]:
    """(header index, end index) of every ``[group]`` block; a repeated group is tolerated."""
    spans, start = [], None
    for index, line in enumerate(lines):
        if line.strip().startswith("["):
            if start is not None:
                spans.append((start, index))
            start = index if line.strip() == f"[{group}]" else None
    if start is not None:
        spans.append((start, len(lines)))
    return spans


def _with_ids(line: str, ids: list[str]) -> str:
    """``line`` with its list of desktop IDs replaced, spacing around ``=`` kept as it was."""
    key, _, value = line.partition("=")
    return f"{key}={value[:len(value) - len(value.lstrip())]}{';'.join(ids)};"


def _add_to_list(lines: list[str], group: str, mime: str, *, only_if_missing: bool = False) -> bool:
    """Append DESKTOP_ID to ``mime=`` in ``group`` (creating either); True if a line changed.

    With ``only_if_missing`` an existing ``mime=`` line is left alone (the user's default wins).
    """
    spans = _group_spans(lines, group)
    for start, end in spans:
        for index in range(start + 1, end):
            key, sep, value = lines[index].partition("=")
            if not sep or key.strip() != mime:
                continue
            ids = [item for item in value.strip().split(";") if item.strip()]
            if DESKTOP_ID in ids or only_if_missing:
                return False
            lines[index] = _with_ids(lines[index], [*ids, DESKTOP_ID])
            return True
    if not spans:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append(f"[{group}]")
        spans = [(len(lines) - 1, len(lines))]
    start, end = spans[0]
    while end - 1 > start and not lines[end - 1].strip():
        end -= 1  # keep the blank line that separates this group from the next
    lines.insert(end, f"{mime}={DESKTOP_ID};")
    return True


def _remove_from_lists(lines: list[str], group: str) -> list[str]:
    """Drop DESKTOP_ID from every list in ``group`` (and emptied lines); return the MIME types."""
    changed = []
    for start, end in reversed(_group_spans(lines, group)):
        before = len(changed)
        for index in range(end - 1, start, -1):
            key, sep, value = lines[index].partition("=")
            ids = [item for item in value.strip().split(";") if item.strip()]
            if not sep or DESKTOP_ID not in ids:
                continue
            ids.remove(DESKTOP_ID)
            changed.append(key.strip())
            if ids:
                lines[index] = _with_ids(lines[index], ids)
            else:
                del lines[index]
                end -= 1
        if len(changed) > before and not any(line.strip() for line in lines[start + 1:end]):
            del lines[start:end]  # a group we emptied (and its trailing blank lines)
    return changed[::-1]  # in file order


def _update_mimeapps(path: Path, mime_types: list[str], *, add: bool) -> list[str]:
    """Add our associations to ``mimeapps.list`` or take them out, keeping everything else."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if add:
        added = [m for m in mime_types if _add_to_list(lines, ADDED_GROUP, m)]
        defaults = [m for m in _default_for() if _add_to_list(lines, DEFAULTS_GROUP, m, only_if_missing=True)]
    else:
        added = _remove_from_lists(lines, ADDED_GROUP)
        defaults = _remove_from_lists(lines, DEFAULTS_GROUP)
    if not added and not defaults:
        return [f"{path}: nothing to change"]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        path.unlink()  # only our entries were in it (uninstall after a first install)
        return [f"removed {path}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")
    if add:
        report = [f"{path}: offered Datashelf for {len(added)} file types"]
        if defaults:
            report.append(f"{path}: made Datashelf the default for {', '.join(defaults)}")
    else:
        report = [f"{path}: removed Datashelf from {len(added)} associations"]
        if defaults:
            report.append(f"{path}: removed Datashelf as the default for {', '.join(defaults)}")
    return report


# --- cache updates --------------------------------------------------------------------------

def _refresh_caches(data_home: Path) -> list[str]:
    """Run the cache tools that exist; their failure is reported, never raised."""
    commands = [
        ["update-mime-database", str(data_home / "mime")],
        ["update-desktop-database", str(data_home / "applications")],
        # -t: ~/.local/share/icons/hicolor usually has no index.theme of its own.
        ["gtk-update-icon-cache", "-f", "-t", str(data_home / "icons" / "hicolor")],
    ]
    report = []
    for command in commands:
        if not Path(command[-1]).is_dir():
            continue
        if shutil.which(command[0]) is None:
            report.append(f"skipped {command[0]} (not installed)")
            continue
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            report.append(f"{command[0]} failed: {exc}")
            continue
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            report.append(f"{command[0]} failed (exit {done.returncode}): {tail[0]}")
        else:
            report.append(f"ran {' '.join(command)}")
    return report


def _not_linux(main_script: Path, python: Path) -> list[str]:
    command = f'"{python}" "{main_script}"'
    return [
        "--install-desktop adds Datashelf to the menus and file associations of Linux desktops "
        f"(freedesktop.org); it does nothing on {sys.platform}.",
        f"Start Datashelf with: {command}",
        "On Windows you can make a shortcut to that command (use pythonw.exe to avoid a console "
        "window); on macOS, run it from Terminal or wrap it in an Automator application.",
    ]


def install_desktop(main_script: Path, python: Path, *, data_home: Path | None = None,
                    config_home: Path | None = None) -> list[str]:
    """Install the desktop entry, icons, MIME types and associations; return what was done.

    Raises :class:`storage.core.errors.WriteError` if a file cannot be written.
    """
    main_script = Path(os.path.abspath(main_script))
    python = Path(os.path.abspath(python))  # not resolve(): a venv's python is a symlink to keep
    if not _is_freedesktop():
        return _not_linux(main_script, python)
    data_home = data_home or _xdg_dir("XDG_DATA_HOME", ".local/share")
    config_home = config_home or _xdg_dir("XDG_CONFIG_HOME", ".config")
    report = []
    if not main_script.is_file():
        report.append(f"warning: {main_script} does not exist; the menu entry will not start")

    desktop = data_home / "applications" / DESKTOP_ID
    desktop.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(desktop, _desktop_entry(main_script, python))
    report.append(f"wrote {desktop}")
    for source, dest in _planned_files(data_home):
        if not source.is_file():
            report.append(f"warning: {source} is missing; not installed")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, _mime_package(source) if source.name == MIME_PACKAGE else source.read_bytes())
        report.append(f"wrote {dest}")
    report += _update_mimeapps(config_home / "mimeapps.list", _mime_types(), add=True)
    report += _refresh_caches(data_home)
    return report


def uninstall_desktop(main_script: Path | None = None, python: Path | None = None, *,
                      data_home: Path | None = None, config_home: Path | None = None) -> list[str]:
    """Remove what :func:`install_desktop` wrote, leaving other applications' entries alone."""
    if not _is_freedesktop():
        return _not_linux(Path(main_script or "main.py"), Path(python or sys.executable))
    data_home = data_home or _xdg_dir("XDG_DATA_HOME", ".local/share")
    config_home = config_home or _xdg_dir("XDG_CONFIG_HOME", ".config")
    report = []
    targets = [data_home / "applications" / DESKTOP_ID] + [dest for _, dest in _planned_files(data_home)]
    for path in targets:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        report.append(f"removed {path}")
    mimeapps = config_home / "mimeapps.list"
    if mimeapps.exists():
        report += _update_mimeapps(mimeapps, _mime_types(), add=False)
    report += _refresh_caches(data_home)
    return report
