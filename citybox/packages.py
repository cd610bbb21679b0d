"""The box's own package source: Debian packages and the citysoc wheelhouse, served over HTTP
on the operator's address only.

- ``apt/``: the packages the roles install that the base image lacks, with every dependency
  the base image does not already have: resolved by apt itself in a throw-away overlay of the
  base image that points at the machine's own apt sources, downloaded there, then indexed
  (``dpkg-scanpackages``) as a flat repository (``deb [trusted=yes] URL/apt ./``).
- ``wheels/``: the citysoc wheel built from the checkout (``uv build``) and a wheel of every
  locked dependency (``uv export`` of the lock, built or fetched by pip), plus
  ``constraints.txt`` pinning them; hosts install with ``--no-index --find-links``.

Each part is rebuilt only when its inputs change (a stamp records them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from citybox.hosts import HostDirs, mount_root, unmount_root
from citybox.run import run

log = logging.getLogger(__name__)

PORT = 8088
# What the roles install from the box's source (the JRE for an engine-backed event store).
APT_PACKAGES = (
    "nftables",
    "ulogd2",
    "chrony",
    "auditd",
    "nginx-light",
    "openssl",
    "python3-venv",
    "rsyslog",
    "tshark",
    "curl",
    "openjdk-17-jre-headless",
)
ENGINE_TARBALL = "citysoc-engine.tar.gz"


def ensure_apt_repo(base: Path, out: Path, packages: tuple[str, ...] = APT_PACKAGES) -> float:
    """Download ``packages`` and what they need beyond the base image into ``out``; seconds."""
    stamp = out / "stamp.json"
    wanted = {"packages": list(packages), "base": _base_id(base)}
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
        return 0.0
    started = time.monotonic()
    scratch = HostDirs(out.with_name(out.name + ".scratch"))
    if scratch.top.exists():
        unmount_root(scratch)
        shutil.rmtree(scratch.top)
    mount_root(base, scratch)
    try:
        _machine_sources_into(scratch.root)
        run(["chroot", scratch.root, "apt-get", "-q", "update"], timeout=900)
        run(
            [
                "chroot",
                scratch.root,
                "apt-get",
                "-q",
                "-y",
                "--download-only",
                "install",
                *packages,
            ],
            timeout=1800,
        )
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for deb in (scratch.root / "var/cache/apt/archives").glob("*.deb"):
            shutil.copy2(deb, out / deb.name)
    finally:
        unmount_root(scratch)
        shutil.rmtree(scratch.top)
    index = run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=out).stdout
    (out / "Packages").write_text(index, encoding="utf-8")
    stamp.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    seconds = time.monotonic() - started
    log.info("box apt source: %d packages in %.0f s", len(list(out.glob("*.deb"))), seconds)
    return seconds


def _machine_sources_into(root: Path) -> None:
    """The machine's apt sources and DNS, for the throw-away overlay only."""
    for name in ("sources.list",):
        source = Path("/etc/apt") / name
        if source.is_file():
            shutil.copy2(source, root / "etc/apt" / name)
    target = root / "etc/apt/sources.list.d"
    target.mkdir(exist_ok=True)
    for path in Path("/etc/apt/sources.list.d").glob("*"):
        if path.suffix in (".sources", ".list"):
            shutil.copy2(path, target / path.name)
    resolv = root / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copy2("/etc/resolv.conf", resolv)


def _base_id(base: Path) -> str:
    stamp = base.with_name(base.name + ".json")
    return hashlib.sha256(stamp.read_bytes()).hexdigest() if stamp.is_file() else ""


def ensure_wheelhouse(repo: Path, out: Path, uv: Path) -> float:
    """The citysoc wheel and its locked dependencies as wheels in ``out``; seconds taken."""
    started = time.monotonic()
    lock = (repo / "uv.lock").read_bytes()
    stamp = out / "stamp.json"
    wanted = {"lock": hashlib.sha256(lock).hexdigest()}
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("citysoc-*.whl"):
        old.unlink()
    run([uv, "build", "--wheel", "--out-dir", out, repo], cwd=repo, timeout=600)
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == wanted:
        return time.monotonic() - started
    constraints = out / "constraints.txt"
    exported = run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
        ],
        cwd=repo,
    ).stdout
    constraints.write_text(exported, encoding="utf-8")
    python = shutil.which("python3") or sys.executable
    run(
        [
            python,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            out,
            "--requirement",
            constraints,
        ],
        cwd=repo,
        timeout=1800,
    )
    stamp.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    return time.monotonic() - started


def serve(root: Path, address: str, log_path: Path, port: int = PORT) -> int:
    """An HTTP server for ``root`` bound to ``address`` only; return its pid."""
    with log_path.open("ab") as sink:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                address,
                "--directory",
                str(root),
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def ensure_engine(repo: Path, out: Path) -> Path | None:
    """The search engine's tarball (``scripts/engine.sh dist``), or None where there is none."""
    script = repo / "scripts" / "engine.sh"
    if not script.is_file():
        return None
    tarball = out / ENGINE_TARBALL
    stamp = out / "stamp.json"
    wanted = {"script": hashlib.sha256(script.read_bytes()).hexdigest()}
    fresh = stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == wanted
    if tarball.is_file() and fresh:
        return tarball
    out.mkdir(parents=True, exist_ok=True)
    run([script, "dist", tarball], cwd=repo, timeout=1800)
    stamp.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    return tarball
