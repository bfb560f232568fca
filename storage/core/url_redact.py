"""Taking passwords out of database URLs: the one implementation every label, message and setting uses.

``redact(url)`` masks the password with ``***`` (titles, messages: the reader sees there is one);
``redact(url, mask=None)`` removes it (what is written to the settings file, and the key a
connection is known by). Query options that carry a secret (``?password=…``) are treated alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

# Query options that carry a secret; they never reach a label or the settings file either.
SECRET_OPTIONS = frozenset({"password", "passwd", "pwd", "sslpassword"})
MASK = "***"


def redact(url: str | sa.URL, mask: str | None = MASK) -> str:
    """``url`` with its password replaced by ``mask``, or removed when ``mask`` is None (never raises)."""
    import sqlalchemy as sa  # on first use: keeps the app's launch quick

    try:
        parsed = url if isinstance(url, sa.URL) else sa.make_url(str(url).strip())
    except Exception:  # not a URL SQLAlchemy reads: cut out what sits between user ':' and '@'
        return _rough(str(url), mask)
    secrets = [k for k in parsed.query if k.lower() in SECRET_OPTIONS]
    if mask is None:
        parsed = parsed._replace(password=None).difference_update_query(secrets)
        return parsed.render_as_string(hide_password=False)
    token = "REDACTEDSECRET"  # URL-safe, so the mask is put in after rendering, unescaped
    if parsed.password is not None:
        parsed = parsed._replace(password=token)
    if secrets:
        parsed = parsed.update_query_dict({k: token for k in secrets})
    return parsed.render_as_string(hide_password=False).replace(token, mask)


def _rough(url: str, mask: str | None) -> str:
    head, sep, rest = url.partition("//")
    if sep and "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        user = userinfo.split(":", 1)[0]
        hidden = f":{mask}" if mask is not None and ":" in userinfo else ""
        return f"{head}//{user}{hidden}@{host}"
    return url
