"""``box up``, ``down``, ``status`` and ``converge``: the city in a box as a whole.

Layout of the cache (git-ignored): ``base-bookworm/`` (the base image) and its stamp,
``packages/{apt,wheels}/`` (the package source), ``ssh/`` (the ops key) and, per stack,
``<stack>/`` with ``state.json``, the generated inventories, ``ssh_config``, ``known_hosts``,
the playbook logs and ``hosts/<name>/{upper,work,root,console.log}``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybox import cgroups, network
from citybox.base_image import ensure_base_image
from citybox.converge import (
    Recap,
    ansible_cfg,
    box_inventory,
    playbook,
    router_inventory,
    ssh_config,
    ssh_key,
    write_json,
)
from citybox.hosts import (
    HostDirs,
    alive,
    boot,
    disk_bytes,
    ended,
    memory_bytes,
    mount_root,
    seed,
    stop,
    system_state,
    unmount_root,
    wait_ready,
)
from citybox.packages import ensure_apt_repo, ensure_engine, ensure_wheelhouse, serve
from citybox.plan import BoxHost, BoxPlan, make_plan
from citybox.secrets import issue, make_ca, write_secrets
from citybox.signing import ensure_key, sign_repository, verify_repository
from citybox.state import BoxState, HostState
from citysoc.core.errors import BoxError
from citysoc.core.topology import Topology, load_topology

log = logging.getLogger(__name__)

# A host whose nspawn ends while it boots is booted again from a fresh root, up to this often.
BOOT_ATTEMPTS = 3


@dataclass(frozen=True)
class BoxPaths:
    repo: Path
    cache: Path
    stack: str

    @property
    def base(self) -> Path:
        return self.cache / "base-bookworm"

    @property
    def packages(self) -> Path:
        return self.cache / "packages"

    @property
    def folder(self) -> Path:
        return self.cache / self.stack

    @property
    def state(self) -> Path:
        return self.folder / "state.json"

    def host(self, name: str) -> HostDirs:
        return HostDirs(self.folder / "hosts" / name)


def load_stack(repo: Path, stack: str) -> tuple[Topology, dict[str, Any]]:
    """The stack's topology and the inventory its program outputs (planned offline)."""
    from infra.offline import run_offline, stack_config_file

    config = stack_config_file(stack, repo)
    topology = load_topology(repo / config.get("citysoc:topology", "citysoc/core/cities/hcmc.yml"))
    return topology, dict(run_offline(stack, config).inventory)


def check_tools() -> None:
    if os.geteuid() != 0:
        raise BoxError("the city in a box needs root (namespaces, mounts, systemd-nspawn)")
    missing = [
        t
        for t in ("debootstrap", "systemd-nspawn", "ip", "tc", "nft", "nsenter", "ssh")
        if shutil.which(t) is None
    ]
    if missing:
        raise BoxError(
            f"missing tools: {', '.join(missing)} "
            "(apt-get install debootstrap systemd-container iproute2 nftables openssh-client)"
        )


def up(paths: BoxPaths, uv: Path) -> BoxState:
    """Build what is missing, lay out the network, boot every host in parallel."""
    check_tools()
    if BoxState.load(paths.state) is not None or network.box_namespaces():
        raise BoxError(
            f"a box is already up (or half down): citysoc box down --stack {paths.stack}"
        )
    started = time.monotonic()
    topology, inventory = load_stack(paths.repo, paths.stack)
    plan = make_plan(paths.stack, topology, inventory)
    base = ensure_base_image(paths.base)
    ensure_apt_repo(paths.base, paths.packages / "apt")
    sign_repository(paths.packages / "apt", paths.cache / "gnupg")
    verify_repository(paths.packages / "apt", paths.cache / "gnupg")
    apt_key = ensure_key(paths.cache / "gnupg")
    ensure_wheelhouse(paths.repo, paths.packages / "wheels", uv)
    engine = ensure_engine(paths.repo, paths.packages / "engine")
    key = ssh_key(paths.cache)
    state = BoxState(stack=paths.stack, operator_address=plan.operator_address)
    state.timings["base_image_build_seconds"] = base.build_seconds
    state.timings["prepare_seconds"] = round(time.monotonic() - started, 1)
    state.save(paths.state)
    try:
        _lay_out(
            paths, plan, topology, inventory, state, engine=engine is not None, apt_key=apt_key
        )
        _boot_all(paths, plan, base.path, key, state)
    except BaseException:
        log.error("box up failed: taking down what was made")
        down(paths)
        raise
    state.timings["up_seconds"] = round(time.monotonic() - started, 1)
    state.save(paths.state)
    return state


def _lay_out(
    paths: BoxPaths,
    plan: BoxPlan,
    topology: Topology,
    inventory: dict[str, Any],
    state: BoxState,
    *,
    engine: bool,
    apt_key: str,
) -> None:
    from infra.inventory import router_vars

    paths.folder.mkdir(parents=True, exist_ok=True)
    state.routers = [r.netns for r in plan.routers]
    state.save(paths.state)
    network.build_network(plan)
    state.server_pid = serve(paths.packages, plan.operator_ip, paths.folder / "packages.log")
    state.save(paths.state)
    key = paths.cache / "ssh" / "id_ed25519"
    known = paths.folder / "known_hosts"
    known.unlink(missing_ok=True)
    bastion = plan.host(
        next(h.name for h in plan.hosts if h.soc and h.segment == plan.operator_segment)
    )
    config = paths.folder / "ssh_config"
    config.write_text(ssh_config(plan, key, known, bastion.address.split("/")[0]), encoding="utf-8")
    write_json(
        paths.folder / "inventory.json",
        box_inventory(plan, inventory, config, engine=engine, apt_key=apt_key),
    )
    routers = paths.folder / "routers"
    routers.mkdir(exist_ok=True)
    write_json(
        paths.folder / "routers.json", router_inventory(plan, router_vars(topology), routers)
    )
    ansible_cfg(paths.folder, paths.repo / "playbooks" / "roles")
    api = next((h for h in plan.hosts if h.name in _group(inventory, "soc_api")), None)
    tls = paths.folder / "tls"
    make_ca(tls)
    issued = issue(tls, api.name, api.address.split("/")[0]) if api else None
    store = next((h for h in plan.hosts if h.name in _group(inventory, "event_store")), None)
    store_cert = issue(tls, store.name, store.address.split("/")[0]) if store else None
    write_secrets(paths.folder, issued, store_cert)
    playbook(
        paths.folder, paths.folder / "routers.json", paths.repo / "playbooks" / "box-routers.yml"
    )


def _group(inventory: dict[str, Any], group: str) -> set[str]:
    children = inventory.get("all", {}).get("children", {})
    return set((children.get(group) or {}).get("hosts") or {})


def _boot_all(paths: BoxPaths, plan: BoxPlan, base: Path, key: Path, state: BoxState) -> None:
    """Mount every root, then seed, boot and wait for each host in parallel."""
    public = key.with_suffix(".pub").read_text(encoding="utf-8")
    lock = threading.Lock()
    entries = {}
    for host in plan.hosts:
        dirs = paths.host(host.name)
        if dirs.top.exists():
            shutil.rmtree(dirs.top)
        mount_root(base, dirs)
        entries[host.name] = HostState(
            name=host.name,
            netns=host.netns,
            address=host.address,
            segment=host.segment,
            soc=host.soc,
            root=str(dirs.root),
        )
        state.hosts.append(entries[host.name])
    state.save(paths.state)

    def one(host: BoxHost) -> None:
        dirs = paths.host(host.name)
        seed(dirs, host, public)
        launched = time.monotonic()
        for attempt in range(1, BOOT_ATTEMPTS + 1):
            process = boot(host, dirs)
            with lock:
                entries[host.name].pid = process.pid
                state.save(paths.state)
            try:
                wait_ready(process, host.name)
                break
            except BoxError as error:
                if attempt == BOOT_ATTEMPTS or ended(process) is None:
                    raise BoxError(f"{error} (console: {dirs.console})") from error
                # Its console log is kept beside the box (the host's folder goes when the box
                # is taken down); the host is booted again from a fresh root.
                kept = paths.folder / f"{host.name}-console-{attempt}.log"
                shutil.copyfile(dirs.console, kept)
                log.warning("%s; booting it again from a fresh root (console: %s)", error, kept)
                cgroups.kill(cgroups.host_groups(host.name))  # what outlived its nspawn
                _fresh_root(base, dirs)
                seed(dirs, host, public)
        entries[host.name].boot_seconds = round(time.monotonic() - launched, 1)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(plan.hosts)) as pool:
        for future in [pool.submit(one, host) for host in plan.hosts]:
            future.result()
    state.timings["boot_all_seconds"] = round(time.monotonic() - started, 1)
    state.save(paths.state)


def _fresh_root(base: Path, dirs: HostDirs) -> None:
    """The host's root as it was before its first boot: the base image and nothing more."""
    unmount_root(dirs)
    for folder in (dirs.upper, dirs.work):
        shutil.rmtree(folder)
    mount_root(base, dirs)


def down(paths: BoxPaths) -> list[str]:
    """Stop every host by its nspawn pid, unmount, delete namespaces and the operator link."""
    removed: list[str] = []
    state = BoxState.load(paths.state)
    if state is not None:
        with ThreadPoolExecutor(max_workers=max(1, len(state.hosts))) as pool:
            list(pool.map(lambda h: stop(h.pid, h.name) if h.pid else None, state.hosts))
        removed += [f"host {h.name}" for h in state.hosts if h.pid]
        if state.server_pid and _is_our_server(state.server_pid):
            stop_server(state.server_pid)
            removed.append(f"package source (pid {state.server_pid})")
    left = cgroups.kill(cgroups.box_groups())
    if left:
        log.warning("killed %d processes the hosts left behind", len(left))
        removed.append(f"{len(left)} processes the hosts left behind")
    cgroups.remove(cgroups.box_groups())
    hosts = paths.folder / "hosts"
    for top in sorted(hosts.glob("*")) if hosts.is_dir() else []:
        dirs = HostDirs(top)
        unmount_root(dirs)
        shutil.rmtree(top)
    removed += network.remove_network()
    for name in ("state.json", "known_hosts", "secrets.yml"):
        (paths.folder / name).unlink(missing_ok=True)
    if (paths.folder / "tls").is_dir():
        shutil.rmtree(paths.folder / "tls")
    for socket in paths.folder.glob("cm-*") if paths.folder.is_dir() else []:
        socket.unlink()
    return removed


def _is_our_server(pid: int) -> bool:
    try:
        return b"http.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def stop_server(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not _is_our_server(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class HostStatus:
    name: str
    pid: int | None
    address: str
    segment: str
    state: str
    memory_bytes: int
    disk_bytes: int


def status(paths: BoxPaths) -> list[HostStatus]:
    state = BoxState.load(paths.state)
    if state is None:
        return []
    found = []
    for host in state.hosts:
        running = bool(host.pid and alive(host.pid))
        found.append(
            HostStatus(
                host.name,
                host.pid,
                host.address,
                host.segment,
                system_state(host.pid) if host.pid and running else "offline",
                memory_bytes(host.pid) if host.pid and running else 0,
                disk_bytes(paths.host(host.name)),
            )
        )
    return found


def converge(paths: BoxPaths, extra: list[str] | None = None) -> tuple[list[Recap], float]:
    """``ansible-playbook playbooks/site.yml`` on the box; the recap and seconds taken."""
    if BoxState.load(paths.state) is None:
        raise BoxError(f"no box is up: citysoc box up --stack {paths.stack}")
    started = time.monotonic()
    secrets = ["-e", f"@{paths.folder / 'secrets.yml'}"]
    recaps, _ = playbook(
        paths.folder,
        paths.folder / "inventory.json",
        paths.repo / "playbooks" / "site.yml",
        [*secrets, *(extra or [])],
    )
    return recaps, time.monotonic() - started
