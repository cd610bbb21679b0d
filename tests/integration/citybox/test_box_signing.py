"""The box's package signing with real GnuPG: a key made once and kept, InRelease that gpgv
accepts with the public key alone and refuses once altered, no agent left running."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from citybox.signing import PUBLIC_KEY, ensure_key, sign_repository, verify_repository
from citysoc.core.errors import BoxError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("gpg") is None or shutil.which("gpgv") is None, reason="needs gpg and gpgv"
    ),
]


def _agents_of(home: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"gpg-agent") and str(home).encode() in b" ".join(argv):
            found.append(int(proc.name))
    return found


def test_the_repository_is_signed_once_and_verifies_with_the_public_key_only(
    tmp_path: Path,
) -> None:
    home = tmp_path / "gnupg"
    repo = tmp_path / "apt"
    repo.mkdir()
    (repo / "Packages").write_text("Package: chrony\nVersion: 4.3-2+deb12u1\n\n")
    public = ensure_key(home)
    assert public.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert ensure_key(home) == public  # kept, not made again
    assert oct(os.stat(home).st_mode & 0o777) == "0o700"

    assert sign_repository(repo, home) is True
    assert sign_repository(repo, home) is False  # nothing changed: not signed again
    signed = (repo / "InRelease").read_text()
    assert "-----BEGIN PGP SIGNED MESSAGE-----" in signed
    assert (repo / "Release").read_text() in signed
    verify_repository(repo, home)
    assert _agents_of(home) == []

    (repo / "InRelease").write_text(signed.replace("Packages", "Packagez", 1))
    with pytest.raises(BoxError, match="does not verify"):
        verify_repository(repo, home)

    (repo / "Packages").write_text("Package: chrony\nVersion: 4.3-2+deb12u2\n\n")
    assert sign_repository(repo, home) is True  # the index changed: signed again
    verify_repository(repo, home)
    assert (home / PUBLIC_KEY).read_text() == public
