"""The mandatory policies of the pack, for the pack and for ``citysoc infra plan``."""

from pulumi_policy import Policy

from infra.policy.policies.access import (
    public_address_only_on_bastion,
    security_group_on_every_port,
)
from infra.policy.policies.ingress import no_internet_ingress
from infra.policy.policies.isolation import camera_ics_isolation
from infra.policy.policies.management import management_from_bastion
from infra.policy.policies.mirrors import declared_mirrors
from infra.policy.policies.releases import analytics_bundle_gated
from infra.policy.policies.sensors import sensor_per_sensitive_segment
from infra.policy.policies.tagging import port_security_only_for_sensors, tagged_resources

POLICIES: tuple[Policy, ...] = (
    no_internet_ingress,
    camera_ics_isolation,
    management_from_bastion,
    tagged_resources,
    sensor_per_sensitive_segment,
    port_security_only_for_sensors,
    public_address_only_on_bastion,
    security_group_on_every_port,
    declared_mirrors,
    analytics_bundle_gated,
)

__all__ = ["POLICIES"]
