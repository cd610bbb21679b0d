"""A cgroup of its own for each host.

This machine's PID 1 is not systemd, so ``systemd-nspawn`` runs with ``--keep-unit`` and puts
the container below the cgroup it was started in: ``<own>/payload`` for the container and
``<own>/supervisor`` for itself. Started straight from the box's process, every host would
get the same ``payload``: each host's systemd would make its units' cgroups
(``init.scope``, ``system.slice/ssh.service``, ...) in one tree shared with every other
host, and one host's systemd sees and acts on cgroups another host's systemd made.

So each ``systemd-nspawn`` is started in a fresh cgroup named after its host, in each
hierarchy systemd tracks processes by: the named ``systemd`` hierarchy of cgroup v1 and the
unified cgroup v2 one, whichever this machine mounts.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

BOX_GROUP = "citybox"


def hierarchies(proc: Path = Path("/proc/self")) -> list[Path]:
    """The cgroup this process is in, as a folder, in each hierarchy systemd tracks."""
    mounts: dict[str, Path] = {}
    for line in (proc / "mountinfo").read_text(encoding="utf-8").splitlines():
        before, _, after = line.partition(" - ")
        fields, (fstype, _source, options) = before.split(), after.split()[:3]
        if fstype == "cgroup2":
            mounts.setdefault("", Path(fields[4]))
        elif fstype == "cgroup" and "name=systemd" in options.split(","):
            mounts.setdefault("name=systemd", Path(fields[4]))
    found = []
    for line in (proc / "cgroup").read_text(encoding="utf-8").splitlines():
        _, controllers, path = line.split(":", 2)
        mount = mounts.get(controllers)
        if mount is not None and (mount / path.lstrip("/")).is_dir():
            found.append(mount / path.lstrip("/"))
    return found


def box_groups() -> list[Path]:
    """The box's cgroup folders, one per tracked hierarchy, each holding one per host."""
    return [top / BOX_GROUP for top in hierarchies()]


def host_groups(name: str) -> list[Path]:
    """The host's own cgroup folders, not yet made."""
    return [group / name for group in box_groups()]


def make(groups: list[Path]) -> Callable[[], None]:
    """Make the folders; return what a child runs before it executes the host's nspawn to
    move itself into them (``preexec_fn``: it runs before ``Popen`` returns, so the nspawn
    pid the box records is already in its own cgroup)."""
    procs = []
    for group in groups:
        group.mkdir(parents=True, exist_ok=True)
        procs.append(str(group / "cgroup.procs"))

    def enter() -> None:
        pid = str(os.getpid()).encode()
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    return enter


def processes(groups: list[Path]) -> set[int]:
    """Every process in the cgroups and in the cgroups below them."""
    found: set[int] = set()
    for group in groups:
        for folder, _, files in os.walk(group):
            if "cgroup.procs" in files:
                procs = (Path(folder) / "cgroup.procs").read_text(encoding="ascii")
                found.update(int(pid) for pid in procs.split())
    return found


def kill(groups: list[Path], timeout: float = 10) -> set[int]:
    """SIGKILL every process left in the cgroups (a host's systemd outlives an nspawn that was
    killed) until none is left; return the processes killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while left := processes(groups):
        if time.monotonic() > deadline:
            log.warning("%d processes stay in %s after SIGKILL", len(left), groups)
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    return killed


def remove(groups: list[Path]) -> None:
    """Remove cgroups and every cgroup below them, deepest first (a cgroup goes only once no
    process is left in it)."""
    for group in groups:
        if not group.is_dir():
            continue
        stays = []
        folders = [Path(top) for top, _, _ in os.walk(group)]
        for folder in sorted(folders, key=lambda path: -len(path.parts)):
            try:
                folder.rmdir()
            except OSError as error:
                stays.append(f"{folder} ({error.strerror})")
        if stays:
            log.warning("%d cgroups stay, the deepest %s", len(stays), stays[0])
