"""The stack's configuration (``Pulumi.<stack>.yaml``, namespace ``citysoc``), validated."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citysoc.core.topology import IpNetwork

DEFAULT_FLAVORS = {
    "sensor": "m1.large",
    "collector": "m1.medium",
    "event-store": "m1.xlarge",
    "soc-api": "m1.medium",
    "bastion": "m1.small",
}
DEFAULT_PORTS = {"http": 80, "https": 443}


class StackConfig(BaseModel):
    """What an ops engineer sets per stack; every key has a default fit for a lab cloud.

    ``operator_cidr`` is where operators reach the bastion's floating IP from over SSH
    (no default: without it the bastion takes no SSH from outside, and the policy pack
    refuses ``0.0.0.0/0``). ``package_source`` is the URL of the apt proxy or package
    source every SOC host uses; ``package_source_cidr`` is where it lives, for the security
    groups (taken from the URL when its host is an address).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    topology: Path = Field(
        default=Path("citysoc/core/cities/hcmc.yml"),
        description="The city topology file, relative to the repository root.",
    )
    external_network: str = Field(
        default="public", alias="externalNetwork", description="Floating/provider network name."
    )
    external_network_id: str = Field(
        default="", alias="externalNetworkId", description="Its id (looked up by name if empty)."
    )
    physical_network: str = Field(
        default="physnet1", alias="physicalNetwork", description="Provider net of camera VLANs."
    )
    image: str = Field(default="debian-12-genericcloud", description="Glance image name.")
    flavors: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_FLAVORS))
    key_pair: str = Field(default="citysoc-ops", alias="keyPair", description="Nova key pair.")
    dns_nameservers: tuple[str, ...] = Field(default=(), alias="dnsNameservers")
    ntp_servers: tuple[str, ...] = Field(
        default=(), alias="ntpServers", description="Upstream time for the collectors."
    )
    operator_cidr: IpNetwork | None = Field(
        default=None, alias="operatorCidr", description="Operators' SSH source to the bastion."
    )
    package_source: str = Field(
        default="", alias="packageSource", description="apt proxy / package source URL."
    )
    package_source_cidr: IpNetwork | None = Field(default=None, alias="packageSourceCidr")
    apt_repository: str = Field(
        default="", alias="aptRepository", description="Flat apt repository (via the proxy)."
    )
    apt_repository_key: str = Field(
        default="",
        alias="aptRepositoryKey",
        description="The ASCII-armored OpenPGP public key that signs aptRepository's InRelease "
        "(hosts trust the repository with it, signed-by).",
    )
    wheels_url: str = Field(
        default="", alias="wheelsUrl", description="citysoc's release wheelhouse (via the proxy)."
    )
    switch_spans: dict[str, str] = Field(
        default_factory=dict,
        alias="switchSpans",
        description="Camera VLAN segment -> the switch SPAN feeding its sensor port.",
    )
    cloud: str = Field(default="", description="clouds.yaml entry for tap-as-a-service calls.")
    analytics_bundle: Path | None = Field(
        default=None,
        alias="analyticsBundle",
        description="The analytics bundle the hosts deploy (citysoc release build), relative "
        "to the repository; the policy pack refuses it without a passing signed decision.",
    )
    release_public_key: Path | None = Field(
        default=None,
        alias="releasePublicKey",
        description="The release key's public half (PEM) that the bundle's decision must verify "
        "with.",
    )

    @field_validator("operator_cidr", "package_source_cidr", mode="before")
    @classmethod
    def _network(cls, value: object) -> object:
        if value in (None, ""):
            return None
        try:
            return ipaddress.ip_network(str(value), strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network with a prefix: {exc}") from exc

    @field_validator("dns_nameservers", "ntp_servers")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_address(item)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address") from exc
        return value

    @field_validator("package_source", "apt_repository", "wheels_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and (urlsplit(value).scheme not in DEFAULT_PORTS or not urlsplit(value).hostname):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _package_source_network(self) -> StackConfig:
        if self.package_source and self.package_source_cidr is None:
            host = urlsplit(self.package_source).hostname or ""
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(
                    f"packageSource {self.package_source!r} names a host, not an address: "
                    "set packageSourceCidr to where it lives, for the security groups"
                ) from None
            object.__setattr__(self, "package_source_cidr", ipaddress.ip_network(address))
        return self

    @model_validator(mode="after")
    def _repository_with_its_key(self) -> StackConfig:
        if self.apt_repository and "BEGIN PGP PUBLIC KEY BLOCK" not in self.apt_repository_key:
            raise ValueError(
                "aptRepository needs aptRepositoryKey, the ASCII-armored public key that signs "
                "its InRelease: hosts trust the repository only with it"
            )
        return self

    @model_validator(mode="after")
    def _bundle_with_its_key(self) -> StackConfig:
        if (self.analytics_bundle is None) != (self.release_public_key is None):
            raise ValueError(
                "analyticsBundle and releasePublicKey go together: a pinned bundle is "
                "verified with the release key's public half"
            )
        return self

    @property
    def release_pin(self) -> dict[str, str]:
        """The pinned bundle and its key as instance metadata and inventory variables (empty
        when no bundle is pinned)."""
        if self.analytics_bundle is None or self.release_public_key is None:
            return {}
        return {
            "analytics_bundle": str(self.analytics_bundle),
            "release_public_key": str(self.release_public_key),
        }

    @property
    def package_sources(self) -> dict[str, str]:
        """The inventory's ``citysoc_package_source``: ``proxy`` (apt and pip go through it),
        and the ``apt`` repository (with ``apt_key``, its signing key) and ``wheels`` house
        when set."""
        found = {
            "proxy": self.package_source,
            "apt": self.apt_repository,
            "apt_key": self.apt_repository_key if self.apt_repository else "",
            "wheels": self.wheels_url,
        }
        return {key: value for key, value in found.items() if value}

    @property
    def package_source_port(self) -> int:
        parts = urlsplit(self.package_source)
        return parts.port or DEFAULT_PORTS.get(parts.scheme, 80)

    def flavor_of(self, role: str) -> str:
        return self.flavors.get(role, DEFAULT_FLAVORS.get(role, "m1.small"))


CONFIG_KEYS = {name: (field.alias or name) for name, field in StackConfig.model_fields.items()}
OBJECT_KEYS = frozenset({"flavors", "dns_nameservers", "ntp_servers", "switch_spans"})
