"""Ansible glue: the stack's inventory made to reach the box, and the playbook runs.

The stack's inventory is used as it is, with only what differs on this machine laid over it:
the box's SSH key and known hosts (an ``ssh_config`` given with ``-F``, which ``ProxyJump``
passes on to the jump connection), the package source served on the operator's address, and
the operator's address allowed into the bastion. Routers are namespaces, not hosts: the
nftables role converges them locally, each through a Python started inside its namespace.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybox.base_image import OPS_USER
from citybox.packages import ENGINE_TARBALL, PORT
from citybox.plan import BoxPlan, mirror_interface
from citybox.run import run
from citysoc.core.errors import BoxError

log = logging.getLogger(__name__)

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


@dataclass(frozen=True)
class Recap:
    host: str
    ok: int
    changed: int
    unreachable: int
    failed: int


def ssh_key(cache: Path) -> Path:
    """The box's ops key (ed25519, made once, kept in the cache)."""
    key = cache / "ssh" / "id_ed25519"
    if not key.is_file():
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "citybox-ops", "-f", key])
    return key


def ssh_config(plan: BoxPlan, key: Path, known_hosts: Path, bastion: str) -> str:
    return "\n".join(
        [
            f"Host {bastion}",
            "  ProxyJump none",
            "Host *",
            f"  User {OPS_USER}",
            f"  IdentityFile {key}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {known_hosts}",
            "  StrictHostKeyChecking accept-new",
            "  ConnectTimeout 10",
            "  ServerAliveInterval 15",
            "  ServerAliveCountMax 4",
            "",
        ]
    )


def package_source(plan: BoxPlan, engine: bool, apt_key: str) -> dict[str, str]:
    """The roles' ``citysoc_package_source``: the box's signed apt repository (with the public
    key apt trusts it by), its wheelhouse and the engine tarball."""
    base = f"http://{plan.operator_ip}:{PORT}"
    found = {"apt": f"{base}/apt", "apt_key": apt_key, "wheels": f"{base}/wheels"}
    if engine:
        found["engine"] = f"{base}/engine/{ENGINE_TARBALL}"
    return found


def box_inventory(
    plan: BoxPlan, inventory: Mapping[str, Any], config: Path, *, engine: bool, apt_key: str
) -> dict[str, Any]:
    """The stack's inventory with the box's connection, package source and operator access."""
    found = copy.deepcopy(dict(inventory))
    everyone = found.setdefault("all", {}).setdefault("vars", {})
    to_source = {
        "protocol": "tcp",
        "ports": [PORT],
        "to": f"{plan.operator_ip}/32",
        "family": "ip",
        "description": "The box's package source",
    }
    everyone.update(
        {
            "citysoc_package_source": package_source(plan, engine, apt_key),
            # Two cores and 24 GiB for the whole city: a small heap for the one engine node.
            "event_store_es_heap": "512m",
            "nftables_extra_output": [to_source],
        }
    )
    bastion = next(h for h in plan.hosts if h.soc and h.segment == plan.operator_segment)
    operator = {
        "protocol": "tcp",
        "ports": [22],
        "from": f"{plan.operator_ip}/32",
        "family": "ip",
        "description": "Operators reach the bastion over SSH",
    }
    store = next(
        (
            str(v["collector_event_store_url"])
            for _, v in _host_entries(found)
            if v.get("collector_event_store_url")
        ),
        "",
    )
    for name, hostvars in _host_entries(found):
        if "suricata_sensor_segments" in hostvars:  # no Suricata here: citysoc captures
            box_host = plan.host(name)
            hostvars["suricata_sensor_engine"] = "citysoc"
            hostvars["suricata_sensor_interfaces"] = [mirror_interface(s) for s in box_host.mirrors]
            hostvars["suricata_sensor_event_store_url"] = store
        theirs = str(hostvars.get("ansible_ssh_common_args", ""))
        hostvars["ansible_ssh_common_args"] = f"-F {config} {theirs}".strip()
        if name == bastion.name:
            allowed = list(
                hostvars.get("baseline_ssh_allowed_from")
                or everyone.get("baseline_ssh_allowed_from", [])
            )
            hostvars["baseline_ssh_allowed_from"] = [*allowed, plan.operator_ip]
            hostvars["nftables_extra_input"] = [operator]
    return found


def _host_entries(inventory: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    entries: list[tuple[str, dict[str, Any]]] = []

    def walk(group: dict[str, Any]) -> None:
        for name, hostvars in (group.get("hosts") or {}).items():
            entries.append((name, hostvars))
        for child in (group.get("children") or {}).values():
            walk(child)

    walk(inventory["all"])
    return entries


def router_inventory(plan: BoxPlan, router_vars: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """Routers as local hosts whose Python runs inside their namespace."""
    to_source = {
        "protocol": "tcp",
        "ports": [PORT],
        "from": "10.0.0.0/8",
        "to": f"{plan.operator_ip}/32",
        "family": "ip",
        "description": "Hosts fetch packages from the box's package source",
    }
    hosts = {}
    for router in plan.routers:
        wrapper = folder / f"python-{router.name}"
        wrapper.write_text(
            f'#!/bin/sh\nexec ip netns exec {router.netns} python3 "$@"\n', encoding="utf-8"
        )
        wrapper.chmod(0o755)
        hosts[router.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(wrapper),
            **router_vars,
            "nftables_forward": [*router_vars.get("nftables_forward", []), to_source],
            "nftables_rules_path": str(folder / f"{router.name}.nft"),
            "nftables_table": "citysoc",
            "nftables_install_package": False,
            "nftables_manage_service": False,
        }
    return {"all": {"children": {"box_routers": {"hosts": hosts}}}}


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def ansible_cfg(folder: Path, roles: Path) -> None:
    (folder / "ansible.cfg").write_text(
        "[defaults]\n"
        f"roles_path = {roles}\n"
        "forks = 8\n"
        "interpreter_python = /usr/bin/python3\n"
        "callback_result_format = yaml\n"
        "[ssh_connection]\n"
        "pipelining = True\n",
        encoding="utf-8",
    )


def playbook(
    folder: Path, inventory: Path, book: Path, extra: list[str] | None = None, timeout: float = 3600
) -> tuple[list[Recap], str]:
    """Run ``ansible-playbook`` from ``folder`` (its ansible.cfg); the recap and the output."""
    binary = Path(sys.executable).with_name("ansible-playbook")
    if not binary.exists():
        found = shutil.which("ansible-playbook")
        if found is None:
            raise BoxError("ansible-playbook is missing: scripts/bootstrap.sh --dev")
        binary = Path(found)
    log_path = folder / f"{book.stem}.log"
    argv = [str(binary), "-i", str(inventory), str(book), *(extra or [])]
    log.info("running %s (output in %s)", " ".join(argv), log_path)
    with log_path.open("w", encoding="utf-8") as sink:
        try:
            code = subprocess.run(  # noqa: S603 - argv list
                argv,
                cwd=folder,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired as exc:
            raise BoxError(
                f"ansible-playbook {book.name} did not finish in {timeout:.0f} s"
            ) from exc
    output = log_path.read_text(encoding="utf-8")
    recaps = [
        Recap(m[1], int(m[2]), int(m[3]), int(m[4]), int(m[5]))
        for m in (RECAP.match(line) for line in output.splitlines())
        if m
    ]
    if code != 0 or not recaps:
        tail = "\n".join(output.splitlines()[-40:])
        raise BoxError(f"ansible-playbook {book.name} failed ({code}):\n{tail}")
    return recaps, output
