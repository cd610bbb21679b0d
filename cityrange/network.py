"""Build the range's namespaces from a plan, and remove every ``crg-*`` namespace after.

Every frame of a segment enters its bridge through exactly one port; mirroring the ingress
of every host's port (tc ``mirred``, as a switch's SPAN port does) gives the sensor one copy
of each frame. The router's own ports are not mirrored: a routed packet is seen once, as it
leaves its sender, and a packet the router drops is seen all the same.
"""

from __future__ import annotations

import ipaddress
import logging
import tempfile
from pathlib import Path

from cityrange.firewall import router_ruleset
from cityrange.netns import range_namespaces, run
from cityrange.plan import ROUTER_NS, SENSOR_IFACE, SENSOR_NS, SWITCH_NS, RangePlan
from citysoc.core.topology import Topology

log = logging.getLogger(__name__)


def _netns(name: str) -> None:
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


class Switch:
    def __init__(self) -> None:
        self.ports = 0
        self.host_ports: list[str] = []

    def plug(self, netns: str, inside: str, bridge: str, *, mirrored: bool) -> None:
        outside = f"p{self.ports}"
        self.ports += 1
        run(["ip", "-n", SWITCH_NS, "link", "add", outside, "type", "veth",
             "peer", "name", inside, "netns", netns])  # fmt: skip
        run(["ip", "-n", SWITCH_NS, "link", "set", outside, "master", bridge, "up"])
        run(["ip", "-n", netns, "link", "set", inside, "up"])
        if mirrored:
            self.host_ports.append(outside)


def build(plan: RangePlan, topology: Topology) -> None:
    """Switch, router (with the topology's forward rules), hosts, sensor tap."""
    _netns(SWITCH_NS)
    bridges = {seg: f"br{i}" for i, seg in enumerate(sorted(plan.segments))}
    for bridge in bridges.values():
        run(["ip", "-n", SWITCH_NS, "link", "add", bridge, "type", "bridge", "forward_delay", "0"])
        run(["ip", "-n", SWITCH_NS, "link", "set", bridge, "up"])
    switch = Switch()
    _netns(ROUTER_NS)
    for i, (segment, bridge) in enumerate(sorted(bridges.items())):
        switch.plug(ROUTER_NS, f"eth{i}", bridge, mirrored=False)
        run(["ip", "-n", ROUTER_NS, "addr", "add", _leg(plan, segment), "dev", f"eth{i}"])
    run(["ip", "netns", "exec", ROUTER_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    _firewall(topology)
    for host in plan.hosts.values():
        _netns(host.netns)
        switch.plug(host.netns, "eth0", bridges[host.segment], mirrored=True)
        for address in host.addresses:
            run(["ip", "-n", host.netns, "addr", "add", f"{address}/{host.prefix}", "dev", "eth0"])
        run(["ip", "-n", host.netns, "route", "add", "default", "via", host.gateway])
    _sensor(switch.host_ports)


def _leg(plan: RangePlan, segment: str) -> str:
    cidr = ipaddress.ip_network(plan.segments[segment])
    return f"{next(cidr.hosts())}/{cidr.prefixlen}"


def _firewall(topology: Topology) -> None:
    with tempfile.TemporaryDirectory(prefix="crg-nft-") as tmp:
        path = Path(tmp) / "router.nft"
        path.write_text(router_ruleset(topology))
        run(["ip", "netns", "exec", ROUTER_NS, "nft", "-c", "-f", str(path)])
        run(["ip", "netns", "exec", ROUTER_NS, "nft", "-f", str(path)])


def _sensor(ports: list[str]) -> None:
    _netns(SENSOR_NS)
    tap = "tap-sensor"
    run(["ip", "-n", SWITCH_NS, "link", "add", tap, "type", "veth",
         "peer", "name", SENSOR_IFACE, "netns", SENSOR_NS])  # fmt: skip
    run(["ip", "-n", SWITCH_NS, "link", "set", tap, "up"])
    run(["ip", "-n", SENSOR_NS, "link", "set", SENSOR_IFACE, "up"])
    for port in ports:
        run(["tc", "-n", SWITCH_NS, "qdisc", "add", "dev", port, "ingress"])
        # u32 matching everything: not every kernel has the matchall classifier.
        run(["tc", "-n", SWITCH_NS, "filter", "add", "dev", port, "parent", "ffff:",
             "protocol", "all", "u32", "match", "u32", "0", "0",
             "action", "mirred", "egress", "mirror", "dev", tap])  # fmt: skip


def remove() -> list[str]:
    """Delete every ``crg-*`` namespace (their veths, bridges and rules go with them)."""
    removed = []
    for name in range_namespaces():
        done = run(["ip", "netns", "del", name], check=False)
        if done.returncode == 0:
            removed.append(name)
        else:
            log.error("could not remove namespace %s: %s", name, done.stderr.strip())
    return removed
