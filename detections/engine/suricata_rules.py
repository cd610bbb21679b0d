"""Suricata rules of the city: lint them, derive their variables from the topology, and build
per-segment rulesets with suricata-update from local ``file://`` sources only.

No Suricata binary is available to test with, so the linter checks what a sensor's
``suricata -T`` would refuse most often: unbalanced quotes and parentheses, missing
msg/sid/rev/classtype, duplicate sids, undefined variables, content modifiers with no
content before them, and the project's metadata (attack technique, owner, runbook, severity).
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from citysoc.core.errors import Location, RuleError
from citysoc.core.topology import Topology
from detections.engine.catalog import RULES_ROOT, RUNBOOKS_ROOT

log = logging.getLogger(__name__)

SURICATA_ROOT = RULES_ROOT / "suricata"
SID_RANGE = range(9_100_001, 9_200_000)
ACTIONS = ("alert", "drop", "reject", "pass")
HEADER = re.compile(
    r"^(\w+)\s+(\S+)\s+(\S+|\[[^\]]*\])\s+(\S+|\[[^\]]*\])\s+(->|<>)\s+(\S+|\[[^\]]*\])\s+(\S+|\[[^\]]*\])\s*\((.*)\)\s*$"
)
REQUIRED = ("msg", "sid", "rev", "classtype", "metadata")
REQUIRED_METADATA = ("attack_technique", "owner", "runbook", "severity", "citysoc_segment")
MODIFIERS = frozenset(
    {
        "nocase",
        "depth",
        "offset",
        "distance",
        "within",
        "fast_pattern",
        "rawbytes",
        "startswith",
        "endswith",
    }
)
KIND_VARIABLES = {
    "camera": "CAMERA_NET",
    "datacentre": "DC_NET",
    "ioc": "IOC_NET",
    "ics": "ICS_NET",
    "soc": "SOC_NET",
    "management": "MGMT_NET",
}
ROLE_VARIABLES = {
    "VMS_SERVERS": ("vms", "nvr"),
    "ENGINEERING_HOSTS": ("engineering",),
    "CONTROL_HOSTS": ("engineering", "scada"),
    "CAMERA_ADMIN_HOSTS": ("vms", "nvr", "bastion"),
}
PORT_GROUPS = {
    "HTTP_PORTS": "[80,8000,8080,8443]",
    "RTSP_PORTS": "[554,8554]",
    "TELNET_PORTS": "[23,2323]",
    "SSH_PORTS": "22",
    "MODBUS_PORTS": "502",
    "DNP3_PORTS": "20000",
    "WSD_PORTS": "3702",
    "DATABASE_PORTS": "[1433,1521,3306,5432]",
}
UPDATE_MAIN = "import sys; from suricata.update import main; sys.exit(main.main())"
NO_HOST = "192.0.2.0/32"
"""TEST-NET-1 stands in for a role no host has: Suricata refuses an empty address group."""


@dataclass(frozen=True)
class SuricataRule:
    path: Path
    line: int
    text: str
    sid: int
    msg: str
    metadata: dict[str, str]


def address_groups(topology: Topology) -> dict[str, str]:
    """Suricata address groups for the city: one per segment kind, per host role, plus HOME."""
    groups: dict[str, str] = {}
    cidrs = [str(s.cidr) for s in topology.model.segments]
    groups["HOME_NET"] = "[" + ",".join(cidrs) + "]"
    groups["EXTERNAL_NET"] = "!$HOME_NET"
    for kind, variable in KIND_VARIABLES.items():
        nets = [str(s.cidr) for s in topology.model.segments if s.kind == kind]
        groups[variable] = "[" + ",".join(nets) + "]" if nets else NO_HOST
    for variable, roles in ROLE_VARIABLES.items():
        hosts = [f"{h.address}/32" for h in topology.model.hosts if h.role in roles]
        groups[variable] = "[" + ",".join(hosts) + "]" if hosts else NO_HOST
    return groups


def vars_yaml(topology: Topology) -> str:
    """The ``vars:`` section of suricata.yaml for this city."""
    lines = ["vars:", "  address-groups:"]
    lines += [f'    {k}: "{v}"' for k, v in address_groups(topology).items()]
    lines += ["  port-groups:"] + [f'    {k}: "{v}"' for k, v in PORT_GROUPS.items()]
    return "\n".join(lines) + "\n"


def defined_variables(topology: Topology) -> set[str]:
    return set(address_groups(topology)) | set(PORT_GROUPS)


def rule_files(root: Path = SURICATA_ROOT) -> list[Path]:
    return sorted(root.glob("**/*.rules"))


def split_options(body: str) -> list[tuple[str, str]]:
    """``key:value;`` pairs of a rule body, honouring quotes and backslash escapes."""
    options, current, quoted, escaped = [], [], False, False
    for char in body:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == ";" and not quoted:
            options.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        options.append("".join(current).strip())
    return [(o.partition(":")[0].strip(), o.partition(":")[2].strip()) for o in options if o]


def _balanced(text: str) -> str | None:
    """Why the quoting or parenthesis nesting of a rule line is broken, if it is."""
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                return "a ')' closes nothing"
    if quoted:
        return "unbalanced double quotes"
    return "unbalanced parentheses" if depth else None


def _variables_in(fields: tuple[str, ...]) -> set[str]:
    return {m for f in fields for m in re.findall(r"\$(\w+)", f)}


def _lint_options(options: list[tuple[str, str]], runbooks: Path) -> list[str]:
    problems, keys, seen_content = [], [k for k, _ in options], False
    problems += [f"missing required keyword {key!r}" for key in REQUIRED if key not in keys]
    for key, _ in options:
        if key == "content":
            seen_content = True
        elif key in MODIFIERS and not seen_content:
            problems.append(f"content modifier {key!r} has no content before it")
    values = dict(options)
    if "sid" in values and not values["sid"].isdigit():
        problems.append(f"sid {values['sid']!r} is not a number")
    elif "sid" in values and int(values["sid"]) not in SID_RANGE:
        problems.append(f"sid {values['sid']} outside the project range {SID_RANGE.start}+")
    meta = parse_metadata(values.get("metadata", ""))
    problems += [
        f"metadata lacks {key}"
        for key in REQUIRED_METADATA
        if "metadata" in values and key not in meta
    ]
    if meta.get("runbook") and not (runbooks / meta["runbook"]).is_file():
        problems.append(f"runbook {meta['runbook']!r} not found")
    return problems


def parse_metadata(value: str) -> dict[str, str]:
    pairs = (item.strip().partition(" ") for item in value.split(",") if item.strip())
    return {key: rest.strip() for key, _, rest in pairs}


def lint_line(text: str, where: Location, variables: set[str], runbooks: Path) -> SuricataRule:
    """One rule line, checked; every problem of the line is named in one :class:`RuleError`."""
    broken = _balanced(text)
    if broken:
        raise RuleError(broken, location=where)
    header = HEADER.match(text)
    if header is None or header.group(1) not in ACTIONS:
        raise RuleError("not a rule: action proto src sport -> dst dport (options)", location=where)
    options = split_options(header.group(8))
    problems = _lint_options(options, runbooks)
    undefined = _variables_in(header.group(3, 4, 6, 7)) - variables
    problems += [f"undefined variable ${name}" for name in sorted(undefined)]
    if problems:
        raise RuleError("; ".join(problems), location=where)
    values = dict(options)
    return SuricataRule(
        Path(where.source), where.line or 0, text, int(values["sid"]),
        values["msg"].strip('"'), parse_metadata(values["metadata"]),
    )  # fmt: skip


def lint_files(
    paths: list[Path], variables: set[str], runbooks: Path = RUNBOOKS_ROOT
) -> tuple[list[SuricataRule], list[RuleError]]:
    """Lint every rule of the files; sids must be unique across all of them."""
    rules: list[SuricataRule] = []
    errors: list[RuleError] = []
    sids: dict[int, Location] = {}
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            where = Location(str(path), line=number)
            try:
                rule = lint_line(line.strip(), where, variables, runbooks)
            except RuleError as exc:
                errors.append(exc)
                continue
            if rule.sid in sids:
                errors.append(
                    RuleError(f"sid {rule.sid} also used at {sids[rule.sid]}", location=where)
                )
                continue
            sids[rule.sid] = where
            rules.append(rule)
    return rules, errors


def segment_confs(topology: Topology, segment: str) -> dict[str, str]:
    """suricata-update enable/disable/modify confs for the sensor of one segment."""
    seg = topology.segments.get(segment)
    if seg is None:
        raise RuleError(f"unknown segment {segment!r}; known: {', '.join(topology.segments)}")
    others = sorted(k for k in KIND_VARIABLES if k != seg.kind)
    disable = "".join(f"metadata: citysoc_segment {kind}\n" for kind in others)
    enable = f"metadata: citysoc_segment {seg.kind}\nmetadata: citysoc_segment any\n"
    # Inline (IPS) sensors guard level 4+ segments: rules marked for blocking become drops.
    modify = '"re:citysoc_ips drop" "^alert" "drop"\n' if seg.security_level >= 4 else ""
    return {"disable.conf": disable, "enable.conf": enable, "modify.conf": modify}


def build_ruleset(
    topology: Topology, segment: str, out: Path, sources: list[Path] | None = None
) -> Path:
    """Run suricata-update offline for one segment; returns the merged rules file."""
    sources = sources or rule_files()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="citysoc-suricata-") as work:
        workdir = Path(work)
        for name, text in segment_confs(topology, segment).items():
            (workdir / name).write_text(text, encoding="utf-8")
        (workdir / "update.yaml").write_text("{}\n", encoding="utf-8")
        command = [
            sys.executable, "-c", UPDATE_MAIN, "-c", str(workdir / "update.yaml"),
            "-D", str(workdir / "data"), "-o", str(out), "--suricata-version", "7.0.3",
            "--no-test", "--no-reload", "--disable-conf", str(workdir / "disable.conf"),
            "--enable-conf", str(workdir / "enable.conf"), "--modify-conf",
            str(workdir / "modify.conf"), "--quiet",
        ]  # fmt: skip
        for source in sources:
            command += ["--url", source.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuleError(f"suricata-update failed: {done.stderr.strip()[-2000:]}")
    log.info("built the %s ruleset in %s", segment, out)
    return out / "suricata.rules"
