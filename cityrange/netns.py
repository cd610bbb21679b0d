"""Namespaces of the range: the ``ip`` and ``tc`` tools, and threads that live inside one.

A network namespace is a property of a thread on Linux: ``setns(2)`` moves only the calling
thread, so a victim's responder or an attacker runs as a thread of the range whose sockets
are made inside the host's namespace, without a process per host. Every namespace the range
makes is named ``crg-*``; removing the range removes exactly those.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from citysoc.core.errors import RangeError

log = logging.getLogger(__name__)

PREFIX = "crg"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tool (``ip``, ``tc``, ``nft``); a failure is a RangeError naming the command."""
    log.debug("running %s", " ".join(argv))
    try:
        done = subprocess.run(  # noqa: S603 - argv lists, never a shell
            list(argv), capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError as exc:
        raise RangeError(f"{argv[0]} is not installed: {exc}") from exc
    if check and done.returncode != 0:
        raise RangeError(f"{' '.join(argv)} failed: {done.stderr.strip() or done.returncode}")
    return done


def range_namespaces() -> list[str]:
    """The range's namespaces that exist now."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(f"{PREFIX}-"))


def enter(netns: str) -> None:
    """Move the calling thread into ``netns`` (for the rest of the thread's life)."""
    fd = os.open(NETNS_DIR / netns, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise RangeError(f"cannot enter network namespace {netns}: {os.strerror(err)}")
    finally:
        os.close(fd)


def thread_in(netns: str, target: Callable[[], None], name: str) -> threading.Thread:
    """A started daemon thread that runs ``target`` inside ``netns``; errors are logged."""

    def body() -> None:
        try:
            enter(netns)
            target()
        except Exception:  # a failed actor is reported, the range goes on
            log.exception("%s failed in %s", name, netns)

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread
