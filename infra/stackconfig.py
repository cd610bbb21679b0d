"""The stack's configuration (``Pulumi.<stack>.yaml``, namespace ``citysoc``), validated."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_FLAVORS = {
    "sensor": "m1.large",
    "collector": "m1.medium",
    "event-store": "m1.xlarge",
    "soc-api": "m1.medium",
    "bastion": "m1.small",
}


class StackConfig(BaseModel):
    """What an ops engineer sets per stack; every key has a default fit for a lab cloud."""

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

    def flavor_of(self, role: str) -> str:
        return self.flavors.get(role, DEFAULT_FLAVORS.get(role, "m1.small"))


CONFIG_KEYS = {name: (field.alias or name) for name, field in StackConfig.model_fields.items()}
