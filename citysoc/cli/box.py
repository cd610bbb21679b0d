"""``citysoc box up|down|status|converge``: the city in a box (root, debootstrap, nspawn).

Real Debian 12 hosts booted with systemd in network namespaces, from the topology and the
stack's inventory, converged by Ansible over SSH through the bastion. See docs/operations.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from citysoc.cli.output import say, table
from citysoc.core.errors import BoxError
from citysoc.core.settings import Settings

if TYPE_CHECKING:
    from citybox.box import BoxPaths

REPO = Path(__file__).resolve().parents[2]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("box", help="the city in a box: booted Debian hosts in namespaces")
    verbs = parser.add_subparsers(dest="verb", required=True)
    for verb, helptext, func in (
        ("up", "build the base image and package source if needed, boot every host", up),
        ("down", "stop every host, remove namespaces, links and mounts", down),
        ("status", "hosts, pids, addresses and systemd state", status),
        ("converge", "run ansible-playbook playbooks/site.yml on the box", converge),
    ):
        one = verbs.add_parser(verb, help=helptext)
        one.add_argument("--stack", default="hcmc-demo", help="stack name (Pulumi.<stack>.yaml)")
        one.add_argument(
            "--cache",
            type=Path,
            default=REPO / ".cache" / "box",
            help="where the base image, package source and box state live",
        )
        if verb == "converge":
            one.add_argument(
                "ansible_args",
                nargs=argparse.REMAINDER,
                help="passed to ansible-playbook (e.g. --tags, --limit)",
            )
        one.set_defaults(func=func)


def _paths(args: argparse.Namespace) -> BoxPaths:
    from citybox.box import BoxPaths

    return BoxPaths(REPO, args.cache.resolve(), args.stack)


def up(args: argparse.Namespace, _settings: Settings) -> int:
    from citybox import box

    uv = REPO / ".tools" / "bin" / "uv"
    state = box.up(_paths(args), uv if uv.exists() else Path("uv"))
    rows = [(h.name, h.pid, h.address, h.segment, f"{h.boot_seconds} s") for h in state.hosts]
    table(("host", "nspawn pid", "address", "segment", "boot"), rows)
    say(
        f"box {state.stack} up in {state.timings['up_seconds']} s; operator address "
        f"{state.operator_address}; next: citysoc box converge --stack {state.stack}"
    )
    return 0


def down(args: argparse.Namespace, _settings: Settings) -> int:
    from citybox import box

    removed = box.down(_paths(args))
    say(f"removed {len(removed)}: {', '.join(removed) if removed else 'nothing was up'}")
    return 0


def status(args: argparse.Namespace, _settings: Settings) -> int:
    from citybox import box

    found = box.status(_paths(args))
    if not found:
        say(f"no box is up for stack {args.stack}")
        return 1
    mib = 1024 * 1024
    table(
        ("host", "nspawn pid", "address", "segment", "systemd", "memory MiB", "disk MiB"),
        [
            (
                h.name,
                h.pid,
                h.address,
                h.segment,
                h.state,
                h.memory_bytes // mib,
                h.disk_bytes // mib,
            )
            for h in found
        ],
    )
    return 0


def converge(args: argparse.Namespace, _settings: Settings) -> int:
    from citybox import box

    recaps, seconds = box.converge(_paths(args), [a for a in args.ansible_args if a != "--"])
    table(
        ("host", "ok", "changed", "unreachable", "failed"),
        [(r.host, r.ok, r.changed, r.unreachable, r.failed) for r in recaps],
    )
    say(f"converged in {seconds:.0f} s, {sum(r.changed for r in recaps)} changed")
    if any(r.failed or r.unreachable for r in recaps):
        raise BoxError("some hosts failed or were unreachable")
    return 0
