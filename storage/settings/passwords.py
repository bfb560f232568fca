"""Where connection passwords live: the system keyring when one works, else memory for the run.

The settings file never holds a password. With a usable keyring (macOS Keychain, Windows
Credential Locker, Secret Service…) a password the user chose to save is stored there; without
one (keyring's fail or null backend, a headless box) it is kept in memory only, so each is asked
once per run. Keyring failures (locked, D-Bus gone) fall back to memory instead of raising.
"""

from __future__ import annotations

import logging

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

SERVICE = "Datashelf database connections"
log = logging.getLogger(__name__)


def keyring_usable(backend: KeyringBackend | None = None) -> bool:
    """True when ``backend`` (default: keyring's choice) can really store a password."""
    from keyring.backends import chainer, fail, null

    backend = backend if backend is not None else keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(keyring_usable(b) for b in backend.backends)
    try:
        return float(backend.priority) > 0
    except Exception:  # a third-party backend whose priority check raises: not usable
        return False


class PasswordVault:
    """Passwords by key (``Connection.password_key()`` or a redacted URL).

    Memory is always consulted first, so a password typed once is not asked again this run.
    """

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._backend = backend
        self._memory: dict[str, str] = {}
        self._versions: dict[str, int] = {}  # bumped by each remember/forget of a key

    @property
    def backend(self) -> KeyringBackend:
        return self._backend if self._backend is not None else keyring.get_keyring()

    @property
    def has_keyring(self) -> bool:
        return keyring_usable(self.backend)

    def get(self, key: str) -> str | None:
        """The password for ``key`` from memory or the keyring, None when neither has one."""
        if key in self._memory:
            return self._memory[key]
        password = self.lookup(key)
        self.cache(key, password)
        return password

    def remember(self, key: str, password: str, *, persist: bool = False) -> bool:
        """Keep ``password`` for this run; also in the keyring when ``persist`` and one exists.

        Returns True when it went into the keyring.
        """
        self._memory[key] = password
        self._versions[key] = self.version(key) + 1
        return self.store(key, password) if persist else False

    def forget(self, key: str, *, keyring_too: bool = False) -> None:
        """Drop the remembered password (after a wrong password; or for good on delete)."""
        self._memory.pop(key, None)
        self._versions[key] = self.version(key) + 1
        if keyring_too:
            self.unstore(key)  # nothing stored, or the keyring is locked: nothing more to do

    # -- split in two for a GUI: memory on its thread, the (maybe slow) keyring in a worker --------
    def cached(self, key: str) -> str | None:
        """The password remembered this run; never touches the keyring."""
        return self._memory.get(key)

    def is_cached(self, key: str) -> bool:
        return key in self._memory

    def version(self, key: str) -> int:
        """Changes whenever ``key`` is remembered or forgotten: a keyring answer read before
        that is stale."""
        return self._versions.get(key, 0)

    def cache(self, key: str, password: str | None, version: int | None = None) -> bool:
        """Keep a password read from the keyring, unless one was typed or forgotten since
        ``version``; True when it was kept."""
        if password is None or key in self._memory:
            return False
        if version is not None and version != self.version(key):
            return False
        self._memory[key] = password
        return True

    def lookup(self, key: str) -> str | None:
        """The keyring's password for ``key`` (blocking: call it from a worker); memory untouched."""
        if not self.has_keyring:
            return None
        try:
            return self.backend.get_password(SERVICE, key)
        except (KeyringError, OSError, RuntimeError) as exc:
            log.warning("keyring read failed: %s", exc)
            return None

    def store(self, key: str, password: str) -> bool:
        """Write ``password`` to the keyring only (blocking); True when it went there."""
        if not self.has_keyring:
            return False
        try:
            self.backend.set_password(SERVICE, key, password)
        except (KeyringError, OSError, RuntimeError) as exc:
            log.warning("keyring write failed: %s", exc)
            return False
        return True

    def unstore(self, key: str) -> None:
        """Remove ``key`` from the keyring only (blocking); nothing stored is not an error."""
        if self.has_keyring:
            try:
                self.backend.delete_password(SERVICE, key)
            except (PasswordDeleteError, KeyringError, OSError, RuntimeError):
                pass
