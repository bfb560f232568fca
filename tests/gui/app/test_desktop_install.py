"""--install-desktop: desktop entry, icons, MIME package and mimeapps.list, all under tmp_path."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gui.app import desktop_install
from gui.app.desktop_install import install_desktop, quote_exec_arg, uninstall_desktop

MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"

UNRELATED = """\
# my own associations
[Default Applications]
text/plain=org.gnome.TextEditor.desktop;
application/x-python-pickle=my-pickle-tool.desktop;

[Added Associations]
image/png=org.gnome.Loupe.desktop;gimp.desktop;
application/json = org.gnome.TextEditor.desktop;

[Removed Associations]
application/json=firefox.desktop;
"""

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop install")


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Empty data and config homes, and a PATH without the cache tools (they are optional)."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    return tmp_path / "data", tmp_path / "config"


def _fake_app(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True)
    main_py = folder / "main.py"
    main_py.write_text("print('hi')\n", encoding="utf-8")
    return main_py, Path(sys.executable)


def _read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def _exec_args(value: str) -> list[str]:
    """Split an Exec value the way the desktop entry spec says a launcher does."""
    # 1. the string escapes of the key file; 2. the Exec quoting; 3. %% is a literal %.
    value = (value.replace("\\\\", "\0").replace("\\s", " ").replace("\\n", "\n")
             .replace("\\t", "\t").replace("\\r", "\r").replace("\0", "\\"))
    args, current, quoted, in_arg = [], [], False, False
    chars = iter(value)
    for ch in chars:
        if quoted:
            if ch == "\\":
                current.append(next(chars))
            elif ch == '"':
                quoted = False
            else:
                current.append(ch)
        elif ch == '"':
            quoted = in_arg = True
        elif ch == " ":
            if in_arg:
                args.append("".join(current))
            current, in_arg = [], False
        else:
            current.append(ch)
            in_arg = True
    if in_arg:
        args.append("".join(current))
    return [arg.replace("%%", "%") for arg in args]


def _mimeapps(config_home: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(config_home / "mimeapps.list", encoding="utf-8")
    return parser


@linux_only
def test_install_writes_entry_icons_mime_and_associations(tmp_path: Path, homes: tuple[Path, Path]) -> None:
    data_home, config_home = homes
    main_py, python = _fake_app(tmp_path / "app")
    config_home.mkdir()
    (config_home / "mimeapps.list").write_text(UNRELATED, encoding="utf-8")

    lines = install_desktop(main_py, python, data_home=data_home, config_home=config_home)

    assert lines and all(isinstance(line, str) for line in lines)
    entry = _read_desktop(data_home / "applications" / "datashelf.desktop")
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Datashelf"
    assert entry["Icon"] == "datashelf"
    assert _exec_args(entry["Exec"]) == [str(python), str(main_py), "%F"]
    assert "@EXEC@" not in (data_home / "applications" / "datashelf.desktop").read_text(encoding="utf-8")
    mime_types = entry["MimeType"].split(";")
    for wanted in ("application/x-python-pickle", "application/json", "application/vnd.sqlite3",
                   "application/x-hdf5", "application/x-ndjson", "application/x-npy"):
        assert wanted in mime_types

    for size in desktop_install.ICON_SIZES:
        png = data_home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "datashelf.png"
        assert png.read_bytes().startswith(b"\x89PNG")
    assert (data_home / "icons" / "hicolor" / "scalable" / "apps" / "datashelf.svg").is_file()

    root = ET.parse(data_home / "mime" / "packages" / "datashelf.xml").getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    globs = {g.get("pattern") for g in root.iter(f"{MIME_NS}glob")}
    assert {"*.pkl", "*.pickle", "*.joblib", "*.jsonl", "*.ndjson", "*.h5", "*.npy"} <= globs
    types = {t.get("type") for t in root.iter(f"{MIME_NS}mime-type")}
    assert {"application/x-python-pickle", "application/x-hdf5", "application/x-npy"} <= types

    apps = _mimeapps(config_home)
    assert apps["Default Applications"]["text/plain"] == "org.gnome.TextEditor.desktop;"
    # The user's own default for pickles wins; Datashelf is only offered.
    assert apps["Default Applications"]["application/x-python-pickle"] == "my-pickle-tool.desktop;"
    assert apps["Default Applications"]["application/x-npy"] == "datashelf.desktop;"
    assert "application/json" not in apps["Default Applications"]
    assert apps["Added Associations"]["image/png"] == "org.gnome.Loupe.desktop;gimp.desktop;"
    assert apps["Added Associations"]["application/json"] == "org.gnome.TextEditor.desktop;datashelf.desktop;"
    assert apps["Added Associations"]["application/x-npy"] == "datashelf.desktop;"
    assert apps["Removed Associations"]["application/json"] == "firefox.desktop;"
    assert (config_home / "mimeapps.list").read_text(encoding="utf-8").startswith("# my own associations")


@linux_only
def test_install_twice_adds_nothing_twice(tmp_path: Path, homes: tuple[Path, Path]) -> None:
    data_home, config_home = homes
    main_py, python = _fake_app(tmp_path / "app")
    install_desktop(main_py, python, data_home=data_home, config_home=config_home)
    first = (config_home / "mimeapps.list").read_text(encoding="utf-8")
    install_desktop(main_py, python, data_home=data_home, config_home=config_home)
    assert (config_home / "mimeapps.list").read_text(encoding="utf-8") == first
    assert first.count("application/x-hdf5=datashelf.desktop;") == 2  # once per group


@linux_only
def test_paths_with_spaces_and_specials_are_quoted(tmp_path: Path, homes: tuple[Path, Path]) -> None:
    data_home, config_home = homes
    main_py, _ = _fake_app(tmp_path / "My Apps" / "data $helf 100%")
    python = tmp_path / "venv dir" / "bin" / "python"

    lines = install_desktop(main_py, python, data_home=data_home, config_home=config_home)

    raw = (data_home / "applications" / "datashelf.desktop").read_text(encoding="utf-8")
    exec_line = next(line for line in raw.splitlines() if line.startswith("Exec="))
    assert exec_line.startswith(f'Exec="{tmp_path}/venv dir/bin/python" "')
    assert "100%%" in exec_line and "\\\\$helf" in exec_line  # \$ for Exec, doubled for the string
    entry = _read_desktop(data_home / "applications" / "datashelf.desktop")
    assert _exec_args(entry["Exec"]) == [str(python), str(main_py), "%F"]
    assert entry["TryExec"] == str(python)
    assert not any(line.startswith("warning") for line in lines)


def test_quote_exec_arg() -> None:
    assert quote_exec_arg("/usr/bin/python3") == "/usr/bin/python3"
    assert quote_exec_arg("/a b/main.py") == '"/a b/main.py"'
    assert quote_exec_arg('/x"y`z$w\\v') == '"/x\\"y\\`z\\$w\\\\v"'
    assert quote_exec_arg("/50%/main.py") == "/50%%/main.py"


@linux_only
def test_uninstall_removes_ours_and_keeps_the_rest(tmp_path: Path, homes: tuple[Path, Path]) -> None:
    data_home, config_home = homes
    main_py, python = _fake_app(tmp_path / "app")
    config_home.mkdir()
    (config_home / "mimeapps.list").write_text(UNRELATED, encoding="utf-8")
    install_desktop(main_py, python, data_home=data_home, config_home=config_home)

    lines = uninstall_desktop(main_py, python, data_home=data_home, config_home=config_home)

    assert any("removed" in line for line in lines)
    assert not (data_home / "applications" / "datashelf.desktop").exists()
    assert not (data_home / "mime" / "packages" / "datashelf.xml").exists()
    assert not list((data_home / "icons").rglob("datashelf.*"))
    text = (config_home / "mimeapps.list").read_text(encoding="utf-8")
    assert text == UNRELATED  # install then uninstall gives the user's file back unchanged
    apps = _mimeapps(config_home)
    assert apps["Default Applications"]["text/plain"] == "org.gnome.TextEditor.desktop;"
    assert apps["Default Applications"]["application/x-python-pickle"] == "my-pickle-tool.desktop;"
    assert apps["Added Associations"]["image/png"] == "org.gnome.Loupe.desktop;gimp.desktop;"
    assert apps["Removed Associations"]["application/json"] == "firefox.desktop;"
    assert apps["Added Associations"]["application/json"] == "org.gnome.TextEditor.desktop;"
    assert text.startswith("# my own associations")


@linux_only
def test_uninstall_removes_a_mimeapps_list_install_created(tmp_path: Path, homes: tuple[Path, Path]) -> None:
    data_home, config_home = homes
    main_py, python = _fake_app(tmp_path / "app")
    install_desktop(main_py, python, data_home=data_home, config_home=config_home)
    assert (config_home / "mimeapps.list").exists()
    uninstall_desktop(data_home=data_home, config_home=config_home)
    assert not (config_home / "mimeapps.list").exists()


@linux_only
def test_uninstall_when_nothing_is_installed(homes: tuple[Path, Path]) -> None:
    data_home, config_home = homes
    assert uninstall_desktop(data_home=data_home, config_home=config_home) == []


def test_other_platforms_get_instructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    lines = install_desktop(tmp_path / "main.py", Path("python"), data_home=tmp_path / "d",
                            config_home=tmp_path / "c")
    assert "Linux" in lines[0]
    assert any("main.py" in line for line in lines)
    assert not (tmp_path / "d").exists() and not (tmp_path / "c").exists()


@pytest.mark.skipif(shutil.which("update-mime-database") is None, reason="shared-mime-info not installed")
def test_update_mime_database_accepts_the_package(tmp_path: Path) -> None:
    packages = tmp_path / "mime" / "packages"
    packages.mkdir(parents=True)
    shutil.copy(desktop_install.RESOURCES / "datashelf-mime.xml", packages / "datashelf.xml")
    done = subprocess.run(["update-mime-database", str(tmp_path / "mime")], capture_output=True,
                          text=True, timeout=60)
    # update-mime-database exits 0 even when it skips a malformed package, so read its output.
    assert "error" not in done.stderr.lower(), done.stderr
    globs = (tmp_path / "mime" / "globs2").read_text(encoding="utf-8")
    for line in ("application/x-python-pickle:*.pkl", "application/x-ndjson:*.jsonl",
                 "application/x-hdf5:*.h5", "application/x-npy:*.npy"):
        assert line in globs
