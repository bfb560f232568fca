"""Saved connections and passwords without Qt: nothing secret ever reaches the settings file."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from storage.core.url_redact import redact
from storage.settings.connections import (
    Connection,
    ConnectionSpecError,
    ConnectionStore,
    from_url,
    split_password,
)
from storage.settings.passwords import SERVICE, PasswordVault, keyring_usable
from storage.settings.store import Settings
from tests.support.connect_helpers import MemoryKeyring

SECRET = "s3cr3t-Pässword"


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def _settings_bytes(settings: Settings) -> bytes:
    assert settings.save()
    return settings.path.read_bytes()


def test_a_password_typed_into_the_url_never_reaches_the_settings_file(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    store = ConnectionStore(settings)
    url = f"postgresql+psycopg://alice:{SECRET}@db.example:5433/records?sslmode=require"
    connection, password = from_url(url, name="Records")
    assert password == SECRET
    assert connection.kind == "postgresql" and connection.host == "db.example"
    assert connection.port == 5433 and connection.user == "alice"
    assert connection.options == {"sslmode": "require"}
    assert connection.needs_password
    store.save(connection)
    # A free-form URL with the password inside, and a password passed as a query option.
    store.save(Connection(name="Other", kind="url", url=f"mysql+pymysql://bob:{SECRET}@h/db"))
    store.save(Connection(name="Opt", kind="postgresql",
                          options={"password": SECRET, "application_name": "x"}))
    store.add_recent(f"postgresql+psycopg://carol:{SECRET}@h/db", "Recent")
    data = _settings_bytes(settings)
    assert SECRET.encode() not in data
    assert SECRET.encode("utf-8") not in data and "Pässword".encode() not in data
    assert b"s3cr3t" not in data
    again = ConnectionStore(Settings(tmp_path))
    assert [c.name for c in again.all()] == ["Records", "Other", "Opt"]
    assert again.find("Records").to_url() == (
        "postgresql+psycopg://alice@db.example:5433/records?sslmode=require")
    assert again.find("Other").to_url() == "mysql+pymysql://bob@h/db"
    assert again.find("Opt").to_url() == "postgresql+psycopg://localhost:5432?application_name=x"


def test_split_password_and_redact() -> None:
    assert split_password("postgresql://u:p%40ss@h/d") == ("postgresql://u@h/d", "p@ss")
    assert split_password("postgresql://h/d?password=x&a=b") == ("postgresql://h/d?a=b", "x")
    assert redact("postgresql://u:pw@h/d", mask=None) == "postgresql://u@h/d"
    assert redact("postgresql://u:pw@h/d") == "postgresql://u:***@h/d"
    assert redact("postgresql://h/d?a=b&password=x") == "postgresql://h/d?a=b&password=***"
    assert redact("postgresql://h/d?a=b&password=x", mask=None) == "postgresql://h/d?a=b"
    assert "pw" not in redact("not a url://u:pw@h", mask=None)
    assert redact("not a url://u:pw@h") == "not a url://u:***@h"
    with pytest.raises(ConnectionSpecError, match="not a database URL"):
        split_password("just words")


def test_sqlite_urls_become_file_connections(tmp_path: Path) -> None:
    connection, password = from_url(f"sqlite:///{tmp_path / 'a.db'}")
    assert connection.kind == "sqlite" and connection.path == str(tmp_path / "a.db")
    assert password is None
    assert connection.describe() == str(tmp_path / "a.db")


def test_new_duplicate_rename_delete(tmp_path: Path) -> None:
    store = ConnectionStore(Settings(tmp_path))
    first = store.save(Connection(name="Prod", database="app"))
    copy = store.duplicate(first.id)
    assert copy.name == "Prod (copy)" and copy.id != first.id and copy.database == "app"
    assert store.duplicate(first.id).name == "Prod (copy) 2"
    with pytest.raises(ConnectionSpecError, match="already a connection named 'Prod'"):
        store.rename(copy.id, "Prod")
    with pytest.raises(ConnectionSpecError, match="needs a name"):
        store.rename(copy.id, "  ")
    store.rename(copy.id, "Staging")
    store.delete(first.id)
    assert [c.name for c in store.all()] == ["Staging", "Prod (copy) 2"]


def test_damaged_entries_are_skipped_not_fatal(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    settings["connections.saved"] = [
        "junk", {"name": 3}, {"name": "ok", "port": "x", "kind": "weird", "options": []}]
    [connection] = ConnectionStore(settings).all()
    assert connection.name == "ok" and connection.port is None and connection.kind == "url"


def test_keyring_detection() -> None:
    assert not keyring_usable(fail.Keyring())
    assert not keyring_usable(null.Keyring())
    assert keyring_usable(MemoryKeyring())


def test_vault_with_a_keyring_stores_only_what_the_user_asked(memory_keyring) -> None:
    vault = PasswordVault()
    assert vault.has_keyring
    assert not vault.remember("connection:a", "pa", persist=False)
    assert memory_keyring.items == {}
    assert vault.remember("connection:b", "pb", persist=True)
    assert memory_keyring.items == {(SERVICE, "connection:b"): "pb"}
    # A new run (a fresh vault) finds the saved one, not the other.
    fresh = PasswordVault()
    assert fresh.get("connection:b") == "pb"
    assert fresh.get("connection:a") is None
    fresh.forget("connection:b", keyring_too=True)
    assert memory_keyring.items == {}
    fresh.forget("connection:b", keyring_too=True)  # twice: no error


def test_vault_without_a_keyring_remembers_for_the_run(no_keyring) -> None:
    vault = PasswordVault()
    assert not vault.has_keyring
    assert vault.get("connection:a") is None
    assert not vault.remember("connection:a", "pa", persist=True)
    assert vault.get("connection:a") == "pa"
    assert PasswordVault().get("connection:a") is None  # the next run asks again
    vault.forget("connection:a", keyring_too=True)
    assert vault.get("connection:a") is None


def test_a_broken_keyring_falls_back_to_memory() -> None:
    class Broken(MemoryKeyring):
        def get_password(self, service, username):
            from keyring.errors import KeyringLocked

            raise KeyringLocked("locked")

        def set_password(self, service, username, password):
            self.get_password(service, username)

    vault = PasswordVault(Broken())
    assert not vault.remember("k", "pw", persist=True)
    assert vault.get("k") == "pw"
    assert PasswordVault(Broken()).get("k") is None
