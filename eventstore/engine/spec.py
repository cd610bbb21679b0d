"""An engine named by a URL: ``opensearch+https://host:9200`` or ``elasticsearch+http://...``.

Several nodes are separated by commas (``opensearch+https://n1:9200,n2:9200``). Credentials
come from settings as secrets (``CITYSOC_EVENT_STORE_USERNAME``/``_PASSWORD`` or
``_API_KEY``), or from the URL's user part; they never appear in logs (:attr:`redacted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from citysoc.core.errors import ConfigError

Flavour = Literal["opensearch", "elasticsearch"]
FLAVOURS: tuple[Flavour, ...] = ("opensearch", "elasticsearch")


@dataclass(frozen=True)
class EngineSpec:
    flavour: Flavour
    hosts: tuple[str, ...]
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    api_key: SecretStr | None = field(default=None, repr=False)
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def tls(self) -> bool:
        return self.hosts[0].startswith("https://")

    @property
    def redacted(self) -> str:
        return f"{self.flavour}+{','.join(self.hosts)}"

    def basic_auth(self) -> tuple[str, str] | None:
        if self.username and self.password is not None:
            return (self.username, self.password.get_secret_value())
        return None


def parse_engine_url(
    url: str,
    *,
    username: str | None = None,
    password: SecretStr | None = None,
    api_key: SecretStr | None = None,
    ca_file: Path | None = None,
) -> EngineSpec:
    """The engine a ``<flavour>+<scheme>://host:port[,host:port]`` URL names."""
    flavour, plus, rest = url.partition("+")
    if not plus or flavour not in FLAVOURS:
        raise ConfigError(
            f"CITYSOC_EVENT_STORE={_hide(url)!r}: expected sqlite:///PATH, "
            "opensearch+https://HOST:PORT or elasticsearch+https://HOST:PORT"
        )
    scheme, sep, netlocs = rest.partition("://")
    if scheme not in ("http", "https") or not sep or not netlocs.strip("/"):
        raise ConfigError(f"CITYSOC_EVENT_STORE={_hide(url)!r}: the scheme must be http or https")
    hosts = []
    for part in netlocs.rstrip("/").split(","):
        if "://" in part:
            raise ConfigError(
                f"CITYSOC_EVENT_STORE={_hide(url)!r}: name the scheme once, then the nodes: "
                f"{flavour}+{scheme}://HOST1:PORT,HOST2:PORT"
            )
        parsed = urlsplit(f"{scheme}://{part}")
        if parsed.username and username is None:
            username = unquote(parsed.username)
            password = SecretStr(unquote(parsed.password or ""))
        if not parsed.hostname:
            raise ConfigError(f"CITYSOC_EVENT_STORE={_hide(url)!r}: a host is missing")
        try:
            port = parsed.port or 9200
        except ValueError as exc:
            raise ConfigError(f"CITYSOC_EVENT_STORE={_hide(url)!r}: {exc}") from exc
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        hosts.append(f"{scheme}://{host}:{port}")
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"CITYSOC_EVENT_STORE_CA_FILE={ca_file}: no such file")
    return EngineSpec(
        flavour=flavour,  # checked against FLAVOURS above
        hosts=tuple(hosts),
        username=username,
        password=password,
        api_key=api_key,
        ca_file=ca_file,
    )


def _hide(url: str) -> str:
    """The URL without a password in its user part."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"
