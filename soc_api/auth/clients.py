"""Which address a request came from, believing ``X-Forwarded-For`` only from trusted proxies.

``CITYSOC_TRUSTED_PROXIES`` lists the reverse proxies (addresses or CIDRs) in front of the
SOC API; none by default, so a client cannot choose its own address by sending the header,
from loopback or anywhere else. Behind a trusted proxy, the client is the right-most address
of the header that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from fastapi import Request

from citysoc.core.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 16  # addresses of X-Forwarded-For looked at, from the right


@lru_cache(maxsize=8)
def parse_proxies(text: str) -> tuple[Network, ...]:
    """``"10.0.0.5, 10.1.0.0/24"`` to networks; a bad entry is a ConfigError."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"CITYSOC_TRUSTED_PROXIES: {item!r} is not an address") from None
    return tuple(networks)


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """The address of the client that sent ``request``."""
    peer = request.client.host if request.client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",")[-MAX_HOPS:]]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy we trust passed on garbage: fall back to the proxy
    return peer
