"""Test setup: offscreen Qt, a private settings folder per test, no leftover worker threads."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

# Before anything imports Qt: render offscreen, never on the developer's screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DATASHELF_CORPUS") or ROOT.parent / "shared" / "corpus")  # a worktree elsewhere
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own settings and XDG folders: never the user's."""
    base = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DATASHELF_SETTINGS_DIR", str(base / "settings"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    return base / "settings"


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    """Fail a test that leaves a worker running (napari's conftest does the same)."""
    yield
    if "PySide6.QtCore" not in sys.modules:
        return
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    assert pool.waitForDone(10_000), "a test left a worker thread running"


UNANSWERED_DIALOG_S = 30  # far longer than any scripted answer takes, far shorter than a CI run


@pytest.fixture(autouse=True)
def _no_unanswered_dialogs(request: pytest.FixtureRequest):
    """A modal dialog that stays open unanswered fails its test and is closed, instead of
    hanging the whole run in its event loop (scripted answers come within milliseconds).

    A timer looks at the active modal widget once a second, so the static helpers
    (``QMessageBox.question``, ``QFileDialog.getSaveFileName``) are covered as well as ``exec``.
    It keeps running through qtbot's teardown, where closing windows may ask about edits.
    """
    if "qtbot" not in request.fixturenames:
        yield
        return
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

    request.getfixturevalue("qapp")
    seen: dict[int, float] = {}
    unanswered: list[str] = []

    def sweep() -> None:
        widget = QApplication.activeModalWidget()
        if widget is None:
            seen.clear()
            return
        first = seen.setdefault(id(widget), time.monotonic())
        if time.monotonic() - first < UNANSWERED_DIALOG_S:
            return
        text = widget.text() if isinstance(widget, QMessageBox) else ""
        unanswered.append(f"{type(widget).__name__} {widget.objectName() or ''} "
                          f"'{widget.windowTitle()}': {text}")
        seen.pop(id(widget), None)
        if isinstance(widget, QDialog):
            widget.done(0)
        else:
            widget.close()

    timer = QTimer()
    timer.timeout.connect(sweep)
    timer.start(1000)
    yield
    timer.stop()
    timer.deleteLater()
    if unanswered:
        pytest.fail("a modal dialog was left unanswered (closed after "
                    f"{UNANSWERED_DIALOG_S} s): " + "; ".join(unanswered))


class _ModelTesters:
    """pytest-qt's ``qtmodeltester`` with one tester per model checked.

    pytest-qt's single tester follows only the model checked last, yet stays connected to the
    earlier ones: a late insert of the first model (a lazy tree still fetching) is then judged
    against the second model's rows, a failure that depends only on timing.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.testers: list = []

    def check(self, model, force_py: bool = False) -> None:
        from pytestqt.modeltest import ModelTester

        tester = ModelTester(self.config)
        self.testers.append(tester)
        tester.check(model, force_py=force_py)

    def _cleanup(self) -> None:
        while self.testers:
            self.testers.pop()._cleanup()


@pytest.fixture
def qtmodeltester(request: pytest.FixtureRequest):
    testers = _ModelTesters(request.config)
    yield testers
    testers._cleanup()


def corpus_dir(*parts: str) -> Path:
    """A folder of ../shared/corpus, or skip the test with the reason."""
    folder = CORPUS.joinpath(*parts)
    if not folder.is_dir():
        pytest.skip(f"test corpus {folder} is absent (it lives in ../shared/corpus beside the repo)")
    return folder


# --- PostgreSQL: a real server for the SQL tests (see tests/support/pg_server.py) -----------------------

def _pg_unavailable(reason: str) -> None:
    """Skip with the reason; under CI a missing server is a failure, never a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs a PostgreSQL server and has none: {reason}")
    pytest.skip(f"no PostgreSQL server: {reason}")


def _throwaway_server(server, unavailable, missing: str, prefix: str):
    """Yield the URL of a running server of the ``server`` module (tests.support.pg_server or
    tests.support.mariadb_server): the one its environment variable names (set by .ci/run), or one started
    here from the installed binaries and stopped afterwards."""
    given = os.environ.get(server.ENV_URL)
    if given:
        yield given
        return
    if server.find_bin() is None:
        unavailable(missing)
    import shutil
    import tempfile

    # Not pytest's tmp_path: that is private to this user, and PostgreSQL runs as 'postgres'
    # when the tests run as root.
    folder = tempfile.mkdtemp(prefix=prefix)
    try:
        url = server.start(folder)
    except Exception as exc:
        server.stop(folder)
        detail = getattr(exc, "stderr", b"") or b""
        unavailable(f"{exc} {detail.decode(errors='replace') if isinstance(detail, bytes) else detail}")
    try:
        yield url
    finally:
        server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url():
    """The URL of a running PostgreSQL server: $DATASHELF_PG_URL, or a throwaway one."""
    from tests.support import pg_server

    yield from _throwaway_server(pg_server, _pg_unavailable,
                                 "initdb/pg_ctl not found (install the 'postgresql' system package)",
                                 "datashelf-pg-")


@pytest.fixture
def pg_url(pg_server_url: str):
    """A fresh, empty PostgreSQL database for one test (dropped afterwards); its SQLAlchemy URL."""
    import uuid

    import sqlalchemy as sa

    try:
        import psycopg  # noqa: F401
    except ImportError:
        _pg_unavailable("the psycopg driver is not installed (pip install 'psycopg[binary]')")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    base = sa.engine.make_url(pg_server_url)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# --- MariaDB: a real server for the SQL tests of other dialects (see tests/support/mariadb_server.py) ---

def _mariadb_unavailable(reason: str) -> None:
    """Skip with the reason; under CI a missing server is a failure, never a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs a MariaDB server and has none: {reason}")
    pytest.skip(f"no MariaDB server: {reason}")


@pytest.fixture(scope="session")
def mariadb_server_url():
    """The URL of a running MariaDB server: $DATASHELF_MARIADB_URL, or a throwaway one."""
    from tests.support import mariadb_server

    yield from _throwaway_server(mariadb_server, _mariadb_unavailable,
                                 "mariadbd/mariadb-install-db not found (install the 'mariadb-server' "
                                 "system package)", "datashelf-maria-")


@pytest.fixture
def mariadb_url(mariadb_server_url: str):
    """A fresh, empty MariaDB database for one test (dropped afterwards); its SQLAlchemy URL."""
    import uuid

    import sqlalchemy as sa

    try:
        import pymysql  # noqa: F401
    except ImportError:
        _mariadb_unavailable("the pymysql driver is not installed (pip install pymysql)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(mariadb_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
    base = sa.engine.make_url(mariadb_server_url)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            # Sessions a test left open would block the drop: end them first.
            ids = conn.exec_driver_sql(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                (name,)).scalars().all()
            for ident in ids:
                with contextlib.suppress(sa.exc.DBAPIError):
                    conn.exec_driver_sql(f"KILL {int(ident)}")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request) -> str:
    """A fresh database on each real server dialect the tests cover (PostgreSQL, MariaDB)."""
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url")
