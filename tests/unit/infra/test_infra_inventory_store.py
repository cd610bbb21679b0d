"""The inventory's event store clients and drop-line forwarding, from the example topology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from citysoc.core.topology import load_topology
from infra.inventory import inventory

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def hosts() -> dict[str, dict[str, Any]]:
    found = inventory(load_topology(REPO / "citysoc/core/cities/hcmc.yml"))
    return {
        name: hostvars
        for group in found["all"]["children"].values()
        for name, hostvars in group["hosts"].items()
    }


def test_clients_reach_the_event_store_through_its_tls_proxy(
    hosts: dict[str, dict[str, Any]],
) -> None:
    store = "opensearch+https://10.50.0.30:9200"
    assert hosts["soc-collector-01"]["collector_event_store_url"] == store
    assert hosts["soc-collector-02"]["collector_event_store_url"] == store
    assert hosts["soc-api-01"]["soc_api_event_store_url"] == store
    # No credential is ever in the inventory: they come from Ansible Vault.
    assert not [
        (name, key)
        for name, hostvars in hosts.items()
        for key in hostvars
        if "password" in key or "secret" in key
    ]


def test_soc_and_management_hosts_forward_their_drop_lines_to_their_collector(
    hosts: dict[str, dict[str, Any]],
) -> None:
    assert hosts["bastion-01"]["nftables_log_collector"] == "10.50.0.10:514"
    assert hosts["soc-api-01"]["nftables_log_collector"] == "10.50.0.10:514"
    assert hosts["soc-store-01"]["nftables_log_collector"] == "10.50.0.10:514"
    # The collector sends its own lines to its listener on the loopback.
    assert hosts["soc-collector-01"]["nftables_log_collector"] == "127.0.0.1:514"
    # ... and each sender's firewall lets the line out, the collector's lets it in.
    for name in ("bastion-01", "soc-api-01", "soc-sensor-02"):
        assert any(
            r["protocol"] == "udp" and 514 in r["ports"] and r["to"] == "10.50.0.10/32"
            for r in hosts[name]["nftables_output"]
        ), name
    sources = {
        r["from"]
        for r in hosts["soc-collector-01"]["nftables_input"]
        if r["protocol"] == "udp" and 514 in r["ports"]
    }
    assert {"10.50.0.0/24", "10.60.0.0/24"} <= sources


def test_no_drop_forwarding_without_a_syslog_flow_to_the_collector() -> None:
    topology = load_topology(REPO / "citysoc/core/cities/hcmc.yml")
    flows = [
        f
        for f in topology.model.flows
        if not (f.source == "mgmt" and f.destination_host == "soc-collector-01")
    ]
    narrowed = load_topology_from(topology, flows)
    found = inventory(narrowed)["all"]["children"]["bastion"]["hosts"]["bastion-01"]
    assert found["nftables_log_collector"] == ""


def load_topology_from(topology: Any, flows: list[Any]) -> Any:
    from citysoc.core.topology import Topology

    model = topology.model.model_copy(update={"flows": flows})
    return Topology(model)
