"""The base image every host boots from: Debian 12 minbase with systemd, sshd and Python.

Built once with ``debootstrap`` from the machine's own mirror into the cache and rebuilt only
when its package list changes (a stamp file records the list, the build time and the size).
Hosts never write to it: each boots an overlay of it. It plays the part of a Debian cloud
image after cloud-init: the ``citysoc-ops`` account with password-less sudo, no SSH host keys
(each host makes its own), no apt sources (the roles point apt at the box's package source).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from citybox.apt_sources import debian_mirror
from citybox.run import run
from citysoc.core.errors import BoxError

log = logging.getLogger(__name__)

SUITE = "bookworm"
OPS_USER = "citysoc-ops"
# What a Debian cloud image has that Ansible and the roles rely on (python3-apt for the apt
# module, sudo for become, iproute2 for the addresses).
PACKAGES = (
    "openssh-server",
    "python3",
    "python3-apt",
    "systemd",
    "systemd-sysv",
    "dbus",
    "sudo",
    "iproute2",
    "procps",
)


@dataclass(frozen=True)
class BaseImage:
    path: Path
    packages: tuple[str, ...]
    build_seconds: float
    size_bytes: int


def stamp_path(root: Path) -> Path:
    return root.with_name(root.name + ".json")


def cached(root: Path, packages: tuple[str, ...] = PACKAGES) -> BaseImage | None:
    """The image at ``root`` if it was built from exactly ``packages``."""
    stamp = stamp_path(root)
    if not stamp.is_file() or not (root / "usr/bin/python3").exists():
        return None
    found = json.loads(stamp.read_text(encoding="utf-8"))
    if tuple(found.get("packages", ())) != packages:
        return None
    return BaseImage(root, packages, float(found["build_seconds"]), int(found["size_bytes"]))


def ensure_base_image(root: Path, packages: tuple[str, ...] = PACKAGES) -> BaseImage:
    """The cached image, or a new one built now (about a minute)."""
    found = cached(root, packages)
    if found is not None:
        log.info("base image %s is up to date", root)
        return found
    if shutil.which("debootstrap") is None:
        raise BoxError("debootstrap is missing: apt-get install debootstrap systemd-container")
    mirror = debian_mirror(SUITE)
    work = root.with_name(root.name + ".new")
    if work.exists():
        shutil.rmtree(work)
    work.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log.info("building the base image in %s (debootstrap %s)", work, SUITE)
    run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            SUITE,
            work,
            mirror,
        ],
        timeout=1800,
    )
    _as_cloud_image(work)
    seconds = time.monotonic() - started
    if root.exists():
        shutil.rmtree(root)
    work.rename(root)
    size = _size(root)
    stamp = {"packages": list(packages), "build_seconds": round(seconds, 1), "size_bytes": size}
    stamp_path(root).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    log.info("base image built in %.0f s, %d MB", seconds, size // 1_000_000)
    return BaseImage(root, packages, seconds, size)


def _as_cloud_image(root: Path) -> None:
    """What cloud-init would have done on a first boot, minus anything host-specific."""
    run(["chroot", root, "useradd", "--create-home", "--shell", "/bin/bash", OPS_USER])
    sudoers = root / "etc/sudoers.d/90-citysoc-ops"
    sudoers.write_text(f"{OPS_USER} ALL=(ALL) NOPASSWD:ALL\n", encoding="utf-8")
    sudoers.chmod(0o440)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/apt/sources.list").write_text("", encoding="utf-8")
    run(["chroot", root, "apt-get", "clean"])
    for listing in (root / "var/lib/apt/lists").glob("*_*"):
        listing.unlink()
    (root / "etc/machine-id").write_text("", encoding="utf-8")
    (root / "etc/hostname").write_text("localhost\n", encoding="utf-8")


def _size(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
