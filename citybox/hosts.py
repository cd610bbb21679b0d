"""Booting and stopping hosts: an overlay of the base image, systemd-nspawn -b in a namespace.

Each host's root is an overlayfs mount (lower: the shared base image; upper: the host's own
changes), so a host costs only what it writes. Before boot the host gets what a cloud's
metadata would give it: its hostname, its own SSH host keys, and the ops account's key.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from citybox import cgroups
from citybox.base_image import OPS_USER
from citybox.plan import BoxHost
from citybox.run import run
from citysoc.core.errors import BoxError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostDirs:
    top: Path

    @property
    def upper(self) -> Path:
        return self.top / "upper"

    @property
    def work(self) -> Path:
        return self.top / "work"

    @property
    def root(self) -> Path:
        return self.top / "root"

    @property
    def console(self) -> Path:
        return self.top / "console.log"


def mount_root(base: Path, dirs: HostDirs) -> None:
    for path in (dirs.upper, dirs.work, dirs.root):
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={base},upperdir={dirs.upper},workdir={dirs.work}"
    run(["mount", "-t", "overlay", "overlay", "-o", options, dirs.root])


def seed(dirs: HostDirs, host: BoxHost, public_key: str) -> None:
    """Hostname, hosts file, fresh SSH host keys and the ops account's authorized key."""
    root = dirs.root
    (root / "etc/hostname").write_text(f"{host.name}\n", encoding="utf-8")
    address = host.address.split("/")[0]
    (root / "etc/hosts").write_text(
        f"127.0.0.1 localhost\n{address} {host.name}\n", encoding="utf-8"
    )
    run(["ssh-keygen", "-A", "-f", root])
    uid, gid = _ids(root, OPS_USER)
    ssh_dir = root / "home" / OPS_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(public_key.strip() + "\n", encoding="utf-8")
    keys.chmod(0o600)
    for path in (ssh_dir, keys):
        os.chown(path, uid, gid)


def _ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise BoxError(f"the base image has no {user} account")


def boot(host: BoxHost, dirs: HostDirs) -> subprocess.Popen[bytes]:
    """Start systemd-nspawn -b for ``host`` in its namespace."""
    argv = [
        "systemd-nspawn",
        "--boot",
        "--quiet",
        f"--directory={dirs.root}",
        f"--machine={host.name}",
        f"--network-namespace-path=/run/netns/{host.netns}",
        "--register=no",
        "--keep-unit",
        "--console=read-only",
        # the sensor captures on its mirror interfaces; nftables needs the namespace's netfilter
        "--capability=CAP_NET_ADMIN,CAP_NET_RAW",
    ]
    enter_own_cgroup = cgroups.make(cgroups.host_groups(host.name))
    with dirs.console.open("ab") as console:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            preexec_fn=enter_own_cgroup,  # two writes in the child, no lock taken
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.info("booting %s (nspawn pid %d)", host.name, process.pid)
    return process


def ended(process: subprocess.Popen[bytes]) -> str | None:
    """How a host's nspawn ended (``None`` while it runs)."""
    code = process.poll()
    if code is None:
        return None
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"


def leader(nspawn_pid: int) -> int | None:
    """The container's PID 1 as the machine sees it (nspawn's child), or None."""
    for task in Path(f"/proc/{nspawn_pid}/task").glob("*"):
        children = (task / "children").read_text(encoding="utf-8").split()
        if children:
            return int(children[0])
    return None


def inside(
    nspawn_pid: int, argv: list[str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the container's namespaces (mount, pid, network, ...)."""
    pid = leader(nspawn_pid)
    if pid is None:
        raise BoxError(f"nspawn {nspawn_pid} has no container (yet)")
    return run(
        ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--", *argv],
        check=False,
        timeout=timeout,
    )


def system_state(nspawn_pid: int) -> str:
    """``systemctl is-system-running`` inside the host (``offline`` when it is not there)."""
    if not alive(nspawn_pid):
        return "offline"
    try:
        done = inside(nspawn_pid, ["systemctl", "is-system-running"])
    except BoxError:
        return "starting"
    return done.stdout.strip() or "starting"


def wait_ready(process: subprocess.Popen[bytes], name: str, timeout: float = 180) -> float:
    """Wait for systemd to finish booting (running or degraded) and sshd; return seconds."""
    started = time.monotonic()
    nspawn_pid = process.pid
    while time.monotonic() - started < timeout:
        how = ended(process)
        if how is not None:
            raise BoxError(f"{name} stopped while booting: systemd-nspawn {how}")
        state = system_state(nspawn_pid)
        if state in ("running", "degraded"):
            ssh = inside(nspawn_pid, ["systemctl", "is-active", "ssh"]).stdout.strip()
            if ssh == "active":
                return time.monotonic() - started
        time.sleep(0.5)
    raise BoxError(f"{name} did not finish booting in {timeout:.0f} s")


def memory_bytes(nspawn_pid: int) -> int:
    """Resident memory of every process in the host's PID namespace (shared pages counted
    once per process, as ``ps`` does)."""
    pid = leader(nspawn_pid)
    if pid is None:
        return 0
    try:
        namespace = Path(f"/proc/{pid}/ns/pid").stat().st_ino
    except FileNotFoundError:
        return 0
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "ns" / "pid").stat().st_ino != namespace:
                continue
            fields = (proc / "statm").read_text(encoding="utf-8").split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        total += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def disk_bytes(dirs: HostDirs) -> int:
    """What the host wrote on top of the base image (its overlay's upper folder)."""
    return sum(
        p.lstat().st_size for p in dirs.upper.rglob("*") if p.is_file() and not p.is_symlink()
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"systemd-nspawn")


def stop(nspawn_pid: int, name: str, timeout: float = 45) -> None:
    """Orderly shutdown (nspawn turns SIGTERM into the container's poweroff), then SIGKILL."""
    if not alive(nspawn_pid):
        return
    # poweroff inside first; SIGTERM makes nspawn ask the container's PID 1 to do the same.
    try:
        inside(nspawn_pid, ["systemctl", "--no-block", "poweroff"], timeout=10)
    except BoxError:
        log.debug("%s: no systemctl poweroff, sending SIGTERM", name)
    os.kill(nspawn_pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(nspawn_pid):
            return
        time.sleep(0.2)
    # The container's init dying ends its whole PID namespace; then nspawn itself.
    pid = leader(nspawn_pid)
    log.warning("%s did not power off in %.0f s: killing its init %s", name, timeout, pid)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
    os.killpg(nspawn_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(nspawn_pid) and time.monotonic() < deadline:
        time.sleep(0.2)


def unmount_root(dirs: HostDirs) -> None:
    if os.path.ismount(dirs.root):
        run(["umount", dirs.root])
