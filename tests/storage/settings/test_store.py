"""The settings service: typed keys, round trips, and every way its file can be bad."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.settings import store as settings_mod
from storage.settings.store import SCHEMA_VERSION, Settings


def bad_copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("settings.json.*.bad"))


def test_defaults_when_no_file(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    assert settings["window.active_tab"] == "files"
    assert settings["recent_files"] == []
    assert settings.take_notices() == []
    assert not (tmp_path / "settings.json").exists()  # reading writes nothing


def test_round_trip_keeps_every_section(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    settings["window.active_tab"] = "json"
    settings["view.status_bar"] = False
    settings["window.geometry"] = settings_mod.encode_bytes(b"\x01\x02geometry")
    settings.set_last_dir("open", str(tmp_path))
    assert settings.save()
    data = json.loads((tmp_path / "settings.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["preferences"]["view.status_bar"] is False
    assert data["state"]["window.active_tab"] == "json"

    again = Settings(tmp_path)
    assert again["window.active_tab"] == "json"
    assert again["view.status_bar"] is False
    assert settings_mod.decode_bytes(again["window.geometry"]) == b"\x01\x02geometry"
    assert again.last_dir("open") == str(tmp_path)


def test_types_are_enforced(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    with pytest.raises(TypeError):
        settings["view.status_bar"] = "yes"
    with pytest.raises(TypeError):
        settings["general.autosave_delay_ms"] = True  # bool is not an int here
    with pytest.raises(KeyError):
        settings["no.such.key"] = 1


def test_defaults_are_not_shared_between_instances(tmp_path: Path) -> None:
    first = Settings(tmp_path / "a")
    first["recent_files"].append("/tmp/x")  # mutating a default in place
    assert Settings(tmp_path / "b")["recent_files"] == []


def test_listeners_hear_real_changes_only(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    heard: list[str] = []
    settings.subscribe(heard.append)
    settings["window.active_tab"] = "sqlite"
    settings["window.active_tab"] = "sqlite"
    assert heard == ["window.active_tab"]
    assert settings.dirty
    settings.save()
    assert not settings.dirty


def test_recent_files_newest_first_capped_and_existing_only(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings")
    files = []
    for i in range(12):
        path = tmp_path / f"f{i}.json"
        path.write_text("{}")
        files.append(path)
        settings.add_recent(path)
    settings.add_recent(files[3])  # reopening moves it to the front, no duplicate
    recent = settings.recent_files()
    assert recent[0] == str(files[3])
    assert len(recent) == 10 and len(set(recent)) == 10
    files[11].unlink()
    assert str(files[11]) not in settings.recent_files()
    settings.add_recent(files[5], "json")
    assert settings.recent_files(("json", "jsonl")) == [str(files[5])]
    assert settings.recent_files(("sqlite",)) == []


def test_a_recent_path_with_invalid_utf8_survives_a_relaunch(tmp_path: Path) -> None:
    path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.json")
    with open(path, "wb") as handle:
        handle.write(b"{}")
    settings = Settings(tmp_path / "settings")
    settings.add_recent(os.fsdecode(path))
    assert settings.save()
    again = Settings(tmp_path / "settings")
    assert not again.take_notices() and again.recent_files() == [os.fsdecode(path)]


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2]", b""])
def test_corrupt_file_is_set_aside(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "settings.json").write_bytes(content)
    settings = Settings(tmp_path)
    assert settings["window.active_tab"] == "files"
    [aside] = bad_copies(tmp_path)
    assert aside.read_bytes() == content  # the user's file is kept, byte for byte
    notices = settings.take_notices()
    assert len(notices) == 1 and "starting with defaults" in notices[0]
    assert settings.take_notices() == []  # said once
    assert settings.save() and Settings(tmp_path).take_notices() == []


def test_newer_version_is_set_aside_not_overwritten(tmp_path: Path) -> None:
    newer = {"schema_version": SCHEMA_VERSION + 1, "state": {"window.active_tab": "json"}}
    (tmp_path / "settings.json").write_text(json.dumps(newer))
    settings = Settings(tmp_path)
    assert settings["window.active_tab"] == "files"
    assert "newer Datashelf" in settings.take_notices()[0]
    [aside] = bad_copies(tmp_path)
    assert json.loads(aside.read_text()) == newer


def test_wrong_types_reset_with_a_notice(tmp_path: Path) -> None:
    raw = {"schema_version": SCHEMA_VERSION,
           "state": {"recent_files": "not a list", "window.active_tab": "json"},
           "preferences": {"view.status_bar": "yes", "unknown.key": 3}}
    (tmp_path / "settings.json").write_text(json.dumps(raw))
    settings = Settings(tmp_path)
    assert settings["recent_files"] == []
    assert settings["view.status_bar"] is True
    assert settings["window.active_tab"] == "json"  # the good value survives
    [notice] = settings.take_notices()
    assert "recent_files" in notice and "view.status_bar" in notice


def test_unreadable_file_is_set_aside(tmp_path: Path) -> None:
    # A folder where the file should be cannot be read (works even as root).
    (tmp_path / "settings.json").mkdir()
    settings = Settings(tmp_path)
    assert "could not be read" in settings.take_notices()[0]
    assert settings.save()
    assert Settings(tmp_path).take_notices() == []


def test_unwritable_folder_keeps_working_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the settings folder should be")
    settings = Settings(blocker / "settings")
    settings["window.active_tab"] = "json"
    assert settings.save() is False
    assert settings["window.active_tab"] == "json"
    [notice] = settings.take_notices()
    assert "cannot be saved" in notice
    assert settings.save() is False and settings.take_notices() == []  # said once


def test_read_only_file_system_is_reported_once(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(tmp_path)
    settings["window.active_tab"] = "json"

    def refuse(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(settings_mod, "atomic_write", refuse)
    assert settings.save() is False
    assert "cannot be saved" in settings.take_notices()[0]


def test_read_only_settings_file_still_loads(tmp_path: Path) -> None:
    Settings(tmp_path).save()
    path = tmp_path / "settings.json"
    data = json.loads(path.read_text())
    data["state"]["window.active_tab"] = "sqlite"
    path.write_text(json.dumps(data))
    os.chmod(path, 0o444)
    settings = Settings(tmp_path)
    assert settings["window.active_tab"] == "sqlite"
    assert settings.take_notices() == []


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    for tab in ("json", "sqlite", "objects"):
        settings["window.active_tab"] = tab
        settings.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_environment_variable_chooses_the_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATASHELF_SETTINGS_DIR", str(tmp_path / "env"))
    assert Settings().folder == tmp_path / "env"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(view_state=st.dictionaries(st.text(min_size=1), st.dictionaries(st.text(), json_values)),
       recent=st.lists(st.text(min_size=1), max_size=10),
       tab=st.text())
def test_any_state_round_trips(tmp_path: Path, view_state, recent, tab) -> None:
    folder = tmp_path / "hyp"
    shelf = Settings(folder)
    shelf["session.view_state"] = view_state
    shelf["recent_files"] = recent
    shelf["window.active_tab"] = tab
    assert shelf.save()
    again = Settings(folder)
    assert again.take_notices() == []
    assert again["session.view_state"] == view_state
    assert again["recent_files"] == recent
    assert again["window.active_tab"] == tab


def _docs(*paths: str) -> list[dict]:
    return [{"path": p, "format": "json", "tab": "json"} for p in paths]


def _saved_paths(folder: Path) -> list[str]:
    saved = json.loads((folder / "settings.json").read_text())
    return [d["path"] for d in saved["state"]["session.documents"]]


def test_two_instances_on_one_folder_merge_their_documents(tmp_path: Path) -> None:
    first = Settings(tmp_path)
    second = Settings(tmp_path)  # started at the same instant: both read an empty session
    first["session.documents"] = _docs("/a", "/x")
    assert first.save()
    second["session.documents"] = _docs("/b")
    assert second.save()
    assert _saved_paths(tmp_path) == ["/b", "/a", "/x"]  # the other's documents are kept
    first["session.documents"] = _docs("/a")  # /x closed in the first: it goes
    assert first.save()
    assert _saved_paths(tmp_path) == ["/a", "/b"]
    assert second.save_if_dirty()  # not dirty, but the file changed: it writes its view back
    assert sorted(_saved_paths(tmp_path)) == ["/a", "/b"]
    second["session.documents"] = []
    assert second.save()
    assert _saved_paths(tmp_path) == ["/a"]


def test_a_document_closed_here_and_opened_there_stays(tmp_path: Path) -> None:
    first = Settings(tmp_path)
    second = Settings(tmp_path)
    first["session.documents"] = _docs("/a", "/x")
    assert first.save()
    first["session.documents"] = _docs("/a")  # closed here ...
    assert first.save()
    second["session.documents"] = _docs("/x")  # ... and opened in the other instance later
    assert second.save()
    first["window.active_tab"] = "json"
    assert first.save()  # the next save here leaves the other's /x alone
    assert _saved_paths(tmp_path) == ["/a", "/x"]


def test_two_instances_keep_each_others_view_states(tmp_path: Path) -> None:
    first = Settings(tmp_path)
    second = Settings(tmp_path)
    first["session.view_state"] = {"/a": {"split": 1}}
    assert first.save()
    second["session.view_state"] = {"/b": {"split": 2}}
    assert second.save()
    saved = json.loads((tmp_path / "settings.json").read_text())["state"]["session.view_state"]
    assert saved == {"/a": {"split": 1}, "/b": {"split": 2}}


def test_one_instance_drops_what_its_last_session_left(tmp_path: Path) -> None:
    earlier = Settings(tmp_path)
    earlier["session.documents"] = _docs("/gone", "/kept")
    earlier["session.connections"] = [{"name": "db", "url": "sqlite:///old.db"}]
    assert earlier.save()
    settings = Settings(tmp_path)  # inherits both; reopens one, the other no longer exists
    settings["session.documents"] = _docs("/kept")
    settings["session.connections"] = []
    assert settings.save()
    assert _saved_paths(tmp_path) == ["/kept"]
    assert json.loads((tmp_path / "settings.json").read_text())["state"]["session.connections"] == []


def test_save_if_dirty_writes_nothing_when_nothing_changed(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    settings["window.active_tab"] = "json"
    assert settings.save()
    stamp = (tmp_path / "settings.json").stat().st_mtime_ns
    assert settings.save_if_dirty()
    assert (tmp_path / "settings.json").stat().st_mtime_ns == stamp


def test_a_files_sqlite_mode_is_remembered_newest_kept(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(settings_mod, "MAX_FILE_MODES", 3)
    first = Settings(tmp_path)
    assert first.file_mode(tmp_path / "a.db") is None
    first.set_file_mode(tmp_path / "a.db", "edit")
    for name in ("b", "c"):
        first.set_file_mode(tmp_path / f"{name}.db", "read_only")
    first.set_file_mode(tmp_path / "a.db", "edit")  # used again: the newest
    first.set_file_mode(tmp_path / "d.db", "edit")  # b.db, the oldest, goes
    first.save()
    again = Settings(tmp_path)
    assert again.file_mode(str(tmp_path / "a.db")) == "edit"
    assert again.file_mode(tmp_path / "b.db") is None
    assert again.file_mode(tmp_path / "c.db") == "read_only"
