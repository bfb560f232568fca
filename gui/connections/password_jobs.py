"""Keyring work off the GUI thread: a locked or slow keyring must never freeze the window.

The vault's memory is read and written on the GUI thread at once; reading, writing and deleting
in the system keyring (D-Bus, a Keychain prompt, a locked collection) run in workers, and their
answers arrive through callbacks. A keyring that raises reads as "no password stored".
"""

from __future__ import annotations

from collections.abc import Callable

from gui.common.workers import run_in_worker
from storage.settings.passwords import PasswordVault


def fetch_password(vault: PasswordVault, key: str, on_done: Callable[[str | None], None]) -> None:
    """Call ``on_done`` with ``key``'s password: now from memory, or when the keyring answers."""
    if vault.is_cached(key):
        on_done(vault.cached(key))
        return

    version = vault.version(key)

    def answered(password: str | None) -> None:
        # Typed, saved or forgotten while the keyring was busy: what happened since wins.
        if version == vault.version(key):
            vault.cache(key, password)
            on_done(password)
        else:
            on_done(vault.cached(key))

    run_in_worker(vault.lookup, key, on_result=answered, on_error=lambda _exc: on_done(None))


def keep_password(vault: PasswordVault, key: str, password: str, *, persist: bool) -> None:
    """Remember ``password`` for the run now, and write it to the keyring in a worker if asked."""
    vault.remember(key, password)
    if persist:
        run_in_worker(vault.store, key, password)


def drop_password(vault: PasswordVault, key: str, *, keyring_too: bool) -> None:
    """Forget ``key`` for the run now; remove it from the keyring in a worker if asked."""
    vault.forget(key)
    if keyring_too:
        run_in_worker(vault.unstore, key)


def check_keyring(vault: PasswordVault, on_done: Callable[[bool], None]) -> None:
    """Whether a usable keyring exists (finding the backend may itself be slow)."""
    run_in_worker(lambda: vault.has_keyring, on_result=on_done, on_error=lambda _exc: on_done(False))
