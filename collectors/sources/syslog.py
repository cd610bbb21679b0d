"""Syslog text (RFC 3164 and RFC 5424) to flat ECS, with parsers for the city's programs.

The header gives ``log.syslog.*``, ``host.hostname``, ``process.name``/``pid`` and the time
(RFC 3164 times carry no year or zone: they are read as UTC in the year of ``received``,
or the year before when that would put them more than a day in the future). The message
then goes to the first program parser that recognises it:

* **sshd**: ``Failed password``, ``Accepted password``/``publickey``, ``Invalid user`` (and
  the older ``Illegal user``), ``PAM: Authentication failure for illegal user``
  (``system.auth``, ``event.action`` ``ssh_login``, ``event.category`` authentication and
  session; an accepted login is typed ``info`` and ``start``), and ``Did not receive
  identification string`` (``event.action`` ``ssh_no_identification``: a connection that
  never spoke SSH, with its ``source.ip``);
* **Hikvision cameras**: ``HIKVISION: [Operation] Remote: Login failed, User: admin,
  IP: 203.0.113.50`` (``cctv.hikvision``, ``event.action`` ``camera_login``);
* **Dahua NVRs**: ``DahuaNVR: Login failed: User[admin] IP[203.0.113.50] Reason[...]`` or
  ``DahuaNVR: Login: User[op] IP[10.20.0.10] Type[Web3.0]`` (``cctv.dahua``,
  ``event.action`` ``nvr_login``);
* **nftables/iptables** kernel log lines ``<prefix> IN=.. OUT=.. SRC=.. DST=.. PROTO=..
  SPT=.. DPT=..`` (``iptables.log``; ``event.action`` ``firewall-drop``, ``-reject`` or
  ``-accept`` from the log prefix, ``firewall-drop`` without one);
* **the IOC VMS** operator audit line, ``key=value`` pairs after the tag ``vms-audit``::

      vms-audit: action=login result=success user=op.nguyen src=10.20.0.101 console=wall-2

  (``action`` is ``login`` or ``logout``, ``result`` ``success`` or ``failure``;
  ``vms.audit``, ``event.action`` ``vms_login``);
* **resolvers** (BIND ``named``, Unbound, dnsmasq): query log lines, the client that asked
  and the name (``bind.query``, ``unbound.query``, ``dnsmasq.query``; ``event.action``
  ``dns_query``, :mod:`collectors.sources.resolverlog`);
* **web servers** (nginx, Apache): combined-format access lines (``nginx.access``,
  ``apache.access``; ``event.action`` ``http_request``, :mod:`collectors.sources.weblog`).

Anything else is kept as ``syslog.generic`` with ``message`` and ``event.original``. Every
event gets the ECS ``related.*`` fields (addresses, host names, users) and arrays for
``event.category``/``event.type``; RFC 5424 structured data becomes the ECS object
``log.syslog.structured_data`` (``{sd-id: {name: value}}``).
Messages over 64 KiB are truncated and binary ones are kept escaped; both are counted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citysoc.core import ecs
from citysoc.core.ecs import Event
from citysoc.core.errors import CollectorError, Location
from collectors.related import add_related
from collectors.sources.resolverlog import parse_query
from collectors.sources.weblog import parse_access
from collectors.stats import CollectorStats

log = logging.getLogger(__name__)

MAX_MESSAGE = 64 * 1024
BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
IP = r"[0-9A-Fa-f:.]{3,45}"
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(?P<msg>.*)$",
    re.DOTALL,
)
RFC3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?:(?P<app>[^\s:\[]{1,48})(?:\[(?P<pid>\d+)\])?: ?)?(?P<msg>.*)$",
    re.DOTALL,
)
SSH_FAILED = re.compile(
    rf"^Failed (?P<method>password|publickey|keyboard-interactive/pam|none) for "
    rf"(?:(?:invalid|illegal) user )?(?P<user>\S+) from (?P<ip>{IP}) port (?P<port>\d+)"
)
SSH_ACCEPTED = re.compile(
    rf"^Accepted (?P<method>password|publickey|keyboard-interactive/pam) for (?P<user>\S+) "
    rf"from (?P<ip>{IP}) port (?P<port>\d+)"
)
SSH_INVALID = re.compile(
    rf"^(?:Invalid|Illegal) user (?P<user>\S*) from (?P<ip>{IP})(?: port (?P<port>\d+))?"
)
SSH_PAM_FAILURE = re.compile(
    rf"^(?:error: )?PAM: Authentication failure for (?:(?:illegal|invalid) user )?"
    rf"(?P<user>\S+) from (?P<ip>{IP})"
)
SSH_NO_IDENTIFICATION = re.compile(
    rf"^Did not receive identification string from (?P<ip>{IP})(?: port (?P<port>\d+))?"
)
SSH_LOGINS = (  # pattern, success, system.auth.ssh.event (as Elastic's system module names it)
    (SSH_ACCEPTED, True, "Accepted"),
    (SSH_FAILED, False, "Failed"),
    (SSH_INVALID, False, "Invalid"),
    (SSH_PAM_FAILURE, False, "Failed"),
)
SD_ELEMENT = re.compile(r'\[([^\s\]=]{1,32})((?:\s+[^\s=\]]{1,32}="(?:[^"\\]|\\.){0,4096}")*)\s*\]')
SD_PARAM = re.compile(r'([^\s=\]]{1,32})="((?:[^"\\]|\\.){0,4096})"')
# Every pattern below runs in time linear in the message: no two unbounded repeats can
# compete for the same characters (the Hikvision line is read in three anchored steps).
HIKVISION_WHAT = re.compile(r"Remote:? (Login failed|Illegal Login|Login|Logout)\b", re.I)
HIKVISION_USER = re.compile(r"User:? ([^,\s]{1,256})", re.IGNORECASE)
HIKVISION_IP = re.compile(rf"IP:? ({IP})", re.IGNORECASE)
DAHUA = re.compile(
    rf"(?P<what>Login failed|Login|Logout):? User\[(?P<user>[^\]]{{0,256}})\] IP\[(?P<ip>{IP})\]"
    r"(?: Reason\[(?P<reason>[^\]]{0,1024})\])?",
    re.IGNORECASE,
)
FIREWALL = re.compile(r"(?:^|\s)IN=(?P<in>\S*) OUT=(?P<out>\S*)")
KV = re.compile(r"(?<!\w)(\w{1,64})=(\"[^\"]{0,4096}\"|\S+)")
MAX_INT_DIGITS = 10  # pids, ports and lengths; longer digit runs are kept as text only
FACILITIES = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    *(f"local{n}" for n in range(8)),
)
SEVERITIES = (
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
)


def read_syslog_file(
    path: Path, stats: CollectorStats, *, received: float | None = None
) -> Iterator[Event]:
    """One event per line of a syslog file; ``received`` defaults to the file's mtime."""
    try:
        data = path.read_bytes()
        when = path.stat().st_mtime if received is None else received
    except OSError as exc:
        raise CollectorError(
            f"cannot read syslog file: {exc}", location=Location(str(path))
        ) from exc
    return _lines(data, path, stats, when)


def _lines(data: bytes, path: Path, stats: CollectorStats, received: float) -> Iterator[Event]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        yield parse_syslog(line, Location(str(path), line=number), stats, received=received)


def parse_syslog(
    message: str | bytes, location: Location, stats: CollectorStats, *, received: float
) -> Event:
    """One syslog message to an event; never raises on content, never drops it."""
    stats.received += 1
    raw = message if isinstance(message, bytes) else message.encode("utf-8", "surrogatepass")
    text = _text(raw, location, stats)
    event: Event = {
        "@timestamp": ecs.timestamp(received),
        "ecs.version": ecs.ECS_VERSION,
        "event.id": ecs.event_id("syslog", location.line, location.record, raw[:MAX_MESSAGE]),
        "event.kind": "event",
        "event.category": ["host"],
        "event.type": ["info"],
        "event.module": "syslog",
        "event.dataset": "syslog.generic",
        "event.created": ecs.timestamp(received),
        "event.original": text,
        "message": text,
    }
    body, overlong_pid = _header(text, event, received)
    if overlong_pid:
        stats.error("syslog-bad-pid", location, f"a process id of over {MAX_INT_DIGITS} digits")
    for parse in PROGRAM_PARSERS:
        if parse(str(event.get("process.name", "")), body, event):
            break
    add_related(event)
    stats.parsed += 1
    stats.events += 1
    return event


def _text(raw: bytes, location: Location, stats: CollectorStats) -> str:
    if len(raw) > MAX_MESSAGE:
        stats.error("syslog-oversized", location, f"{len(raw)} bytes, kept {MAX_MESSAGE}")
        raw = raw[:MAX_MESSAGE]
    try:
        text, invalid = raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, invalid = raw.decode("utf-8", "backslashreplace"), True
    text = text.removeprefix("\ufeff")
    if invalid or BINARY.search(text):
        stats.error("syslog-binary", location, "control characters or invalid UTF-8")
        text = BINARY.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text.rstrip("\r\n")


def _header(text: str, event: Event, received: float) -> tuple[str, bool]:
    """Header fields into ``event``; returns the message body, and whether the process id
    was digits too many to keep."""
    m = RFC5424.match(text)
    if m:
        event["log.syslog.version"] = "1"
        for name, key in (
            ("log.syslog.appname", "app"),
            ("log.syslog.procid", "pid"),
            ("log.syslog.msgid", "msgid"),
        ):
            if m.group(key) != "-":
                event[name] = m.group(key)
        stamp = _iso(m.group("ts"))
        if m.group("sd") != "-":
            _structured_data(m.group("sd"), event)
    else:
        m = RFC3164.match(text)
        if not m:
            return text, False
        stamp = _bsd(m.group("ts"), received)
    if m.group("pri") is not None and int(m.group("pri")) <= 191:
        _priority(int(m.group("pri")), event)
    if m.group("host") != "-":
        event["host.hostname"] = event["log.syslog.hostname"] = m.group("host")
    if m.group("app") and m.group("app") != "-":
        event["process.name"] = m.group("app")
    pid_text = m.group("pid") or ""
    pid = _small_int(pid_text)
    if pid is not None:
        event["process.pid"] = pid
    if stamp is not None:
        event["@timestamp"] = ecs.timestamp(stamp)
    event["message"] = m.group("msg")
    return str(m.group("msg")), pid is None and pid_text.isascii() and pid_text.isdigit()


def _structured_data(text: str, event: Event) -> None:
    """RFC 5424 structured data as the ECS object ``{sd-id: {name: value}}``; text that is
    not well-formed structured data is kept as it came, in ``citysoc.syslog.structured_data``."""
    elements: dict[str, dict[str, str]] = {}
    position = 0
    while position < len(text):
        m = SD_ELEMENT.match(text, position)
        if m is None:
            event["citysoc.syslog.structured_data"] = text
            return
        params = elements.setdefault(m.group(1), {})
        for name, value in SD_PARAM.findall(m.group(2)):
            params[name] = re.sub(r"\\([\"\\\]])", r"\1", value)
        position = m.end()
    event["log.syslog.structured_data"] = elements


def _small_int(text: str | None) -> int | None:
    """A decimal field as an int, or None when it is absent, not ASCII digits, or too long."""
    if not text or len(text) > MAX_INT_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def _priority(pri: int, event: Event) -> None:
    facility, severity = divmod(pri, 8)
    event["log.syslog.priority"] = pri
    event["log.syslog.facility.code"] = facility
    event["log.syslog.severity.code"] = severity
    event["log.syslog.severity.name"] = SEVERITIES[severity]
    if facility < len(FACILITIES):
        event["log.syslog.facility.name"] = FACILITIES[facility]


def _iso(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        epoch = moment.timestamp()
        ecs.timestamp(epoch)
    except (ValueError, OverflowError, OSError):
        return None
    return epoch


def _bsd(value: str, received: float) -> float | None:
    now = datetime.fromtimestamp(received, UTC)
    for year in (now.year, now.year - 1):
        try:
            moment = datetime.strptime(f"{year} {value}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            continue  # 29 February in the wrong year, or a bad month
        if moment <= now + timedelta(days=1):
            return moment.timestamp()
    return None


def _auth(
    event: Event,
    dataset: str,
    action: str,
    ok: bool,
    user: str,
    ip: str | None,
    *,
    session: bool = False,
) -> None:
    """An authentication event; with ``session``, one that opens an interactive session
    (sshd): categories authentication and session, a success typed ``info`` and ``start``."""
    module = dataset.partition(".")[0]
    if "logout" in action:
        types = ["end"]
    elif ok:
        types = ["info", "start"] if session else ["start"]
    else:
        types = ["info"]
    event.update(
        {
            "event.module": module,
            "event.dataset": dataset,
            "event.category": ["authentication", "session"] if session else ["authentication"],
            "event.type": types,
            "event.action": action,
            "event.outcome": "success" if ok else "failure",
            "user.name": user,
        }
    )
    if ip:
        event["source.ip"] = ip


def _sshd(program: str, body: str, event: Event) -> bool:
    if program != "sshd":
        return False
    for pattern, ok, what in SSH_LOGINS:
        m = pattern.match(body)
        if m:
            user, ip = m.group("user"), m.group("ip")
            _auth(event, "system.auth", "ssh_login", ok, user, ip, session=True)
            groups = m.groupdict()
            port = _small_int(groups.get("port"))
            if port is not None:
                event["source.port"] = port
            if groups.get("method"):
                event["system.auth.ssh.method"] = groups["method"]
            event["system.auth.ssh.event"] = what
            return True
    m = SSH_NO_IDENTIFICATION.match(body)
    if m:
        event.update(
            {
                "event.module": "system",
                "event.dataset": "system.auth",
                "event.category": ["network"],
                "event.type": ["connection", "end"],
                "event.action": "ssh_no_identification",
                "source.ip": m.group("ip"),
                "system.auth.ssh.dropped_ip": m.group("ip"),
            }
        )
        port = _small_int(m.group("port"))
        if port is not None:
            event["source.port"] = port
        return True
    return False


def _hikvision(body: str) -> tuple[str, str, str] | None:
    """``(what, user, ip)`` of a Hikvision login line: each part searched after the last."""
    what = HIKVISION_WHAT.search(body)
    user = HIKVISION_USER.search(body, what.end()) if what else None
    ip = HIKVISION_IP.search(body, user.end()) if user else None
    if what is None or user is None or ip is None:
        return None
    return what.group(1), user.group(1), ip.group(1)


def _camera(program: str, body: str, event: Event) -> bool:
    name = program.lower()
    reason = None
    if name.startswith("hikvision"):
        dataset, action = "cctv.hikvision", "camera_login"
        found = _hikvision(body)
    elif name.startswith("dahua"):
        dataset, action = "cctv.dahua", "nvr_login"
        m = DAHUA.search(body)
        found = (m.group("what"), m.group("user"), m.group("ip")) if m else None
        reason = m.group("reason") if m else None
    else:
        return False
    if found is None:
        return False
    what, user, ip = found[0].lower(), found[1], found[2]
    ok = what in ("login", "logout")
    _auth(
        event, dataset, action.replace("login", what) if what == "logout" else action, ok, user, ip
    )
    if reason:
        event["event.reason"] = reason
    return True


def _firewall(program: str, body: str, event: Event) -> bool:
    m = FIREWALL.search(body)
    if not m:
        return False
    fields = dict(KV.findall(body[m.start() :]))
    if "SRC" not in fields:
        return False
    prefix = re.sub(r"^\[\s*\d+\.\d+\]\s*", "", body[: m.start()]).strip()
    lowered = prefix.lower()
    verdict = next((v for v in ("drop", "reject", "accept") if v in lowered), None)
    if verdict is None and ("allow" in lowered or "pass" in lowered):
        verdict = "accept"
    if verdict is None and not prefix:
        verdict = "drop"  # policy drops log without a prefix in the city's rule sets
    action = f"firewall-{verdict}" if verdict else re.sub(r"\W+", "-", lowered).strip("-")
    event.update(
        {
            "event.module": "iptables",
            "event.dataset": "iptables.log",
            "event.category": ["network"],
            "event.type": ["connection", "allowed" if verdict == "accept" else "denied"],
            "event.action": action,
        }
    )
    if prefix:
        event["rule.name"] = prefix
    for key, name, cast in (
        ("SRC", "source.ip", str),
        ("DST", "destination.ip", str),
        ("SPT", "source.port", int),
        ("DPT", "destination.port", int),
        ("PROTO", "network.transport", str.lower),
        ("IN", "observer.ingress.interface.name", str),
        ("OUT", "observer.egress.interface.name", str),
        ("LEN", "iptables.length", int),
        ("TTL", "iptables.ttl", int),
    ):
        value = fields.get(key)
        if value:
            try:
                event[name] = cast(value)
            except ValueError:
                continue
    return True


def _vms(program: str, body: str, event: Event) -> bool:
    if program != "vms-audit":
        return False
    fields = {k: v.strip('"') for k, v in KV.findall(body)}
    if fields.get("action") not in ("login", "logout") or "user" not in fields:
        return False
    ok = fields.get("result", "success") == "success"
    _auth(event, "vms.audit", f"vms_{fields['action']}", ok, fields["user"], fields.get("src"))
    if "console" in fields:
        event["vms.console"] = fields["console"]
    return True


PROGRAM_PARSERS: tuple[Callable[[str, str, Event], bool], ...] = (
    _sshd, _camera, _firewall, _vms, parse_query, parse_access,
)  # fmt: skip
