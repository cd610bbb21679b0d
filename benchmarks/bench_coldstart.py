"""Cold start: a fresh clone's ``make demo`` until the console answers; ``citysoc --help``.

For each case it clones this repository (``git clone`` of the local checkout, committed state
only) into a temporary folder, runs the README's demo command there as a user would
(``make demo``, the API on a free port of 127.0.0.1 through ``CITYSOC_API_PORT``) and times,
from the command's start:

* each step the bootstrap announces (its ``==>`` lines: installing uv, the locked
  dependencies, the background native build);
* the console URL printed, and the console answering HTTP 200 on 127.0.0.1 (polled every
  0.1 s, redirects followed): the cold-start figure;
* the demo's samples stored and its first detections run (its log line);
* the CPU time of the whole process tree until the console answered (what a loaded machine
  does not inflate), read from ``/proc`` for every process of the demo's process group.

Then it stops the demo with Ctrl-C (SIGINT to its own process group), ends what is left of the
group (the background native build) with SIGTERM, and removes the clone.

Cases (``--cases``, default ``warm,fresh-native``):

* ``warm``: the machine's caches as they are: uv's package cache, pip's cache (for the uv it
  installs into ``.tools/``) and citysoc's native-build cache (``CITYSOC_NATIVE_CACHE_DIR``);
* ``fresh-native``: the same with an empty native-build cache of its own (a temporary folder
  given through ``CITYSOC_NATIVE_CACHE_DIR``): the hot path is compiled in the background while
  the demo runs. Shared caches are never cleared;
* ``uv-offline``: as ``warm`` with ``UV_OFFLINE=1``: whether the locked dependencies need the
  package registry when uv's cache is warm (pip still fetches uv itself);
* ``offline``: as ``warm`` with ``UV_OFFLINE=1`` and ``PIP_NO_INDEX=1``: whether a warm machine
  needs the package registries at all (the step that needs them fails and is named).

In the first case that starts, it also times ``citysoc --help`` (median of ``--runs``, wall and
CPU), ``python -c pass`` of the same interpreter for scale, and ``citysoc rules validate``.

    .venv/bin/python benchmarks/bench_coldstart.py
    .venv/bin/python benchmarks/bench_coldstart.py --cases warm,fresh-native,offline --json out.json

Network: the demo binds 127.0.0.1 only and is polled there; the bootstrap reaches the package
registries through pip and uv, as ``make demo`` does, unless the case forbids it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_CONSOLE_SECONDS = 60.0
GOAL_HELP_SECONDS = 1.0
DEMO_DATA_WAIT = 60.0  # after the console answers, for the samples and first detections
CASES = ("warm", "fresh-native", "uv-offline", "offline")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Case:
    name: str
    ok: bool = False
    console_url_s: float | None = None
    console_http_s: float | None = None
    demo_data_s: float | None = None
    tree_cpu_s: float | None = None
    steps: list[tuple[float, str]] = field(default_factory=list)
    native: str = ""
    caches: dict[str, str] = field(default_factory=dict)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    failure: str = ""


@dataclass
class Timing:
    command: str
    runs: int
    wall_median_s: float
    wall_min_s: float
    cpu_median_s: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its CITYSOC_ settings, plus the case's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYSOC_")}
    env.update(extra)
    return env


def group_stats(pgid: int) -> list[list[str]]:
    """The ``/proc/PID/stat`` fields (from the state on) of every process of a group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid:
            found.append(fields)
    return found


def group_cpu(pgid: int) -> float:
    """CPU seconds of every live process of a group, with the children each has reaped."""
    ticks = sum(sum(int(v) for v in fields[11:15]) for fields in group_stats(pgid))
    return ticks / TICK  # utime stime cutime cstime


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (an exited one left unreaped does not)."""
    return any(fields[0] != "Z" for fields in group_stats(pgid))


def stop_group(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C to the demo's own process group; then SIGTERM, SIGKILL to what stays."""
    pgid = proc.pid
    for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if not group_alive(pgid):
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and group_alive(pgid):
            proc.poll()
            time.sleep(0.1)
    proc.wait(timeout=10)


def clone(into: Path) -> Path:
    target = into / "citysoc"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True)
    return target


def poll_console(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # 127.0.0.1 only
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run_case(name: str, workdir: Path, timeout: float, timings: list[Timing], runs: int) -> Case:
    case = Case(name, load_before=os.getloadavg())
    checkout = clone(workdir)
    port = free_port()
    extra = {"CITYSOC_API_HOST": "127.0.0.1", "CITYSOC_API_PORT": str(port)}
    if name == "fresh-native":
        extra["CITYSOC_NATIVE_CACHE_DIR"] = str(workdir / "native-cache")
    if name == "uv-offline":
        extra["UV_OFFLINE"] = "1"
    if name == "offline":
        extra.update({"UV_OFFLINE": "1", "PIP_NO_INDEX": "1"})
    env = child_env(extra)
    case.caches = caches_of(env)
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "demo"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopped as one, by its pid
    )
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=read_lines, args=(proc, started, lines), daemon=True)
    reader.start()
    try:
        deadline = started + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if case.console_http_s is None and poll_console(url):
                case.console_http_s = time.monotonic() - started
                case.tree_cpu_s = group_cpu(proc.pid)
            if case.console_http_s is not None and (
                demo_data_time(lines) is not None
                or time.monotonic() - started > case.console_http_s + DEMO_DATA_WAIT
            ):
                break
            time.sleep(0.1)
        if proc.poll() is not None:
            case.failure = f"make demo exited with {proc.returncode}"
        elif case.console_http_s is None:
            case.failure = f"no console within {timeout:.0f} s"
    finally:
        if group_alive(proc.pid):  # the demo, and a background native build if one runs
            stop_group(proc)
        reader.join(timeout=5)
        case.load_after = os.getloadavg()
        try:
            if case.console_http_s is not None and not timings:  # the demo stopped: quiet
                timings.extend(time_commands(checkout, env, runs))
        finally:
            shutil.rmtree(checkout, ignore_errors=True)
    case.steps = [(t, line) for t, line in lines if line.startswith("==>")]
    case.console_url_s = next((t for t, line in lines if "Console:" in line), None)
    case.demo_data_s = demo_data_time(lines)
    case.native = native_state(lines)
    case.ok = not case.failure
    if case.failure:
        case.failure += ": " + " | ".join(line for _, line in lines[-6:])
    return case


def read_lines(proc: subprocess.Popen[str], started: float, into: list[tuple[float, str]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.append((time.monotonic() - started, line.rstrip("\n")))


def demo_data_time(lines: list[tuple[float, str]]) -> float | None:
    return next((t for t, line in list(lines) if "demo data in and detections run" in line), None)


def native_state(lines: list[tuple[float, str]]) -> str:
    text = "\n".join(line for _, line in lines)
    if "compiling the EVE hot path in the background" in text:
        return "no cached build: compiling in the background while the demo runs"
    return "restored from the native-build cache (or already built)"


def caches_of(env: dict[str, str]) -> dict[str, str]:
    home = Path(env.get("HOME", str(Path.home())))
    uv = env.get("UV_CACHE_DIR") or str(Path(env.get("XDG_CACHE_HOME", home / ".cache")) / "uv")
    pip = env.get("PIP_CACHE_DIR") or str(Path(env.get("XDG_CACHE_HOME", home / ".cache")) / "pip")
    native = env.get("CITYSOC_NATIVE_CACHE_DIR") or str(home / ".cache" / "citysoc" / "native")
    found = {
        "uv package cache": uv,
        "pip cache (uv for .tools/)": pip,
        "native-build cache": native,
    }
    shown = {k: f"{v} ({'present' if Path(v).exists() else 'empty'})" for k, v in found.items()}
    if env.get("UV_OFFLINE"):
        shown["registries"] = "uv: none (UV_OFFLINE=1)"
    if env.get("PIP_NO_INDEX"):
        shown["registries"] += "; pip: none (PIP_NO_INDEX=1)"
    return shown


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def time_commands(checkout: Path, env: dict[str, str], runs: int) -> list[Timing]:
    python, citysoc = str(checkout / ".venv/bin/python"), str(checkout / ".venv/bin/citysoc")
    result = []
    for argv, count in (
        ([python, "-c", "pass"], runs),
        ([citysoc, "--help"], runs),
        ([citysoc, "rules", "validate"], max(3, runs // 2)),
    ):
        samples = [timed(argv, checkout, env) for _ in range(count)]
        walls, cpus = [w for w, _ in samples], [c for _, c in samples]
        label = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        result.append(
            Timing(label, count, statistics.median(walls), min(walls), statistics.median(cpus))
        )
    return result


def report(cases: list[Case], timings: list[Timing]) -> None:
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    for case in cases:
        print(f"\n== case {case.name}: load average {fmt_load(case.load_before)} before, "
              f"{fmt_load(case.load_after)} after")  # fmt: skip
        for what, where in case.caches.items():
            print(f"   {what}: {where}")
        print(f"   native hot path: {case.native}")
        for at, line in case.steps:
            print(f"   {at:7.1f} s  {line}")
        if not case.ok:
            print(f"   FAILED: {case.failure}")
            continue
        http = case.console_http_s or 0.0
        print(f"   {case.console_url_s or 0:7.1f} s  console URL printed")
        print(f"   {http:7.1f} s  console answers HTTP 200 on 127.0.0.1 "
              f"({http / GOAL_CONSOLE_SECONDS:.2f} of the 60 s goal); "
              f"CPU of the process tree by then {case.tree_cpu_s:.1f} s")  # fmt: skip
        if case.demo_data_s is not None:
            print(f"   {case.demo_data_s:7.1f} s  demo samples stored and detections run")
    if timings:
        base = timings[0].wall_median_s
        print("\n== commands in the fresh clone (median wall, min wall, median CPU)")
        for t in timings:
            print(f"   {t.command:<24} x{t.runs:<3} {t.wall_median_s:6.3f} s  "
                  f"{t.wall_min_s:6.3f} s  {t.cpu_median_s:6.3f} s CPU  "
                  f"({t.wall_median_s / base:4.1f}x python -c pass)")  # fmt: skip
        helps = [t for t in timings if t.command.endswith("--help")]
        if helps:
            print(f"   citysoc --help: {helps[0].wall_median_s / GOAL_HELP_SECONDS:.2f} "
                  "of the 1 s goal")  # fmt: skip


def fmt_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.1f}" for v in load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="warm,fresh-native", help=f"of {', '.join(CASES)}")
    parser.add_argument("--runs", type=int, default=10, help="runs of each timed command")
    parser.add_argument("--timeout", type=float, default=600.0, help="per case, seconds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    names = [n for n in args.cases.split(",") if n]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)}; known: {', '.join(CASES)}")
    if shutil.which("make") is None or shutil.which("git") is None:
        parser.error("needs make and git")
    cases: list[Case] = []
    timings: list[Timing] = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"citysoc-coldstart-{name}-") as tmp:
            cases.append(run_case(name, Path(tmp), args.timeout, timings, args.runs))
    report(cases, timings)
    if args.json:
        payload = {"cases": [asdict(c) for c in cases], "commands": [asdict(t) for t in timings]}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0 if all(c.ok for c in cases if not c.name.endswith("offline")) else 1


if __name__ == "__main__":
    sys.exit(main())
