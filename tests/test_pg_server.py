"""The PostgreSQL test server itself: reachable with its password, refusing a wrong one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def test_fresh_database_is_empty_and_writable(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id serial PRIMARY KEY, name text)")
            conn.exec_driver_sql("INSERT INTO t (name) VALUES ('a'), ('b')")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
            tables = sa.inspect(conn).get_table_names()
        assert tables == ["t"]  # a fresh database per test: nothing left by another test
    finally:
        engine.dispose()


def test_wrong_password_is_refused(pg_url: str) -> None:
    bad = sa.engine.make_url(pg_url).set(password="not-the-password")
    engine = sa.create_engine(bad)
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        engine.connect()
    engine.dispose()
