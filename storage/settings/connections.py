"""Saved database connections: what the connection dialog remembers, never a password.

A :class:`Connection` is a SQLite file, a PostgreSQL, MySQL or MariaDB server (host, port, database, user,
options) or any SQLAlchemy URL. The list lives in the settings file under
``connections.saved``; every way a password could reach it (typed into the URL, an option
named ``password``) is stripped on the way in. Passwords go to :class:`PasswordVault`: the
system keyring when a usable one exists, otherwise memory for the rest of the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from storage.core.errors import KnownError
from storage.core.url_redact import SECRET_OPTIONS, redact
from storage.settings.store import Settings

KINDS = ("sqlite", "postgresql", "mysql", "url")  # SQLite file, server fields, free-form URL
DEFAULT_DRIVER = "postgresql+psycopg"
DEFAULT_PORT = 5432
# The server kinds with host/port/database/user fields: their drivers (the first is the one we
# ship) and default port. "mysql" covers MariaDB too (same protocol, same drivers).
SERVER_DRIVERS = {"postgresql": ("postgresql+psycopg", "postgresql+psycopg2", "postgresql+pg8000"),
                  "mysql": ("mysql+pymysql", "mariadb+pymysql", "mysql+mysqldb", "mariadb+mysqldb")}
SERVER_PORTS = {"postgresql": 5432, "mysql": 3306}
# The option that asks for an encrypted connection, per server kind (without a CA file PyMySQL
# encrypts without checking the certificate; ssl_ca=FILE checks it).
SSL_OPTIONS = {"postgresql": ("sslmode", "require"), "mysql": ("ssl_check_hostname", "false")}


def server_kind(backend: str) -> str | None:
    """The connection kind of a SQLAlchemy backend name, when it has fields of its own."""
    return {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}.get(backend)


def wants_ssl(kind: str, options: dict[str, str]) -> bool:
    """Whether the options ask for an encrypted connection."""
    if kind == "postgresql":
        return options.get("sslmode", "") in ("require", "verify-ca", "verify-full")
    return kind == "mysql" and any(k.startswith("ssl_") for k in options)
MAX_RECENT = 10


class ConnectionSpecError(KnownError):
    """A connection's details cannot make a URL (a malformed URL, a name already used)."""


def split_password(url: str) -> tuple[str, str | None]:
    """``url`` without its password (also in the query), and the password that was in it.

    Raises :class:`ConnectionSpecError` for text that is not a SQLAlchemy URL.
    """
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError) as exc:
        raise ConnectionSpecError(
            f"'{redact(url, mask=None)}' is not a database URL ({exc}). It looks like "
            "dialect+driver://user@host:port/database, for example "
            "postgresql+psycopg://me@localhost/records.") from None
    password = parsed.password
    secrets = {k: v for k, v in parsed.query.items() if k.lower() in SECRET_OPTIONS}
    if password is None and secrets:
        first = next(iter(secrets.values()))
        password = first if isinstance(first, str) else first[0]
    return redact(parsed, mask=None), password


@dataclass
class Connection:
    """One saved connection. ``url`` is used by kind "url", ``path`` by kind "sqlite"."""

    name: str
    kind: str = "postgresql"
    driver: str = DEFAULT_DRIVER
    host: str = "localhost"
    port: int | None = DEFAULT_PORT
    database: str = ""
    user: str = ""
    options: dict[str, str] = field(default_factory=dict)
    url: str = ""
    path: str = ""
    save_password: bool = False  # keep it in the keyring (when there is one)
    needs_password: bool = False  # a password was given: ask for it when none is stored
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    # -- URLs ------------------------------------------------------------------------------
    def to_url(self) -> str:
        """The SQLAlchemy URL without a password ('' for a SQLite file without a path)."""
        if self.kind == "sqlite":
            return f"sqlite:///{os.path.abspath(self.path)}" if self.path else ""
        if self.kind == "url":
            return split_password(self.url)[0] if self.url.strip() else ""
        options = {k: v for k, v in self.options.items() if k.lower() not in SECRET_OPTIONS}
        return URL.create(self.driver or DEFAULT_DRIVER, username=self.user or None,
                          host=self.host or None, port=self.port, database=self.database or None,
                          query=options).render_as_string(hide_password=False)

    def describe(self) -> str:
        """What the list shows under the name: the file or the URL."""
        return self.path if self.kind == "sqlite" else self.to_url()

    def password_key(self) -> str:
        return f"connection:{self.id}"

    # -- settings ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"] = {k: v for k, v in self.options.items()
                           if k.lower() not in SECRET_OPTIONS}
        if self.url.strip():
            data["url"] = redact(self.url, mask=None)  # a password typed into the URL never leaves memory
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Connection | None:
        """A connection from the settings, or None when the entry is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return None
        known = {f.name: f for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("kind") not in KINDS:
            values["kind"] = "url"
        port = values.get("port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
            values["port"] = None
        if not isinstance(values.get("options", {}), dict):
            values["options"] = {}
        for name in ("driver", "host", "database", "user", "url", "path", "id"):
            if name in values and not isinstance(values[name], str):
                del values[name]
        return cls(**values)


def from_url(url: str, name: str = "") -> tuple[Connection, str | None]:
    """A connection for a URL typed by the user, and the password it held (if any).

    PostgreSQL, MySQL and MariaDB URLs fill the host/port/database/user fields; SQLite URLs of a file become a
    SQLite connection; anything else stays a free-form URL.
    """
    clean, password = split_password(url)
    parsed = make_url(clean)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Connection(name=name, kind="sqlite", path=parsed.database), password
    kind = server_kind(parsed.get_backend_name())
    if kind is not None:
        options = {k: (v if isinstance(v, str) else ",".join(v)) for k, v in parsed.query.items()}
        return Connection(
            name=name, kind=kind, driver=parsed.drivername, host=parsed.host or "",
            port=parsed.port, database=parsed.database or "", user=parsed.username or "",
            options=options, needs_password=bool(password)), password
    return Connection(name=name, kind="url", url=clean, needs_password=bool(password)), password


class ConnectionStore:
    """The saved connections and recent connections, kept in the settings."""

    KEY = "connections.saved"
    RECENT = "connections.recent"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def all(self) -> list[Connection]:
        return [c for c in map(Connection.from_dict, self.settings[self.KEY]) if c is not None]

    def get(self, connection_id: str) -> Connection | None:
        return next((c for c in self.all() if c.id == connection_id), None)

    def find(self, name: str) -> Connection | None:
        return next((c for c in self.all() if c.name == name), None)

    def save(self, connection: Connection) -> Connection:
        """Add or replace (by id); the name must not be used by another connection."""
        name = connection.name.strip()
        if not name:
            raise ConnectionSpecError("A saved connection needs a name.")
        others = [c for c in self.all() if c.id != connection.id]
        if any(c.name == name for c in others):
            raise ConnectionSpecError(f"There is already a connection named '{name}'.")
        connection = replace(connection, name=name)
        entries = [c.to_dict() for c in self.all()]
        index = next((i for i, e in enumerate(entries) if e["id"] == connection.id), None)
        if index is None:
            entries.append(connection.to_dict())
        else:
            entries[index] = connection.to_dict()
        self.settings[self.KEY] = entries
        return connection

    def delete(self, connection_id: str) -> None:
        self.settings[self.KEY] = [c.to_dict() for c in self.all() if c.id != connection_id]

    def rename(self, connection_id: str, name: str) -> Connection:
        connection = self.get(connection_id)
        if connection is None:
            raise ConnectionSpecError("That connection is no longer saved.")
        return self.save(replace(connection, name=name))

    def duplicate(self, connection_id: str) -> Connection:
        """A copy named 'NAME (copy)', saved right after it (its password is not copied)."""
        original = self.get(connection_id)
        if original is None:
            raise ConnectionSpecError("That connection is no longer saved.")
        copy = replace(original, name=self.unique_name(f"{original.name} (copy)"),
                       id=uuid.uuid4().hex, save_password=False)
        return self.save(copy)

    def unique_name(self, base: str) -> str:
        return unique((c.name for c in self.all()), base)

    # -- recent connections: {name, url} without passwords -------------------------------------
    def add_recent(self, url: str, name: str = "") -> None:
        entry = {"name": name, "url": redact(url, mask=None)}
        recent = [entry, *(e for e in self.recent() if e["url"] != entry["url"])]
        self.settings[self.RECENT] = recent[:MAX_RECENT]

    def recent(self) -> list[dict[str, str]]:
        return [e for e in self.settings[self.RECENT] if isinstance(e, dict)
                and isinstance(e.get("url"), str) and isinstance(e.get("name", ""), str)]


def unique(names: Iterable[str], base: str) -> str:
    """``base``, or ``base 2``, ``base 3``… whichever is not among ``names``."""
    taken = set(names)
    if base not in taken:
        return base
    number = 2
    while f"{base} {number}" in taken:
        number += 1
    return f"{base} {number}"
