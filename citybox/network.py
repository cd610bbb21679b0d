"""Namespaces, bridges and veths of the box: made from a plan, removed by name.

Every namespace the box makes is named ``cbx-*`` and every link it leaves on the machine is
``cbx-ops``, so taking the box down removes exactly what it made and nothing else.
"""

from __future__ import annotations

import logging
from pathlib import Path

from citybox.plan import (
    CORE_NS,
    OPERATOR_LINK,
    PREFIX,
    SWITCH_NS,
    BoxHost,
    BoxPlan,
    Router,
    mirror_interface,
)
from citybox.run import run

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")


def bridge_name(index: int) -> str:
    return f"br{index}"


def box_namespaces() -> list[str]:
    """The box's namespaces that exist now."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(f"{PREFIX}-"))


def _add_netns(name: str) -> None:
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])


def build_network(plan: BoxPlan) -> dict[str, str]:
    """Create switch, routers, host namespaces and the operator's link; return bridge names."""
    bridges = {seg: bridge_name(i) for i, seg in enumerate(sorted(plan.segments))}
    _add_netns(SWITCH_NS)
    for bridge in bridges.values():
        run(["ip", "-n", SWITCH_NS, "link", "add", bridge, "type", "bridge"])
        # No STP: a segment is one bridge; frames forwarded at once.
        run(["ip", "-n", SWITCH_NS, "link", "set", bridge, "type", "bridge", "forward_delay", "0"])
        run(["ip", "-n", SWITCH_NS, "link", "set", bridge, "up"])
    port = 0
    for router in plan.routers:
        port = _router(router, bridges, port)
    for host in plan.hosts:
        port = _host(host, bridges, port)
    _operator(plan, bridges)
    _mirrors(plan, bridges)
    return bridges


def _plug(netns: str, inside: str, bridge: str, port: int) -> int:
    """A veth from ``netns`` (named ``inside``) to a port of ``bridge`` in the switch."""
    outside = f"p{port}"
    run(
        [
            "ip",
            "-n",
            SWITCH_NS,
            "link",
            "add",
            outside,
            "type",
            "veth",
            "peer",
            "name",
            inside,
            "netns",
            netns,
        ]
    )
    run(["ip", "-n", SWITCH_NS, "link", "set", outside, "master", bridge, "up"])
    run(["ip", "-n", netns, "link", "set", inside, "up"])
    return port + 1


def _router(router: Router, bridges: dict[str, str], port: int) -> int:
    _add_netns(router.netns)
    for i, leg in enumerate(router.legs):
        port = _plug(router.netns, f"eth{i}", bridges[leg.segment], port)
        run(["ip", "-n", router.netns, "addr", "add", leg.address, "dev", f"eth{i}"])
    for destination, via in router.routes:
        run(["ip", "-n", router.netns, "route", "add", destination, "via", via])
    run(["ip", "netns", "exec", router.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    return port


def _host(host: BoxHost, bridges: dict[str, str], port: int) -> int:
    _add_netns(host.netns)
    port = _plug(host.netns, "eth0", bridges[host.segment], port)
    run(["ip", "-n", host.netns, "addr", "add", host.address, "dev", "eth0"])
    run(["ip", "-n", host.netns, "route", "add", "default", "via", host.gateway])
    for destination, via in host.routes:
        run(["ip", "-n", host.netns, "route", "add", destination, "via", via])
    return port


def _operator(plan: BoxPlan, bridges: dict[str, str]) -> None:
    """The machine's one link into the box: an address in the management segment."""
    run(
        [
            "ip",
            "link",
            "add",
            OPERATOR_LINK,
            "type",
            "veth",
            "peer",
            "name",
            "ops",
            "netns",
            SWITCH_NS,
        ]
    )
    run(
        [
            "ip",
            "-n",
            SWITCH_NS,
            "link",
            "set",
            "ops",
            "master",
            bridges[plan.operator_segment],
            "up",
        ]
    )
    run(["ip", "addr", "add", plan.operator_address, "dev", OPERATOR_LINK])
    run(["ip", "link", "set", OPERATOR_LINK, "up"])
    # Replies to box addresses must go back into the box, never out of the machine's own
    # default route: every box segment is routed through the core router's management leg.
    # (They go away with the link.)
    core = next(r for r in plan.routers if r.netns == CORE_NS)
    via = next(
        leg.address.split("/")[0] for leg in core.legs if leg.segment == plan.operator_segment
    )
    for segment, cidr in sorted(plan.segments.items()):
        if segment != plan.operator_segment:
            run(["ip", "route", "add", cidr, "via", via, "dev", OPERATOR_LINK])


def _mirrors(plan: BoxPlan, bridges: dict[str, str]) -> None:
    """Each sensor gets a ``mon-<segment>`` interface receiving a copy of the segment's frames.

    Every frame of a segment enters its bridge through exactly one port, so mirroring the
    ingress of every port (tc ``mirred``) copies each frame once, as a switch's SPAN port does.
    """
    ports = _bridge_ports()
    for host in plan.hosts:
        for n, seg in enumerate(host.mirrors):
            tap = f"m{n}-{host.name[-6:]}"
            inside = mirror_interface(seg)
            run(
                [
                    "ip",
                    "-n",
                    SWITCH_NS,
                    "link",
                    "add",
                    tap,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    inside,
                    "netns",
                    host.netns,
                ]
            )
            run(["ip", "-n", SWITCH_NS, "link", "set", tap, "up"])
            run(["ip", "-n", host.netns, "link", "set", inside, "up"])
            for member in ports.get(bridges[seg], []):
                _mirror(member, tap)


def _bridge_ports() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    shown = run(["ip", "-n", SWITCH_NS, "-o", "link", "show"]).stdout
    for line in shown.splitlines():
        words = line.split()
        name = words[1].rstrip(":").split("@")[0]
        if "master" in words:
            found.setdefault(words[words.index("master") + 1], []).append(name)
    return found


def _mirror(port: str, tap: str) -> None:
    present = run(["tc", "-n", SWITCH_NS, "qdisc", "show", "dev", port, "ingress"]).stdout
    if "ingress" not in present:
        run(["tc", "-n", SWITCH_NS, "qdisc", "add", "dev", port, "ingress"])
    # u32 matching everything: this kernel has no matchall or flower classifier.
    run(
        [
            "tc",
            "-n",
            SWITCH_NS,
            "filter",
            "add",
            "dev",
            port,
            "parent",
            "ffff:",
            "protocol",
            "all",
            "u32",
            "match",
            "u32",
            "0",
            "0",
            "action",
            "mirred",
            "egress",
            "mirror",
            "dev",
            tap,
        ]
    )


def remove_network() -> list[str]:
    """Delete the operator's link and every ``cbx-*`` namespace (their veths go with them)."""
    removed = []
    if run(["ip", "link", "show", OPERATOR_LINK], check=False).returncode == 0:
        run(["ip", "link", "del", OPERATOR_LINK])
        removed.append(OPERATOR_LINK)
    for name in box_namespaces():
        run(["ip", "netns", "del", name])
        removed.append(name)
    return removed
