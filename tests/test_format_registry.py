"""The format registry: every built-in hook resolves, and a toy format added in one entry is
sniffed, inspected, offered by File ▸ New and opened in a tab; unregistering restores the world."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from storage.formats import registry as format_registry
from storage.formats.newfile import new_formats
from storage.formats.registry import Format, SniffTest
from storage.inspect.report import run
from storage.sniff.detect import sniff
from tests.support.gui_helpers import launch, wait_documents
from tests.support.toy_format import MAGIC, TOY

HOOKS = ("document", "summary", "loader", "saver", "trusted_loader", "fuzz_target", "fuzz_seeds")


@pytest.fixture
def toy():
    """The toy format, registered for one test only."""
    with format_registry.registered(TOY) as fmt:
        yield fmt
    assert format_registry.get("toy") is None


def toy_file(folder: Path, name: str = "shapes.toy", records: str = "circle\nsquare\n") -> Path:
    path = folder / name
    path.write_bytes(MAGIC + records.encode())
    return path


@pytest.mark.parametrize("fmt", format_registry.formats(), ids=format_registry.names())
def test_every_builtin_hook_resolves(fmt: Format) -> None:
    for attribute in HOOKS:
        hook = getattr(fmt, attribute)
        if hook:
            assert callable(format_registry.resolve(hook)), (fmt.name, attribute, hook)
    if fmt.new_file is not None:
        assert isinstance(format_registry.resolve(fmt.new_file.template)(), bytes)
    for test in fmt.sniff:
        assert callable(format_registry.resolve(test.hook))
    for payload in fmt.payloads:
        assert payload.file_bytes or payload.copy or payload.no_copy
        for hook in (payload.file_bytes, payload.copy):
            assert hook is None or callable(format_registry.resolve(hook))
    assert all(ext.startswith(".") and ext == ext.lower() for ext in fmt.extensions)


def test_names_and_extensions_are_unique() -> None:
    assert len(set(format_registry.names())) == len(format_registry.names())
    claimed = [ext for f in format_registry.formats() for ext in f.extensions]
    assert len(claimed) == len(set(claimed))


def test_importing_the_registry_imports_no_format_module() -> None:
    # our own packages (an __init__ with a docstring) are not modules that do anything
    code = ("import sys, storage.formats.registry; "
            "print(sorted(m for m, mod in sys.modules.items()"
            " if m.startswith(('storage.', 'gui', 'PySide6', 'numpy'))"
            " and not (m.startswith(('storage.', 'gui')) and hasattr(mod, '__path__'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == "['storage.formats.registry']"


def test_json_io_imports_only_what_json_needs() -> None:
    code = ("import sys, storage.formats.json.io; "
            "print(sorted(m for m, mod in sys.modules.items()"
            " if m.startswith('storage.') and not hasattr(mod, '__path__')))")  # modules, not packages
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[1])
    loaded = set(eval(done.stdout))  # a printed list of names
    assert loaded <= {"storage.core.errors", "storage.core.atomic", "storage.core.gc_pause",
                      "storage.sniff.text",
                      "storage.formats.json.parse", "storage.formats.json.io"}


def test_a_toy_format_is_sniffed(toy, tmp_path: Path) -> None:
    assert sniff(toy_file(tmp_path)).format == "toy"
    assert sniff(toy_file(tmp_path, "misnamed.txt")).format == "toy"  # content decides
    empty = tmp_path / "empty.toy"
    empty.write_bytes(b"")
    assert sniff(empty).format == "toy"  # an empty file: its extension
    assert "toy" in format_registry.names()


def test_a_toy_format_is_inspected(toy, tmp_path: Path) -> None:
    out = io.StringIO()
    code = run(str(toy_file(tmp_path)), as_json=True, out=out)
    report = json.loads(out.getvalue())
    assert code == 0 and report["format"] == "toy" and report["ok"] is True
    assert report["summary"]["records"] == 2
    assert report["summary"]["detected_by"] == "starts with the toy magic line 'TOY 1'"


def test_a_toy_format_is_offered_by_file_new_and_the_desktop_file(toy) -> None:
    from gui.app import desktop_install

    assert ("toy", "Toy file", ".toy") in new_formats()
    assert new_formats()[0][0] == "json"  # the default stays first
    assert "application/x-datashelf-toy" in desktop_install._mime_types()


def test_a_toy_format_has_fuzz_seeds_and_a_target(toy, tmp_path: Path) -> None:
    from tests.fuzz.seeds import make_seeds
    from tests.fuzz.targets import run_target, targets_for

    [seed] = [s for s in make_seeds(tmp_path) if s.fmt == "toy"]
    assert "toy" in targets_for("toy")
    assert run_target("toy", seed.files[0]) == ("ok", "")
    assert run_target("inspect", seed.files[0]) == ("ok", "")


def test_a_toy_format_opens_in_its_tab(toy, qtbot, tmp_path: Path) -> None:
    from tests.support.toy_format import ToyDocument

    path = toy_file(tmp_path)
    window = launch(qtbot, tmp_path / "settings", path)
    [document] = wait_documents(qtbot, window, 1)
    assert isinstance(document, ToyDocument)
    assert document.format == "toy" and document.records == ["circle", "square"]
    assert document in window.page("files").all_documents()
    assert "toy" in window.page("files").formats
    assert window.format_label.text() == "TOY"


def test_file_new_creates_a_toy_file_and_opens_it(toy, qtbot, tmp_path: Path, monkeypatch) -> None:
    from tests.support.toy_format import ToyDocument

    target = tmp_path / "fresh.toy"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Toy file (*.toy)"))
    window = launch(qtbot, tmp_path / "settings")
    window.actions.new.trigger()
    [document] = wait_documents(qtbot, window, 1)
    assert target.read_bytes() == MAGIC
    assert isinstance(document, ToyDocument) and document.records == []


def test_unregistering_restores_the_world(tmp_path: Path) -> None:
    from gui.app import desktop_install
    from tests.fuzz.targets import targets

    before = (format_registry.names(), new_formats(), desktop_install._mime_types(), list(targets()))
    path = toy_file(tmp_path)
    with format_registry.registered(TOY):
        assert sniff(path).format == "toy"
    assert sniff(path).format == "text"
    format_registry.register(TOY)
    assert sniff(path).format == "toy" and new_formats() != before[1]
    assert format_registry.unregister("toy") is TOY
    assert sniff(path).format == "text"
    assert (format_registry.names(), new_formats(), desktop_install._mime_types(), list(targets())) == before
    package = desktop_install.RESOURCES / desktop_install.MIME_PACKAGE
    assert desktop_install._mime_package(package) == package.read_bytes()  # the built-ins' package as is
    with pytest.raises(ValueError):
        format_registry.register(format_registry.get("json"))  # a name is registered once


def test_a_textual_format_without_gui_code_opens_as_text(qtbot, tmp_path: Path) -> None:
    """A format may bring no document class: the Files tab's editor shows it as text."""
    plain = dataclasses.replace(TOY, name="toytext", document="", textual=True,
                                sniff=(SniffTest(lambda probe: probe.result("toytext", "toy magic")
                                                 if probe.head.startswith(MAGIC) else None),))
    path = toy_file(tmp_path)
    with format_registry.registered(plain):
        window = launch(qtbot, tmp_path / "settings", path)
        [document] = wait_documents(qtbot, window, 1)
        assert document.format == "toytext" and document.mode == "text"
        assert document in window.page("files").all_documents()


def test_a_new_format_leaves_the_builtin_answers_alone(tmp_path: Path) -> None:
    """A new format's sniff test runs after the magic-number tests: no built-in file changes format."""
    from tests.fuzz.seeds import make_seeds

    files = [f for seed in make_seeds(tmp_path) for f in seed.files]
    before = [sniff(f) for f in files]
    with format_registry.registered(TOY):
        assert [sniff(f) for f in files] == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop install")
def test_install_desktop_lists_and_defines_a_new_formats_type(toy, tmp_path: Path, monkeypatch) -> None:
    import xml.etree.ElementTree as ET

    from gui.app.desktop_install import install_desktop

    monkeypatch.setenv("PATH", str(tmp_path))  # no cache tools: they are optional
    main_py = tmp_path / "main.py"
    main_py.write_text("print('hi')\n", encoding="utf-8")
    data_home = tmp_path / "data"
    install_desktop(main_py, Path(sys.executable), data_home=data_home, config_home=tmp_path / "config")
    desktop = (tmp_path / "data" / "applications" / "datashelf.desktop").read_text(encoding="utf-8")
    assert "application/x-datashelf-toy;" in desktop
    root = ET.parse(tmp_path / "data" / "mime" / "packages" / "datashelf.xml").getroot()
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    types = {t.get("type"): t for t in root.iter(f"{ns}mime-type")}
    assert {"application/x-python-pickle", "application/x-datashelf-toy"} <= set(types)
    assert [g.get("pattern") for g in types["application/x-datashelf-toy"].iter(f"{ns}glob")] == ["*.toy"]
    tool = shutil.which("update-mime-database", path=os.defpath)
    if tool is not None:  # the package with the toy's definition is well formed
        done = subprocess.run([tool, str(data_home / "mime")], capture_output=True, text=True, timeout=60)
        assert "error" not in done.stderr.lower(), done.stderr
        globs = (data_home / "mime" / "globs2").read_text(encoding="utf-8")
        assert "application/x-datashelf-toy:*.toy" in globs
