"""One Datashelf per settings folder: a second ``main.py FILE`` hands FILE to the running window.

The running instance is the real window built in this process (``main.build``); the second
launch is the real ``main.py`` in a child process, on the same (temporary) settings folder.
A child that handed its files over has waited for the window's answer, which the window sends
before it announces the files; so once the child has exited, "nothing arrived" is final.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import main
from gui.app.single_instance import InstanceServer
from gui.app.single_instance_client import server_name
from tests.support.gui_helpers import close_window, forget_edits, launch, make_samples, wait_documents

ROOT = Path(__file__).resolve().parents[3]
# The second launch, reporting whether it got as far as the widget modules.
CHILD = ("import sys, main\n"
         "status = main.main(sys.argv[1:])\n"
         "print('widgets imported:', 'PySide6.QtWidgets' in sys.modules, flush=True)\n"
         "print('Qt imported:', 'PySide6.QtCore' in sys.modules, flush=True)\n"
         "sys.exit(status)\n")


def start_second(*arguments: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    environment.pop(main.EXIT_WHEN_SHOWN, None)
    environment.pop("DATASHELF_SETTINGS_DIR", None)
    environment.update(env or {})
    return subprocess.Popen([sys.executable, "-c", CHILD, *arguments], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(qtbot, child: subprocess.Popen) -> str:
    """Run this window's event loop until the child exits (it may be talking to the window)."""
    try:
        qtbot.waitUntil(lambda: child.poll() is not None, timeout=60_000)
    finally:
        if child.poll() is None:  # it started a window of its own: do not leave it running
            child.kill()
    out, err = child.communicate()
    assert child.returncode == 0, err
    return out


def server_of(window) -> InstanceServer:
    return window.findChild(InstanceServer)


def test_second_launch_hands_its_files_to_the_running_window(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir)
    assert server_of(window).is_listening()
    received = []
    server_of(window).filesReceived.connect(received.append)
    child = start_second("--settings-dir", str(settings_dir), str(samples["json"]), str(samples["text"]))
    out = finish(qtbot, child)
    assert "widgets imported: False" in out  # it never built a window of its own
    assert "Qt imported: False" in out or os.name == "nt"  # on POSIX not even QtCore
    assert received == [[str(samples["json"]), str(samples["text"])]]
    documents = wait_documents(qtbot, window, 2)
    assert {d.path for d in documents} == {str(samples["json"]), str(samples["text"])}
    assert window.current_document() in documents  # brought to the front, as File ▸ Open does
    assert window.settings.recent_files()[:2] == [str(samples["text"]), str(samples["json"])]


def test_relative_paths_are_resolved_by_the_second_launch(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir)
    child = start_second("--settings-dir", str(settings_dir), os.path.relpath(samples["json"], ROOT))
    finish(qtbot, child)
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(samples["json"])


def test_launch_without_files_raises_the_running_window(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    window.showMinimized()
    with qtbot.waitSignal(server_of(window).filesReceived) as blocker:
        child = start_second("--settings-dir", str(settings_dir))
    out = finish(qtbot, child)
    assert "widgets imported: False" in out
    assert blocker.args == [[]]
    assert window.isVisible() and not window.isMinimized()
    qtbot.waitUntil(window.isActiveWindow)
    assert window.all_documents() == []


POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="Unix sockets (Windows uses named pipes)")


@POSIX_ONLY
def test_a_stale_socket_is_replaced(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    stale = Path(server_name(settings_dir))
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # what a crashed instance leaves
    dead.bind(str(stale))
    dead.close()
    assert stale.exists()
    window = launch(qtbot, settings_dir)
    assert server_of(window).is_listening()
    assert server_of(window).full_server_name() == str(stale)
    finish(qtbot, start_second("--settings-dir", str(settings_dir), str(samples["json"])))
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(samples["json"])


def test_a_live_server_is_never_taken_over(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir)
    other = launch(qtbot, settings_dir)  # started at the same instant: the hand-off missed it
    assert server_of(window).is_listening()
    assert not server_of(other).is_listening()
    finish(qtbot, start_second("--settings-dir", str(settings_dir), str(samples["json"])))
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(samples["json"])
    assert other.all_documents() == []


def test_two_settings_folders_are_two_instances(qtbot, tmp_path: Path) -> None:
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, tmp_path / "one")
    assert server_name(tmp_path / "one") != server_name(tmp_path / "two")
    received = []
    server_of(window).filesReceived.connect(received.append)
    child = start_second("--settings-dir", str(tmp_path / "two"), str(samples["json"]),
                         env={main.EXIT_WHEN_SHOWN: "1"})
    out = finish(qtbot, child)
    assert "DATASHELF_SHOWN" in out  # a window of its own
    assert received == []
    assert window.all_documents() == []


def test_new_window_opts_out(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir)
    received = []
    server_of(window).filesReceived.connect(received.append)
    child = start_second("--settings-dir", str(settings_dir), "--new-window", str(samples["json"]),
                         env={main.EXIT_WHEN_SHOWN: "1"})
    assert "DATASHELF_SHOWN" in finish(qtbot, child)
    assert received == []
    assert window.all_documents() == []
    assert "--new-window" in main._gui_parser().format_help()


def test_inspect_never_talks_to_the_running_window(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    window = launch(qtbot, settings_dir)
    received = []
    server_of(window).filesReceived.connect(received.append)
    child = start_second("inspect", str(samples["json"]), "--json",
                         env={"DATASHELF_SETTINGS_DIR": str(settings_dir)})
    out = finish(qtbot, child)
    assert json.loads(out.splitlines()[0])["format"]
    assert received == []
    assert window.all_documents() == []


def test_a_closed_window_stops_listening(qtbot, tmp_path: Path) -> None:
    settings_dir = tmp_path / "settings"
    window = launch(qtbot, settings_dir)
    close_window(qtbot, window)
    qtbot.waitUntil(lambda: not server_of(window).is_listening())
    again = launch(qtbot, settings_dir)  # the next launch on the folder takes over
    assert server_of(again).is_listening()


def _second_window(qtbot, settings_dir: Path, *files: Path):
    """Another instance on the same folder (its server could not listen, or --new-window)."""
    _app, window = main.build(["--settings-dir", str(settings_dir), "--new-window", *map(str, files)])
    qtbot.addWidget(window, before_close_func=forget_edits)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.mark.parametrize("first_to_quit", ["first", "second"])
def test_two_instances_on_one_folder_keep_each_others_documents(qtbot, tmp_path: Path,
                                                               first_to_quit: str) -> None:
    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    first = launch(qtbot, settings_dir, samples["json"], samples["pickle"])
    wait_documents(qtbot, first, 2)
    second = _second_window(qtbot, settings_dir, samples["text"])
    wait_documents(qtbot, second, 1)
    first.close_document(first.find_document(str(samples["pickle"])))  # closed here: it goes
    wait_documents(qtbot, first, 1)
    order = [first, second] if first_to_quit == "first" else [second, first]
    for window in order:
        close_window(qtbot, window)

    saved = json.loads((settings_dir / "settings.json").read_text())
    assert {d["path"] for d in saved["state"]["session.documents"]} == {
        str(samples["json"]), str(samples["text"])}
    again = launch(qtbot, settings_dir)
    restored = wait_documents(qtbot, again, 2)
    assert {d.path for d in restored} == {str(samples["json"]), str(samples["text"])}


@POSIX_ONLY
def test_the_client_tells_a_dead_socket_from_a_silent_instance(tmp_path: Path, monkeypatch,
                                                              capsys) -> None:
    from gui.app import single_instance_client as client

    name = server_name(tmp_path / "settings")
    assert client.hand_off(name, []) is client.HandOff.NOT_RUNNING  # no socket at all
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # accepts, never answers
    silent.bind(name)
    try:
        silent.listen(1)
        monkeypatch.setattr(client, "REPLY_MS", 100)
        assert client.hand_off(name, [str(tmp_path / "x.json")]) is client.HandOff.NO_ANSWER
        monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
        assert main.main(["--settings-dir", str(tmp_path / "settings")]) == 1
        assert "did not answer" in capsys.readouterr().err
        import gc

        assert gc.isenabled()  # main() paused the collector for a launch: back on when it returns
    finally:
        silent.close()
    assert client.hand_off(name, []) is client.HandOff.NOT_RUNNING  # stale: refused
    Path(name).unlink()


def test_a_launch_while_the_window_is_built_waits_for_it(qtbot, tmp_path: Path) -> None:
    from gui.app.single_instance import serve

    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    server = InstanceServer.for_folder(settings_dir)  # listening, the window not built yet
    assert server.is_listening()
    child = start_second("--settings-dir", str(settings_dir), str(samples["json"]))
    qtbot.waitUntil(lambda: server.wait_for_connection(50), timeout=30_000)
    _app, window = main.build(["--settings-dir", str(settings_dir), "--new-window"])
    qtbot.addWidget(window, before_close_func=forget_edits)
    serve(window, server)
    finish(qtbot, child)
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(samples["json"])


@POSIX_ONLY
def test_a_launch_at_the_same_instant_waits_for_the_starter(qtbot, tmp_path: Path) -> None:
    from gui.app import single_instance_client as client

    settings_dir = tmp_path / "settings"
    samples = make_samples(tmp_path / "files")
    name = server_name(settings_dir)
    client.take_startup_lock(name)  # this process is starting, not listening yet
    try:
        child = start_second("--settings-dir", str(settings_dir), str(samples["json"]))
        window = launch(qtbot, settings_dir)  # listens, then lets the waiting launch go
    finally:
        client.release_startup_lock()
    out = finish(qtbot, child)
    assert "widgets imported: False" in out  # it handed over instead of starting a window
    [document] = wait_documents(qtbot, window, 1)
    assert document.path == str(samples["json"])
    assert not Path(name + ".lock").exists()
