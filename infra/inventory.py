"""The Ansible inventory the stack outputs: groups by role, host vars from the topology.

The shape is Ansible's YAML/JSON inventory (``all.children.<group>.hosts.<host>``), so
``pulumi stack output inventory --json > inventory.json`` feeds ``ansible-playbook -i``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from citysoc.core.topology import Flow, Host, IpNetwork, Topology
from infra.cloudinit import OPS_USER
from infra.services import ServiceFlow, host_inputs, host_outputs, service_flows
from infra.stackconfig import StackConfig

GROUPS = {
    "sensor": "sensors",
    "collector": "collectors",
    "event-store": "event_store",
    "soc-api": "soc_api",
    "bastion": "bastion",
}
EVE_PORT = 6514
SYSLOG_PORT = 514
EVENT_STORE_PORT = 9200
SSH_PORT = 22


def _rule(topology: Topology, flow: Flow, peer_side: str) -> dict[str, Any]:
    network = (
        topology.source_network(flow) if peer_side == "from" else topology.destination_network(flow)
    )
    return {
        "protocol": flow.protocol,
        "ports": list(flow.ports),
        peer_side: str(network),
        "family": "ip" if network.version == 4 else "ip6",
        "description": flow.description,
    }


def _service_rule(
    protocol: str, ports: tuple[int, ...], side: str, network: IpNetwork, description: str
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "ports": list(ports),
        side: str(network),
        "family": "ip" if network.version == 4 else "ip6",
        "description": description,
    }


def nftables_vars(
    topology: Topology,
    host: Host,
    services: tuple[ServiceFlow, ...] = (),
    operator_cidr: IpNetwork | None = None,
) -> dict[str, Any]:
    """The host's firewall: what it accepts and what it may open, from the allowed flows and
    the services the SOC's hosts need (DNS, time, packages; operators' SSH to the bastion)."""
    inputs = [_rule(topology, f, "from") for f in topology.flows_into(host.segment, host.name)]
    for flow in host_inputs(host, services):
        network = topology.segments[flow.source].cidr
        inputs.append(_service_rule(flow.protocol, flow.ports, "from", network, flow.description))
    if host.role == "bastion" and operator_cidr is not None:
        inputs.append(
            _service_rule(
                "tcp", (SSH_PORT,), "from", operator_cidr, "Operators reach the bastion over SSH"
            )
        )
    outputs = [_rule(topology, f, "to") for f in topology.flows_out_of(host.segment, host.name)]
    for flow in host_outputs(topology, host, services):
        outputs.append(
            _service_rule(flow.protocol, flow.ports, "to", flow.destination, flow.description)
        )
    return {"nftables_segment": host.segment, "nftables_input": inputs, "nftables_output": outputs}


def router_vars(topology: Topology) -> dict[str, Any]:
    """A router between segments forwards exactly the allowed flows between them."""
    forward = []
    for flow in topology.model.flows:
        if flow.source == flow.destination:
            continue
        forward.append(
            {**_rule(topology, flow, "from"), "to": str(topology.destination_network(flow))}
        )
    return {"nftables_segment": "router", "nftables_input": [], "nftables_output": [],
            "nftables_forward": forward}  # fmt: skip


def role_vars(topology: Topology, host: Host) -> dict[str, Any]:
    """Variables of the role(s) the host's group runs."""
    store = next((h for h in topology.soc_hosts() if h.role == "event-store"), None)
    # CITYSOC_EVENT_STORE of the collectors, sensors and SOC API: the TLS proxy (with basic
    # authentication) in front of the engine on the event-store host.
    store_url = f"opensearch+https://{store.address}:{EVENT_STORE_PORT}" if store else ""
    collector = topology.collector_of(host.segment)
    if host.role == "sensor":
        watched = [topology.segments[s] for s in host.monitors]
        return {
            "suricata_sensor_segments": [{"id": s.id, "cidr": str(s.cidr)} for s in watched],
            "suricata_sensor_collector": f"{collector.address}:{EVE_PORT}" if collector else "",
        }
    if host.role == "collector":
        served = [topology.segments[s] for s in host.serves]
        return {
            "collector_segments": [{"id": s.id, "cidr": str(s.cidr)} for s in served],
            "collector_event_store_url": store_url,
        }
    if host.role == "event-store":
        return {"event_store_backend": "opensearch"}
    if host.role == "soc-api":
        return {"soc_api_event_store_url": store_url}
    return {}


def _log_collector(topology: Topology, host: Host) -> str:
    """Where the host forwards its firewall drop lines: its segment's collector (itself on
    the loopback when it is that collector), if the topology lets the segment send syslog."""
    collector = topology.collector_of(host.segment)
    if collector is None:
        return ""
    if collector.name == host.name:
        return f"127.0.0.1:{SYSLOG_PORT}"
    allowed = any(
        f.protocol == "udp"
        and SYSLOG_PORT in f.ports
        and f.destination_host in (None, collector.name)
        for f in topology.flows_out_of(host.segment, host.name)
        if topology.destination_network(f).version == collector.address.version
        and collector.address in topology.destination_network(f)
    )
    return f"{collector.address}:{SYSLOG_PORT}" if allowed else ""


def _ntp_servers(topology: Topology, host: Host, config: StackConfig) -> list[str]:
    collector = topology.collector_of(host.segment)
    if collector is not None and collector.name != host.name:
        return [str(collector.address)]
    return list(config.ntp_servers)


def host_vars(
    topology: Topology,
    host: Host,
    bastion: Host | None,
    config: StackConfig | None = None,
    jump: str = "",
) -> dict[str, Any]:
    """One host's variables. ``jump`` is the bastion's address as operators reach it (its
    floating IP once the stack is up; its topology address before)."""
    config = config or StackConfig()
    segment = topology.segments[host.segment]
    found: dict[str, Any] = {
        "ansible_host": str(host.address),
        "citysoc_role": host.role,
        "citysoc_segment": segment.id,
        "citysoc_agency": segment.agency,
        "citysoc_level": segment.security_level,
        "baseline_ntp_servers": _ntp_servers(topology, host, config),
        "nftables_log_collector": _log_collector(topology, host),
        **nftables_vars(topology, host, service_flows(topology, config), config.operator_cidr),
        **role_vars(topology, host),
    }
    if bastion is not None and host.name != bastion.name:
        found["ansible_ssh_common_args"] = f"-o ProxyJump={OPS_USER}@{jump or bastion.address}"
    if bastion is not None and host.name == bastion.name:
        found["ansible_host"] = jump or str(host.address)
        # The bastion takes SSH from the operators' network, not from itself.
        found["baseline_ssh_allowed_from"] = (
            [str(config.operator_cidr)] if config.operator_cidr else []
        )
    return found


def inventory(
    topology: Topology,
    instance_ids: Mapping[str, object] | None = None,
    config: StackConfig | None = None,
    public_bastion: str = "",
) -> dict[str, Any]:
    """Groups by role (sensors, collectors, event_store, soc_api, bastion) with host vars.

    ``public_bastion`` is the bastion's floating IP (a stack output): operators' SSH lands
    there and jumps on to every other host.
    """
    config = config or StackConfig()
    bastion = next((h for h in topology.soc_hosts() if h.role == "bastion"), None)
    children: dict[str, Any] = {group: {"hosts": {}} for group in GROUPS.values()}
    for host in topology.soc_hosts():
        found = host_vars(topology, host, bastion, config, public_bastion)
        if instance_ids and host.name in instance_ids:
            found["openstack_instance_id"] = instance_ids[host.name]
        children[GROUPS[host.role]]["hosts"][host.name] = found
    return {
        "all": {
            "vars": {
                "ansible_user": OPS_USER,
                "citysoc_city": topology.model.city,
                "citysoc_package_source": config.package_sources,
                **{f"citysoc_{key}": value for key, value in config.release_pin.items()},
                "baseline_ssh_allowed_from": [str(bastion.address)] if bastion else [],
            },
            "children": children,
        }
    }
