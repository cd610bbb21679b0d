"""Domain names as ECS writes them: no trailing dot, and split at the public suffix.

:func:`domain_parts` gives ``registered_domain``, ``top_level_domain`` and ``subdomain`` of a
name from the Public Suffix List that the ``publicsuffixlist`` package bundles (no download at
run time). A suffix the list does not know counts as one label (``cam.city.example``:
``city.example``, ``example``, ``cam``), as browsers treat it.
"""

from __future__ import annotations

from publicsuffixlist import PublicSuffixList

MAX_CACHED = 8192
_LIST: list[PublicSuffixList] = []
_PARTS: dict[str, tuple[str, str, str] | None] = {}


def bare(name: str) -> str:
    """A domain name without its trailing dot (``example.org.`` → ``example.org``)."""
    return name[:-1] if name.endswith(".") and len(name) > 1 else name


def domain_parts(name: str) -> tuple[str, str, str] | None:
    """``(registered_domain, top_level_domain, subdomain)`` of a name, or ``None`` for a name
    that is a public suffix itself, an address, or not a domain name at all."""
    if name in _PARTS:
        return _PARTS[name]
    found = _split(name)
    if len(_PARTS) >= MAX_CACHED:
        _PARTS.clear()
    _PARTS[name] = found
    return found


def _split(name: str) -> tuple[str, str, str] | None:
    host = bare(name).lower()
    if not host or "." not in host or ":" in host or " " in host or host.startswith("."):
        return None
    if host.replace(".", "").isdigit():
        return None  # an IPv4 address
    if not _LIST:
        _LIST.append(PublicSuffixList())
    psl = _LIST[0]
    registered = psl.privatesuffix(host)
    suffix = psl.publicsuffix(host)
    if registered is None or suffix is None:
        return None
    subdomain = host[: -len(registered)].rstrip(".")
    return registered, suffix, subdomain
