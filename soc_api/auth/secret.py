"""The key that signs console cookies: configured, or made once per install and kept private.

With no ``CITYSOC_SECRET_KEY`` (development and the demo), a random key is generated on
first start into ``<data dir>/session-secret`` with owner-only permissions (0600) and read
from there afterwards, so every install signs with its own key and never with a public one.
A key file that others can read is refused.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from citysoc.core.errors import ConfigError
from citysoc.core.settings import PLACEHOLDER_SECRET, Settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "session-secret"
MIN_LENGTH = 32


def session_secret(settings: Settings) -> str:
    """The configured key, or this install's own generated key."""
    configured = settings.secret_key.get_secret_value()
    if configured != PLACEHOLDER_SECRET:
        return configured
    return install_secret(settings.data_dir / KEY_FILE_NAME)


def install_secret(path: Path) -> str:
    """Read the key at ``path``, creating it (0600, atomically) when there is none."""
    fresh = (secrets.token_urlsafe(48) + "\n").encode()
    if not path.exists() and create_private_file(path, fresh):
        log.info("generated this install's session key in %s (mode 0600)", path)
    refuse_open_file(path)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_LENGTH:
        raise ConfigError(f"{path} holds a key shorter than {MIN_LENGTH} characters")
    return key


def create_private_file(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new owner-only file at ``path``, whole or not at all.

    Returns False, keeping what is there, when another process made the file first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # fails if the file exists: never replaces a key
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def refuse_open_file(path: Path) -> None:
    """ConfigError unless only the owner may read and write ``path``."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is open to other users (mode {stat.S_IMODE(mode):04o}): run chmod 600 {path}"
        )
