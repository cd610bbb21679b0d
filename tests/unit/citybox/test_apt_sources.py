"""The mirror is read from the machine's apt configuration, in both of apt's formats."""

from pathlib import Path

import pytest

from citybox.apt_sources import debian_mirror
from citysoc.core.errors import BoxError


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_deb822_sources_first(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list.d/debian.sources",
        "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.invalid/debian-security\n"
        "Suites: bookworm-security\n",
    )
    write(tmp_path, "sources.list", "deb http://other.invalid/debian bookworm main\n")
    assert debian_mirror("bookworm", tmp_path) == "http://mirror.invalid/debian"
    assert debian_mirror("bookworm-security", tmp_path) == "http://security.invalid/debian-security"


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list",
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb-src http://src.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main\n",
    )
    assert debian_mirror("bookworm", tmp_path) == "http://mirror.invalid/debian"


def test_disabled_stanza_and_missing_suite(tmp_path: Path) -> None:
    write(
        tmp_path,
        "sources.list.d/x.sources",
        "Types: deb\nEnabled: no\nURIs: http://off.invalid/debian\nSuites: bookworm\n",
    )
    with pytest.raises(BoxError, match="no apt source for 'bookworm'"):
        debian_mirror("bookworm", tmp_path)
