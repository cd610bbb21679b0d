"""The nftables role, applied by Ansible to namespace hosts, enforces the allowed flows:
every allowed TCP/UDP flow between the lab's hosts passes, a sample of denied ones is dropped
(each ordered pair of hosts, so every pair of segments), and a second run changes nothing.

The lab: one namespace per host, a router namespace between segments (a bridge per segment
with the segment's gateway), no route out; removed on teardown, also on failure.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from citysoc.core.topology import Host, Topology
from infra.inventory import nftables_vars, router_vars

LAB_HOSTS = (
    "portal-01",
    "dc-app-01",
    "ioc-vms-01",
    "ioc-scada-01",
    "cam-q1-0011",
    "plc-pump-01",
    "soc-collector-01",
    "soc-collector-02",
    "bastion-01",
)
MISSING = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
NOT_ROOT = os.geteuid() != 0
needs_namespaces = pytest.mark.skipif(
    NOT_ROOT or bool(MISSING),
    reason="needs root and ip/nft (network namespaces and nftables)"
    + (f"; missing {', '.join(MISSING)}" if MISSING else "")
    + ("; not root" if NOT_ROOT else ""),
)


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


@dataclass
class Lab:
    prefix: str
    topology: Topology
    workdir: Path
    namespaces: dict[str, str] = field(default_factory=dict)  # host name (or "router") → netns
    hosts: tuple[Host, ...] = ()

    def netns(self, name: str) -> str:
        return self.namespaces[name]

    def interpreter(self, name: str) -> Path:
        """A wrapper that runs Python inside the host's namespace (Ansible's interpreter)."""
        path = self.workdir / f"python-{name}"
        path.write_text(f'#!/bin/sh\nexec ip netns exec {self.netns(name)} {sys.executable} "$@"\n')
        path.chmod(0o755)
        return path


def _build(lab: Lab) -> None:
    router = lab.namespaces["router"] = f"{lab.prefix}-rt"
    run("ip", "netns", "add", router)
    run("ip", "netns", "exec", router, "ip", "link", "set", "lo", "up")
    run("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    segments = sorted({h.segment for h in lab.hosts})
    for j, seg_id in enumerate(segments):
        cidr = lab.topology.segments[seg_id].cidr
        bridge = f"br{j}"
        run("ip", "-n", router, "link", "add", bridge, "type", "bridge")
        run("ip", "-n", router, "addr", "add", f"{cidr[1]}/{cidr.prefixlen}", "dev", bridge)
        run("ip", "-n", router, "link", "set", bridge, "up")
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    if bridge_nf.exists():  # bridged frames must not cross the router's IP forward chain
        run("ip", "netns", "exec", router, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
    for i, host in enumerate(lab.hosts):
        _add_host(lab, i, host, segments)


def _add_host(lab: Lab, i: int, host: Host, segments: list[str]) -> None:
    ns = lab.namespaces[host.name] = f"{lab.prefix}-{i}"
    router = lab.netns("router")
    cidr = lab.topology.segments[host.segment].cidr
    outside, inside = f"{lab.prefix}r{i}", f"{lab.prefix}h{i}"
    run("ip", "netns", "add", ns)
    run(
        "ip",
        "link",
        "add",
        outside,
        "netns",
        router,
        "type",
        "veth",
        "peer",
        "name",
        inside,
        "netns",
        ns,
    )
    run("ip", "-n", router, "link", "set", outside, "master", f"br{segments.index(host.segment)}")
    run("ip", "-n", router, "link", "set", outside, "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    run("ip", "-n", ns, "addr", "add", f"{host.address}/{cidr.prefixlen}", "dev", inside)
    run("ip", "-n", ns, "link", "set", inside, "up")
    for other in segments:  # routes to the lab's other segments only: no default route
        net = lab.topology.segments[other].cidr
        if net != cidr:
            run("ip", "-n", ns, "route", "add", str(net), "via", str(cidr[1]))


def _teardown(lab: Lab) -> None:
    for ns in lab.namespaces.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False, timeout=30)


@pytest.fixture(scope="module")
def lab(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if NOT_ROOT or MISSING:
        pytest.skip("needs root and ip/nft")
    built = Lab(
        prefix=f"cs{secrets.token_hex(3)}",
        topology=topology,
        workdir=tmp_path_factory.mktemp("netns-lab"),
        hosts=tuple(topology.hosts[name] for name in LAB_HOSTS),
    )
    try:
        _build(built)
        yield built
    finally:
        _teardown(built)
        leftovers = [ns for ns in run("ip", "netns", "list").split() if ns.startswith(built.prefix)]
        assert leftovers == [], f"namespaces left behind: {leftovers}"
    assert all(ipaddress.ip_address(h.address).is_private for h in built.hosts)


REPO = Path(__file__).resolve().parents[3]
PROBE = Path(__file__).with_name("netprobe.py")
DENIED_SAMPLES = {"tcp": (22, 443, 502, 554, 8443, 23), "udp": (514, 123, 161)}
ANSIBLE = Path(sys.executable).with_name("ansible-playbook")

pytestmark = [
    needs_namespaces,
    pytest.mark.root,
    pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible-playbook is not installed"),
]


def allowed_ports(topology: Topology, src: Host, dst: Host) -> set[tuple[str, int]]:
    """What the topology allows from one host to another (TCP and UDP ports)."""
    found = set()
    for flow in topology.model.flows:
        if (
            flow.source == src.segment
            and flow.source_host in (None, src.name)
            and flow.destination == dst.segment
            and flow.destination_host in (None, dst.name)
            and flow.protocol in ("tcp", "udp")
        ):
            found |= {(flow.protocol, port) for port in flow.ports}
    return found


def probe_plan(lab: Lab) -> list[tuple[Host, Host, str, int, bool]]:
    """Every allowed port, plus one denied TCP and one denied UDP port, per ordered pair."""
    plan = []
    for src in lab.hosts:
        for dst in lab.hosts:
            if src is dst:
                continue
            allowed = allowed_ports(lab.topology, src, dst)
            plan += [(src, dst, proto, port, True) for proto, port in sorted(allowed)]
            for proto, ports in DENIED_SAMPLES.items():
                denied = next(p for p in ports if (proto, p) not in allowed)
                plan.append((src, dst, proto, denied, False))
    return plan


def inventory(lab: Lab) -> dict[str, Any]:
    common = {
        "ansible_connection": "local",
        "nftables_install_package": False,
        "nftables_manage_service": False,
    }
    hosts: dict[str, Any] = {}
    for host in lab.hosts:
        hosts[host.name] = {**common, **nftables_vars(lab.topology, host)}
    hosts["router"] = {**common, **router_vars(lab.topology)}
    for name, found in hosts.items():
        found["ansible_python_interpreter"] = str(lab.interpreter(name))
        found["nftables_rules_path"] = str(lab.workdir / "rules" / f"{name}.nft")
    return {"all": {"hosts": hosts}}


def apply_role(lab: Lab) -> dict[str, int]:
    """Run the nftables role on every namespace host; return changed= per host."""
    (lab.workdir / "inventory.json").write_text(json.dumps(inventory(lab)))
    (lab.workdir / "nftables.yml").write_text(
        "- name: Enforce the segmentation on the namespace hosts\n  hosts: all\n"
        "  gather_facts: false\n  roles:\n"
        f"    - role: {REPO / 'playbooks' / 'roles' / 'nftables'}\n"
    )
    env = {
        **os.environ,
        "ANSIBLE_FORKS": "10",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_LOCAL_TEMP": str(lab.workdir / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(lab.workdir / "tmp"),
        "PATH": f"{ANSIBLE.parent}:/usr/sbin:/usr/bin:/sbin:/bin",
    }
    result = subprocess.run(
        [
            str(ANSIBLE),
            "-i",
            str(lab.workdir / "inventory.json"),
            str(lab.workdir / "nftables.yml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE)
    return {host: int(changed) for host, changed in recap}


def run_probes(lab: Lab, plan: list[tuple[Host, Host, str, int, bool]]) -> list[bool]:
    listen: dict[str, set[int]] = {"tcp": set(), "udp": set()}
    for _, _, proto, port, _ in plan:
        listen[proto].add(port)
    spec = json.dumps({k: sorted(v) for k, v in listen.items()})
    servers = []
    try:
        for host in lab.hosts:
            server = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    lab.netns(host.name),
                    sys.executable,
                    str(PROBE),
                    "serve",
                    spec,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            servers.append(server)
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        return _probe_from_every_host(lab, plan)
    finally:
        for server in servers:
            server.kill()
            server.wait(timeout=10)


def _probe_from_every_host(lab: Lab, plan: list[tuple[Host, Host, str, int, bool]]) -> list[bool]:
    clients = {}
    for src in lab.hosts:
        probes = [
            {"proto": p, "addr": str(d.address), "port": n} for s, d, p, n, _ in plan if s is src
        ]
        clients[src.name] = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                lab.netns(src.name),
                sys.executable,
                str(PROBE),
                "probe",
                json.dumps(probes),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    outcomes = {name: iter(json.loads(c.communicate(timeout=60)[0])) for name, c in clients.items()}
    return [next(outcomes[src.name]) for src, *_ in plan]


@pytest.fixture(scope="module")
def first_run(lab: Lab) -> dict[str, int]:
    return apply_role(lab)


def test_the_role_loads_each_hosts_rules(lab: Lab, first_run: dict[str, int]) -> None:
    assert set(first_run) == {h.name for h in lab.hosts} | {"router"}
    assert all(changed > 0 for changed in first_run.values())
    argv = ["ip", "netns", "exec", lab.netns("cam-q1-0011"), "nft", "list", "table", "inet"]
    loaded = subprocess.run([*argv, "citysoc"], capture_output=True, text=True, check=True)
    assert "10.50.0.11 udp dport { 123, 514 } accept" in loaded.stdout


def test_allowed_flows_pass_and_denied_flows_drop(lab: Lab, first_run: dict[str, int]) -> None:
    plan = probe_plan(lab)
    results = run_probes(lab, plan)
    wrong = [
        f"{s.name}->{d.name} {proto}/{port}: expected {'pass' if ok else 'drop'}"
        for (s, d, proto, port, ok), got in zip(plan, results, strict=True)
        if got != ok
    ]
    assert wrong == []
    assert sum(ok for *_, ok in plan) >= 15  # the sample holds real allowed flows
    pairs = {(s.segment, d.segment) for s, d, *_ in plan}
    segments = {h.segment for h in lab.hosts}
    assert {(a, b) for a in segments for b in segments if a != b} <= pairs


def test_a_second_run_changes_nothing(lab: Lab, first_run: dict[str, int]) -> None:
    assert apply_role(lab) == dict.fromkeys(first_run, 0)
