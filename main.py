"""Datashelf's entry point: parse the command line, build the window, wire it, restore, run.

``python main.py [FILE ...]`` opens the window with each FILE in its tab (or hands the files to
the Datashelf already running on the same settings folder, see gui/app/single_instance.py);
``python main.py inspect PATH [--json]`` runs headless on the storage layer (no Qt imported).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from storage import __version__

EXIT_WHEN_SHOWN = "DATASHELF_EXIT_WHEN_SHOWN"  # benchmarks and smoke tests: print and quit once shown
COLLECT_AFTER_SHOW_MS = 1000  # the cyclic garbage collector resumes this long after the window shows


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datashelf",
        description="Datashelf: look inside and edit the files Python programs leave behind.",
        epilog="Headless report: datashelf inspect PATH [--json]  (see: datashelf inspect --help)")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="files to open; each goes to the tab its content belongs to. A "
                             "database URL (postgresql+psycopg://user@host/db) opens in the SQLite tab")
    _add_settings_dir(parser)
    parser.add_argument("--new-window", action="store_true",
                        help="start a separate Datashelf even when one runs on the same settings "
                             "folder (by default the files go to the running window)")
    parser.add_argument("--install-desktop", action="store_true",
                        help="install the launcher, icon and file associations for this user "
                             "(Linux desktops) and exit")
    parser.add_argument("--uninstall-desktop", action="store_true",
                        help="remove what --install-desktop installed and exit")
    parser.add_argument("--version", action="version", version=f"Datashelf {__version__}")
    return parser


def _inspect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="datashelf inspect",
        description="Report what a file is and what is inside it, without a window and "
                    "without running anything the file contains. Exit status: 0 readable and "
                    "nothing dangerous, 1 a dangerous finding, 2 unreadable or unparsable, 3 a bug "
                    "in Datashelf (not a problem with the file).")
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--json", action="store_true",
                        help="print exactly one JSON object instead of a readable report")
    return parser


def _add_settings_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings-dir", metavar="DIR",
                        help="keep settings in DIR (default: $DATASHELF_SETTINGS_DIR, else the "
                             "platform's config folder)")


def run_inspect(argv: list[str]) -> int:
    args = _inspect_parser().parse_args(argv)
    from storage.inspect.report import run

    return run(args.path, as_json=args.json, out=sys.stdout)


def run_desktop_install(uninstall: bool) -> int:
    from gui.app.desktop_install import install_desktop, uninstall_desktop
    from storage.core.errors import KnownError

    script = Path(__file__).resolve()
    try:
        lines = (uninstall_desktop() if uninstall
                 else install_desktop(script, Path(sys.executable)))
    except KnownError as exc:
        print(f"datashelf: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


def _display_missing() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def hand_off(args: argparse.Namespace) -> int | None:
    """Give ``args.files`` to a Datashelf running on the same settings folder: the exit status
    when one runs, None when this process is to start the window itself.

    Runs before QApplication and the widget modules are imported: a second launch costs little.
    """
    if args.new_window:
        return None
    from gui.app.single_instance_client import (
        HandOff,
        hand_off,
        release_startup_lock,
        server_name,
        settings_folder,
        take_startup_lock,
    )

    name = server_name(settings_folder(args.settings_dir))
    take_startup_lock(name)  # held until this process listens (build), if it is the one to start
    outcome = hand_off(name, args.files)
    if outcome is HandOff.NOT_RUNNING:
        return None
    release_startup_lock()
    if outcome is HandOff.NO_ANSWER:
        print("datashelf: the running Datashelf did not answer; it may still open the files. "
              "Use --new-window to start a separate one.", file=sys.stderr)
        return 1
    return 0


def early_sniff(args: argparse.Namespace):
    """Start sniffing the command line's files on a thread, before Qt is imported (see
    gui/app/early_sniff.py); None when there are none or an argument is not an existing file."""
    if not args.files or not all(os.path.exists(f) for f in args.files):
        return None
    from gui.app.early_sniff import EarlySniff

    return EarlySniff(args.files)


def build(argv: list[str], args: argparse.Namespace | None = None, early=None):
    """Create the QApplication, settings and main window, wire them and restore the session.

    Returns ``(app, window)``; the caller shows the window and runs the event loop. Unless
    ``--new-window`` is given, the window also listens for files a later launch hands over.
    ``args`` are ``argv`` parsed already (main's), else they are parsed here; ``early`` is the
    sniff of the command line's files :func:`early_sniff` started, taken if it has finished by the
    time they are opened (their documents are then made before the window's first paint).
    """
    args = args if args is not None else _gui_parser().parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from gui.common import import_hook

    import_hook.lighten()  # before the window's modules: PySide looks at each one as it comes
    from gui.app.mainwindow import MainWindow
    from gui.app.session import restore
    from gui.common.resources import RESOURCES, app_icon
    from storage.settings.store import Settings

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("Datashelf")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("datashelf")
    app.setWindowIcon(app_icon())
    style = RESOURCES / "style.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))

    settings = Settings(args.settings_dir)
    from gui.app.single_instance import InstanceServer, serve
    from gui.app.single_instance_client import release_startup_lock

    # Listen before the window is built, so a launch meanwhile waits for it instead of starting
    # a second instance.
    server = None if args.new_window else InstanceServer.for_folder(settings.folder)
    release_startup_lock()  # taken in hand_off: launches waiting on it now find us listening
    window = MainWindow(settings)
    window.opener.early = early
    if server is not None:
        serve(window, server)
    from gui.connections.open_url import looks_like_url

    urls = [f for f in args.files if looks_like_url(f) and not os.path.exists(f)]
    restore(window, [f for f in args.files if f not in urls])
    for url in urls:  # a database server: python main.py postgresql+psycopg://user@host/db
        window.open_database_url(url)
    window.offer_restore()  # unsaved edits of a session that crashed, if any
    for notice in settings.take_notices():
        window.notices.show_message(notice, "warning")
    return app, window


def collect_from_now_on() -> None:
    """Startup is over: what it made (modules, classes, the window) lives as long as the process, so
    it is frozen out of the collector's walks (storage.core.gc_pause.thaw hands it back when a
    document closes), and the collector runs again."""
    gc.freeze()
    gc.enable()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["inspect"]:
        return run_inspect(argv[1:])
    # A launch makes a few hundred thousand objects that live as long as the process and next to
    # no garbage: collecting while it runs only walks them (10–30 ms before the first paint).
    gc.disable()
    try:
        return run_window(argv)
    finally:
        gc.enable()  # on every way out (a hand-off, --help, the window closed before a second)


def run_window(argv: list[str]) -> int:
    """``main.py [FILE ...]``: hand the files to the running window, or show our own."""
    args = _gui_parser().parse_args(argv)
    if args.install_desktop or args.uninstall_desktop:
        return run_desktop_install(args.uninstall_desktop)
    if _display_missing():
        print("datashelf: no display found (DISPLAY and WAYLAND_DISPLAY are unset). Start it "
              "from a desktop session, set QT_QPA_PLATFORM=offscreen, or use "
              "'python main.py inspect PATH' for a headless report.", file=sys.stderr)
        return 2
    early = early_sniff(args)  # overlaps the hand-off and Qt's start; unused if handed off
    status = hand_off(args)
    if status is not None:
        return status
    app, window = build(argv, args, early)
    window.show()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(COLLECT_AFTER_SHOW_MS, collect_from_now_on)
    if os.environ.get(EXIT_WHEN_SHOWN):
        def shown() -> None:
            print("DATASHELF_SHOWN", flush=True)
            window.close()

        QTimer.singleShot(0, shown)
    status = app.exec()
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(3000)  # let readers finish before Python exits
    return status


if __name__ == "__main__":
    sys.exit(main())
