"""The Release file of the box's flat apt repository lists its index with size and hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from citybox.signing import release_text


def test_release_lists_the_package_index_with_its_size_and_hashes(tmp_path: Path) -> None:
    index = b"Package: nftables\nVersion: 1.0.6-2+deb12u2\n\n"
    (tmp_path / "Packages").write_bytes(index)
    text = release_text(tmp_path, date="Wed, 02 Dec 2026 05:00:00 GMT")
    assert text.startswith("Origin: citysoc\n")
    assert "Date: Wed, 02 Dec 2026 05:00:00 GMT\n" in text
    assert f" {hashlib.sha256(index).hexdigest()} {len(index)} Packages\n" in text
    assert f" {hashlib.sha512(index).hexdigest()} {len(index)} Packages\n" in text
    sections = [line for line in text.splitlines() if line.endswith(":")]
    assert sections == ["MD5Sum:", "SHA256:", "SHA512:"]
