"""The SQL tab on PostgreSQL against raw psycopg keyset queries, on a generated 10M-row table.

The server is ``$DATASHELF_PG_URL`` when set; otherwise a cluster kept in
``$DATASHELF_BENCH_PG`` (default /tmp/datashelf-bench-pg) is started from the installed binaries
(tests/support/pg_server.py) and stopped at exit; its data stays, so the table is generated once
(``INSERT … SELECT generate_series``). Without a server the cases say why and do not run. With
``--quick`` (2 repeats) the table has 1M rows instead of 10M.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import socket
import time
from pathlib import Path

from .harness import NotAvailable, Result, benchmark, interleave

ROOT = Path(__file__).resolve().parent.parent
FOLDER = Path(os.environ.get("DATASHELF_BENCH_PG", "/tmp/datashelf-bench-pg"))
PAGE = 256
COLUMNS = ("id", "k", "name", "x", "tag")
_SERVER: dict[str, str] = {}


def rows_for(repeats: int) -> int:
    return 1_000_000 if repeats <= 2 else 10_000_000


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def server_url() -> str:
    """The URL of a server to measure on (started once per run), or NotAvailable with the reason."""
    if "url" in _SERVER:
        return _SERVER["url"]
    given = os.environ.get("DATASHELF_PG_URL")
    if given:
        _SERVER["url"] = given
        return given
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise NotAvailable("no PostgreSQL driver: pip install 'psycopg[binary]'") from None
    from tests.support import pg_server

    if pg_server.find_bin() is None:
        raise NotAvailable("no PostgreSQL server: set DATASHELF_PG_URL or install the 'postgresql' "
                           "package (initdb, pg_ctl)")
    folder = str(FOLDER)
    port_file = FOLDER / "port"
    try:
        if (FOLDER / "data" / "PG_VERSION").exists() and port_file.exists():
            port = int(port_file.read_text())
            if _listening(port):  # another run's server: use it, leave it running
                _SERVER["url"] = pg_server.url(port)
                return _SERVER["url"]
            url = pg_server.restart(folder)
        else:
            url = pg_server.start(folder)
    except Exception as exc:  # a server that cannot start: the cases say so
        raise NotAvailable(f"could not start PostgreSQL in {folder}: {exc}") from None
    atexit.register(pg_server.stop, folder)  # ours: stopped at exit, its data kept
    _SERVER["url"] = url
    return url


def table(rows: int) -> tuple[str, str]:
    """(url, table name) of t_<rows>(id bigint PRIMARY KEY, k, name, x, tag), generated once."""
    from storage.core.errors import KnownError
    from storage.formats.sql.url import open_database_url, redact

    url = server_url()
    name = f"bench_{rows}"
    try:
        db = open_database_url(url)
    except KnownError as exc:  # DATASHELF_PG_URL names a server that does not answer
        raise NotAvailable(f"no PostgreSQL server at {redact(url)}: {exc}") from None
    db.statement_timeout = 0
    try:
        exists = db.write(lambda c: c.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])
        if not exists:
            scratch = f"{name}_building"

            def build(conn) -> None:
                conn.execute(f"DROP TABLE IF EXISTS {scratch}")
                conn.execute(f"CREATE UNLOGGED TABLE {scratch} (id bigint, k integer, name text, "
                             "x double precision, tag text)")
                conn.execute(f"INSERT INTO {scratch} SELECT g, (g::bigint * 7919) % 100000, 'name ' || g, "
                             f"random() * 1e6, md5(g::text) FROM generate_series(1, {rows}) g")
                conn.execute(f"ALTER TABLE {scratch} ADD PRIMARY KEY (id)")
                conn.execute(f"ALTER TABLE {scratch} RENAME TO {name}")

            db.write(build)
            db.write(lambda c: c.execute(f"ANALYZE {name}"))
    finally:
        db.close()
    return url, name


def _setup(repeats: int):
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import QuerySpec
    from storage.formats.sql.url import open_database_url

    rows = rows_for(repeats)
    url, name = table(rows)
    db = open_database_url(url)
    reader = db.reader()
    raw = db.connect()  # a plain psycopg connection, autocommit, same server
    spec = QuerySpec(name, COLUMNS, ("id",), schema="public", not_null=("id",),
                     types=("bigint", "integer", "text", "double precision", "text"))
    return rows, name, db, reader, raw, lambda: Pager(spec, PAGE, db.dialect)


@benchmark("postgres first page: our layer vs raw psycopg keyset query", target="≤ 1.5×")
def first_page(repeats: int) -> Result:
    rows, name, db, reader, raw, pager = _setup(repeats)
    sql = f"SELECT id, k, name, x, tag FROM {name} ORDER BY id LIMIT %s"

    def ours() -> float:
        start = time.perf_counter()
        page = reader.run(lambda conn: pager().fetch(conn, 0))
        elapsed = time.perf_counter() - start
        assert page.values[0][0] == 1 and len(page.values) == PAGE
        return elapsed

    def baseline() -> float:
        start = time.perf_counter()
        got = raw.execute(sql, (PAGE,)).fetchall()
        elapsed = time.perf_counter() - start
        assert got[0][0] == 1
        return elapsed

    try:
        result = Result(*interleave(ours, baseline, max(repeats, 30), warmup=5),
                        note=f"{rows:,} rows{' (--quick)' if rows < 10_000_000 else ''}")
    finally:
        reader.close()
        raw.close()
        db.close()
    return result


@benchmark("postgres jump to the last page vs raw psycopg keyset query", target="≤ 3×")
def last_page(repeats: int) -> Result:
    rows, name, db, reader, raw, pager = _setup(repeats)
    last = (rows - 1) // PAGE
    anchor = last * PAGE  # ids are 1..rows
    sql = f"SELECT id, k, name, x, tag FROM {name} WHERE id > %s ORDER BY id LIMIT %s"

    def ours() -> float:
        fresh = pager()
        fresh.total = rows  # the exact count has arrived (it runs in the background)
        start = time.perf_counter()
        page = reader.run(lambda conn: fresh.fetch(conn, last))
        elapsed = time.perf_counter() - start
        assert page.values[-1][0] == rows
        return elapsed

    def baseline() -> float:
        start = time.perf_counter()
        got = raw.execute(sql, (anchor, PAGE)).fetchall()
        elapsed = time.perf_counter() - start
        assert got[-1][0] == rows
        return elapsed

    try:
        result = Result(*interleave(ours, baseline, max(repeats, 30), warmup=5),
                        note=f"{rows:,} rows{' (--quick)' if rows < 10_000_000 else ''}; ours reads "
                             "the reversed ORDER BY, no OFFSET")
    finally:
        reader.close()
        raw.close()
        db.close()
    return result


@benchmark("postgres first page sorted by a text column without index vs raw query", target="≤ 1.3×")
def sorted_text_page(repeats: int) -> Result:
    """Issue 19 item 11: the grid cuts long text for display; cutting before the sort and LIMIT
    cost 4× on the server (every row's CASE … length() … substr()). Ours cuts only the page."""
    from storage.formats.sql.pager import Pager
    from storage.formats.sql.query import SortKey

    rows, name, db, reader, raw, pager = _setup(repeats)
    spec = pager().query.spec
    sorted_spec = dataclasses.replace(spec, sort=(SortKey("tag"),))
    sql = f"SELECT id, k, name, x, tag FROM {name} ORDER BY tag, id LIMIT %s"

    def ours() -> float:
        start = time.perf_counter()
        page = reader.run(lambda conn: Pager(sorted_spec, PAGE, db.dialect).fetch(conn, 0))
        elapsed = time.perf_counter() - start
        assert len(page.values) == PAGE
        return elapsed

    def baseline() -> float:
        start = time.perf_counter()
        got = raw.execute(sql, (PAGE,)).fetchall()
        elapsed = time.perf_counter() - start
        assert len(got) == PAGE
        return elapsed

    try:
        result = Result(*interleave(ours, baseline, max(repeats, 5), warmup=1),
                        note=f"{rows:,} rows{' (--quick)' if rows < 10_000_000 else ''}; full scan "
                             "and top-N sort by tag (md5 text) on both sides")
    finally:
        reader.close()
        raw.close()
        db.close()
    return result
