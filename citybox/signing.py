"""The box's package signing key and the signed ``Release`` of its flat apt repository.

apt trusts the box's repository only through this key (``signed-by=``, never ``trusted=yes``):
``Release`` lists the ``Packages`` index with its size and hashes, ``InRelease`` is that file
clear-signed. The key is made once (ed25519, in its own GnuPG home under the cache) and kept;
the repository is signed again only when its index or the key changes. GnuPG's agent, started
by the signing, is stopped before returning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from email.utils import formatdate
from pathlib import Path

from citybox.run import run
from citysoc.core.errors import BoxError

log = logging.getLogger(__name__)

KEY_NAME = "citysoc city-in-a-box packages"
PUBLIC_KEY = "public.asc"


def _gpg(home: Path, *args: str | Path, stdin: str | None = None) -> str:
    argv: list[str | Path] = ["gpg", "--homedir", home, "--batch", "--no-tty", *args]
    return run(argv, stdin=stdin, timeout=120).stdout


def _stop_agent(home: Path) -> None:
    if shutil.which("gpgconf"):
        run(["gpgconf", "--homedir", home, "--kill", "all"], check=False, timeout=30)


def ensure_key(home: Path) -> str:
    """The box's signing key (made now if there is none); its ASCII-armored public half."""
    if shutil.which("gpg") is None:
        raise BoxError("gpg is missing: apt-get install gnupg (it signs the box's packages)")
    public = home / PUBLIC_KEY
    if public.is_file():
        return public.read_text(encoding="utf-8")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)
    try:
        _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-generate-key",
             KEY_NAME, "ed25519", "sign", "2y")  # fmt: skip
        armored = _gpg(home, "--armor", "--export", KEY_NAME)
    finally:
        _stop_agent(home)
    if "BEGIN PGP PUBLIC KEY BLOCK" not in armored:
        raise BoxError(f"gpg made no exportable key in {home}")
    public.write_text(armored, encoding="utf-8")
    log.info("made the box's package signing key in %s", home)
    return armored


def release_text(repo: Path, date: str | None = None) -> str:
    """``Release`` of the flat repository in ``repo``: its ``Packages`` with size and hashes."""
    index = (repo / "Packages").read_bytes()
    size = len(index)
    lines = [
        "Origin: citysoc",
        "Label: citysoc city-in-a-box",
        f"Date: {date or formatdate(usegmt=True)}",
        "MD5Sum:",
        f" {hashlib.md5(index).hexdigest()} {size} Packages",  # noqa: S324 - apt's own field
        "SHA256:",
        f" {hashlib.sha256(index).hexdigest()} {size} Packages",
        "SHA512:",
        f" {hashlib.sha512(index).hexdigest()} {size} Packages",
    ]
    return "\n".join(lines) + "\n"


def sign_repository(repo: Path, home: Path) -> bool:
    """Write ``Release`` and its clear-signed ``InRelease``; False when already signed as is."""
    public = ensure_key(home)
    wanted = {
        "packages": hashlib.sha256((repo / "Packages").read_bytes()).hexdigest(),
        "key": hashlib.sha256(public.encode()).hexdigest(),
    }
    stamp = repo / "signed.json"
    if (
        (repo / "InRelease").is_file()
        and stamp.is_file()
        and json.loads(stamp.read_text(encoding="utf-8")) == wanted
    ):
        return False
    (repo / "Release").write_text(release_text(repo), encoding="utf-8")
    (repo / "InRelease").unlink(missing_ok=True)
    try:
        _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--local-user", KEY_NAME,
             "--digest-algo", "SHA512", "--clearsign", "--output", repo / "InRelease",
             repo / "Release")  # fmt: skip
    finally:
        _stop_agent(home)
    stamp.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    log.info("signed the box's apt repository (%s)", repo / "InRelease")
    return True


def verify_repository(repo: Path, home: Path) -> None:
    """Check ``InRelease`` against the public key alone, as apt's gpgv does on a host."""
    keyring = home / "public.gpg"
    run(["gpg", "--homedir", home, "--batch", "--yes", "--dearmor", "--output", keyring,
         home / PUBLIC_KEY])  # fmt: skip
    done = run(["gpgv", "--homedir", home, "--keyring", keyring, repo / "InRelease"], check=False)
    if done.returncode != 0:
        raise BoxError(f"{repo / 'InRelease'} does not verify with the box's key: {done.stderr}")
