"""The Debian mirror this machine already uses, read from its apt configuration at run time.

The box never names a mirror itself: ``debootstrap`` and ``apt-get download`` go wherever the
machine's own apt sources point (deb822 ``*.sources`` files first, then ``sources.list``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from citysoc.core.errors import BoxError, Location

APT_DIR = Path("/etc/apt")


def debian_mirror(suite: str = "bookworm", apt_dir: Path = APT_DIR) -> str:
    """The URI of the first ``deb`` source that carries ``suite``."""
    for uri, suites in _sources(apt_dir):
        if suite in suites:
            return uri.rstrip("/")
    raise BoxError(
        f"no apt source for {suite!r} in {apt_dir}/sources.list.d/*.sources or sources.list",
        location=Location(source=str(apt_dir)),
    )


def _sources(apt_dir: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        yield from _deb822(path.read_text(encoding="utf-8"))
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            yield from _one_line(path.read_text(encoding="utf-8"))


def _deb822(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            suites = tuple(fields.get("suites", "").split())
            for uri in fields.get("uris", "").split():
                yield uri, suites


def _one_line(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], (words[1],)
