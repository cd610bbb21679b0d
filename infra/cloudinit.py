"""cloud-init user data for the SOC's hosts: enough for Ansible to take over."""

from __future__ import annotations

import yaml

from citysoc.core.topology import Host, Topology
from infra.stackconfig import StackConfig

OPS_USER = "citysoc-ops"


def user_data(topology: Topology, host: Host, config: StackConfig | None = None) -> str:
    """Hostname, the ops account (holding the key pair's key), Python for Ansible, password
    logins off, time from the SOC, and apt through the stack's package source (the only way
    out the security groups allow). It reaches the host on a config drive: the security
    groups open no way to the metadata service."""
    config = config or StackConfig()
    collector = topology.collector_of(host.segment)
    document: dict[str, object] = {
        "hostname": host.name,
        "fqdn": f"{host.name}.citysoc.internal",
        "manage_etc_hosts": True,
        # The ops account is the image's default user, so that it is the one given the Nova
        # key pair's public key (a second account in `users` would get no key at all).
        "system_info": {
            "default_user": {
                "name": OPS_USER,
                "gecos": "citysoc operations",
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": ["ALL=(ALL) NOPASSWD:ALL"],
                "lock_passwd": True,
            }
        },
        "users": ["default"],
        "ssh_pwauth": False,
        "disable_root": True,
        "package_update": True,
        "packages": ["python3", "python3-apt", "nftables", "chrony"],
        "write_files": [
            {
                "path": "/etc/citysoc/host.yml",
                "permissions": "0644",
                "content": yaml.safe_dump(
                    {
                        "name": host.name,
                        "role": host.role,
                        "segment": host.segment,
                        "city": topology.model.city,
                    },
                    sort_keys=True,
                ),
            }
        ],
        "runcmd": [["systemctl", "enable", "--now", "nftables"]],
    }
    if config.package_source:
        document["apt"] = {
            "http_proxy": config.package_source,
            "https_proxy": config.package_source,
        }
    if collector is not None and collector.name != host.name:
        document["ntp"] = {"enabled": True, "servers": [str(collector.address)]}
    elif config.ntp_servers:
        document["ntp"] = {"enabled": True, "servers": list(config.ntp_servers)}
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)
