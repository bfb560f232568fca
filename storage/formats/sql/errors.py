"""Errors of database servers, as messages a user can act on (no Qt).

Driver exceptions (psycopg's, or SQLAlchemy's wrappers of any DB-API driver) become
:class:`~storage.core.errors.KnownError` subclasses that say what happened and what to do: type the
password again, reconnect when the server is back, raise the statement timeout, ask for a GRANT.
"""

from __future__ import annotations

from storage.core.errors import KnownError, Location
from storage.formats.sql.sqlite_db import Interrupted, LockedError


class ConnectionLost(KnownError):
    """The server went away (stopped, restarted, network down); reconnecting may help."""


class ServerUnreachable(ConnectionLost):
    """No server answered at the URL's host and port."""


def worth_retrying(exc: BaseException) -> bool:
    """True when the same write may succeed later unchanged: the connection went away, or the
    SQLite file was locked by another program. A write the database refused (a constraint, a
    malformed value, no permission) would only be refused again."""
    return isinstance(exc, ConnectionLost | LockedError)


class WrongPassword(KnownError):
    """The server refused the user name or password: ask for the password again."""


class UnknownDatabase(KnownError):
    """The server runs, but has no database of that name."""


class DriverMissing(KnownError):
    """The URL names a driver that is not installed; ``package`` is what to pip install."""

    def __init__(self, message: str, package: str = "") -> None:
        super().__init__(message)
        self.package = package


class MalformedUrl(KnownError):
    """The text is not a database URL."""


class StatementTimeout(KnownError):
    """The server stopped a statement that ran longer than the statement timeout."""


class PermissionDenied(KnownError):
    """The user may not read or change this table."""


def _original(exc: BaseException) -> BaseException:
    """The driver's own exception inside SQLAlchemy's wrapper (``DBAPIError.orig``)."""
    return getattr(exc, "orig", None) or exc


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")


def _mysql_code(exc: BaseException) -> tuple[int | None, str]:
    """MySQL/MariaDB drivers (PyMySQL, mysqlclient) raise with ``args == (code, message)``."""
    args: tuple[object, ...] = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[0], args[1]
    return None, ""


# MySQL/MariaDB error codes, by what the user can do about them.
_MY_TIMEOUT = {1969, 3024}  # max_statement_time (MariaDB) / max_execution_time (MySQL) exceeded
_MY_INTERRUPTED = {1317}  # KILL QUERY: "Query execution was interrupted"
_MY_PASSWORD = {1045}
_MY_NO_DATABASE = {1049}
_MY_PERMISSION = {1044, 1142, 1143, 1227, 1370}
_MY_UNREACHABLE = {2002, 2003, 2005}
_MY_LOST = {2006, 2013, 2055, 1927, 1053}


def explain_server(exc: BaseException, label: str, table: str | None = None,
                   timeout: float | None = None) -> KnownError:
    """A driver or SQLAlchemy error of the server ``label`` as a :class:`KnownError`."""
    if isinstance(exc, KnownError):
        return exc
    orig = _original(exc)
    code, message = _mysql_code(orig)
    text = (message or str(orig)).strip() or type(orig).__name__
    first = text.splitlines()[0]
    low = text.lower()
    state = _sqlstate(orig)
    where = Location(table=table) if table else None
    if code in _MY_TIMEOUT:
        state = "57014"
        low += " timeout"
    elif code in _MY_INTERRUPTED:
        state = "57014"
    elif code in _MY_PASSWORD:
        state = "28P01"
    elif code in _MY_NO_DATABASE:
        state = "3D000"
    elif code in _MY_PERMISSION:
        state = "42501"
    elif code in _MY_UNREACHABLE:
        low += " connection refused"
    elif code in _MY_LOST:
        state = "08006"
    if state == "57014" or "canceling statement" in low:
        if "timeout" in low:
            limit = f"the {timeout:g} s " if timeout else "the "
            return StatementTimeout(
                f"The statement ran longer than {limit}statement timeout, so the server stopped it "
                "(nothing was changed). Raise the timeout next to Run, or narrow the query.", where)
        return Interrupted("Cancelled.")
    if "no password supplied" in low or "password is required" in low \
            or (state == "28P01" and "using password: no" in low):  # MariaDB/MySQL, none given
        return WrongPassword(f"{label}: the server asks for a password. Type it to connect.")
    if state == "28P01" or "password authentication failed" in low:
        return WrongPassword(f"{label}: the server refused the password ({first}). "
                             "Type the password again.")
    if state == "28000":
        return WrongPassword(f"{label}: the server refused this user ({first}).")
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return UnknownDatabase(f"{label}: {first}. Check the database name in the URL.")
    if state == "42501" or "permission denied" in low:
        name = f" table {table!r}" if table else ""
        return PermissionDenied(f"No permission to use{name}: {first}. Ask the database's owner "
                                "for access (GRANT).", where)
    if "connection refused" in low or "could not translate host" in low or "timeout expired" in low \
            or "no route to host" in low or "name or service not known" in low:
        return ServerUnreachable(f"Cannot reach the server of {label}: {first}. Is the server "
                                 "running, and are the host and port right?")
    lost = ("server closed the connection", "connection is closed", "terminating connection",
            "consuming input failed", "connection not open", "lost connection", "connection reset",
            "broken pipe", "the connection is lost", "server has gone away", "bad connection",
            "ssl syscall error", "connection to server")
    name = type(orig).__name__
    if any(word in low for word in lost) or state.startswith("08") or state in ("57P01", "57P02", "57P03") \
            or (name in ("OperationalError", "InterfaceError") and "connection" in low):
        return ConnectionLost(f"The connection to {label} was lost ({first}). Reconnect when the "
                              "server is back; nothing unconfirmed was written.", where)
    return KnownError(first if len(first) > 8 else text, where)
