"""Victims: tiny asyncio servers that answer as the city's devices do, inside their namespace.

Which protocol a port speaks follows the device's convention (80 HTTP, 554 RTSP, 23 Telnet,
22 SSH, 502 Modbus/TCP, 20000 DNP3, 445 SMB, 3389 RDP, 443 TLS); any other TCP port accepts
and reads. Hosts that log (SSH servers, cameras) send their log lines as RFC 3164 syslog over
UDP to the collector that serves their segment, as the real ones are configured to.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cityrange import sshwire

log = logging.getLogger(__name__)

READ = 65536
EXPORT_PACE = 0.02  # seconds per MiB sent
EXPORT = re.compile(rb"^COPY .* bytes=(\d+)")
KNOWN_PATHS = ("/", "/index.html", "/tra-cuu", "/tai-lieu", "/upload", "/SDK/webLanguage",
               "/RPC2_Login")  # fmt: skip
KNOWN_PREFIXES = ("/ISAPI/", "/cgi-bin/", "/Security/")


@dataclass(frozen=True)
class Victim:
    """One host the range answers for: its address, ports and where its syslog goes."""

    name: str
    address: str
    tcp_ports: tuple[int, ...]
    syslog_to: str | None  # collector address, or None when the host does not log
    web_server: bool = False  # logs its HTTP(S) requests as nginx access lines
    tls: ssl.SSLContext | None = None  # serves real TLS on 443/8443 when given


class Syslog:
    """RFC 3164 lines over UDP from the host's own address to its collector."""

    def __init__(self, name: str, source: str, collector: str | None) -> None:
        self.name, self.collector = name, collector
        self.sock: socket.socket | None = None
        if collector:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((source, 0))

    def send(self, program: str, text: str) -> None:
        if self.sock is None or self.collector is None:
            return
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime())
        line = f"<38>{stamp} {self.name} {program}[{4000 + hash(text) % 999}]: {text}"
        try:
            self.sock.sendto(line.encode(), (self.collector, 514))
        except OSError as exc:  # dropped by the segment's firewall: the wire still shows it
            log.debug("syslog from %s not sent: %s", self.name, exc)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_http(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.rsplit(" ", 1)[0]
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)
    return method, path, headers


def http(log_to: Syslog, access_log: bool = False) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, path, headers = await _read_http(reader)
        bare = path.split("?", 1)[0]
        found = bare in KNOWN_PATHS or bare.startswith(KNOWN_PREFIXES)
        status = "200 OK" if found else "404 Not Found"
        body = b"<html>ok</html>" if found else b"<html>not found</html>"
        writer.write(
            f"HTTP/1.1 {status}\r\nServer: webs\r\nContent-Type: text/html\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        if access_log:
            peer = writer.get_extra_info("peername")[0]
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
            agent = headers.get("user-agent", "-").replace('"', "'")
            log_to.send(
                "nginx",
                f'{peer} - - [{stamp}] "{method} {path} HTTP/1.1" {status[:3]} {len(body)} '
                f'"-" "{agent}"',
            )

    return handle


def rtsp(log_to: Syslog) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            text = head.decode("latin-1")
            cseq = next((ln.split(":", 1)[1].strip() for ln in text.split("\r\n")
                         if ln.lower().startswith("cseq:")), "1")  # fmt: skip
            authorised = "dm1zLXN2Yzp" in text  # the VMS service account
            status = "200 OK" if authorised else "401 Unauthorized"
            extra = "" if authorised else 'WWW-Authenticate: Basic realm="camera"\r\n'
            writer.write(f"RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}\r\n".encode())
            await writer.drain()

    return handle


def telnet(log_to: Syslog) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"\r\nlogin: ")
            await writer.drain()
            user = (await reader.readline()).strip()
            if not user:
                return
            writer.write(b"Password: ")
            await writer.drain()
            await reader.readline()
            writer.write(b"\r\nLogin incorrect\r\n")
            await writer.drain()

    return handle


async def _ssh_packet(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack(">I", await reader.readexactly(4))
    if length > sshwire.MAX_PACKET:
        raise ValueError(f"a {length}-byte SSH packet")
    return await reader.readexactly(length)


async def _ssh_login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    """The key exchange and the login up to the client's request (see ``sshwire``);
    returns the request's ``method:user``."""
    await _ssh_packet(reader)  # the client's KEXINIT
    await _ssh_packet(reader)  # its ECDH init
    writer.write(sshwire.ecdh_reply_and_newkeys())
    await writer.drain()
    await _ssh_packet(reader)  # its NEWKEYS
    await reader.readexactly(sshwire.SERVICE_REQUEST)
    writer.write(sshwire.record(sshwire.EXT_INFO) + sshwire.record(sshwire.SERVICE_ACCEPT))
    await writer.drain()
    await reader.readexactly(sshwire.NONE_REQUEST)
    writer.write(sshwire.record(sshwire.REFUSAL))
    await writer.drain()
    method, user = sshwire.read_auth_request(await reader.readexactly(sshwire.AUTH_REQUEST))
    return f"{method}:{user}"


def ssh(log_to: Syslog) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n" + sshwire.kexinit("s"))
        await writer.drain()
        banner = await reader.readline()
        if not banner.startswith(b"SSH-"):
            return
        try:
            method, _, user = (await _ssh_login(reader, writer)).partition(":")
        except (asyncio.IncompleteReadError, ValueError):
            return  # a client that left, or did not speak the range's SSH
        peer = writer.get_extra_info("peername")
        user = user.strip() or "root"
        if method == "publickey":
            log_to.send("sshd", f"Accepted publickey for {user} from {peer[0]} port {peer[1]} ssh2")
            writer.write(
                b"".join(sshwire.record(size) for size in (sshwire.SUCCESS, *sshwire.SESSION))
            )
        else:
            log_to.send("sshd", f"Failed password for {user} from {peer[0]} port {peer[1]} ssh2")
            writer.write(sshwire.record(sshwire.REFUSAL))
        await writer.drain()

    return handle


def modbus(log_to: Syslog) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                header = await reader.readexactly(7)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            length = int.from_bytes(header[4:6], "big")
            pdu = await reader.readexactly(max(0, length - 1))
            code = pdu[0] if pdu else 0
            reply = bytes([code]) + (pdu[1:5] if code in (5, 6, 8) else b"\x02\x00\x00")
            writer.write(header[:4] + (len(reply) + 1).to_bytes(2, "big") + header[6:7] + reply)
            await writer.drain()

    return handle


def sink(log_to: Syslog) -> Handler:
    """Any other service: read whatever comes (TLS, SMB, RDP, DNP3, databases)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.read(READ)
        asked = EXPORT.search(first)
        if asked:  # a database asked for a table dump: answer with that many bytes
            left, block = int(asked.group(1)), b"\x44" * (1 << 20)
            while left > 0:  # at about 50 MB/s, as a database reads its disk
                writer.write(block[: min(left, len(block))])
                await writer.drain()
                left -= len(block)
                await asyncio.sleep(EXPORT_PACE)
        while first:
            first = await reader.read(READ)

    return handle


def tls(log_to: Syslog) -> Handler:
    """HTTPS without keys here: read the client's hello, refuse with a TLS alert."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(READ)
        writer.write(bytes.fromhex("15030300020228"))  # alert: fatal, handshake_failure
        await writer.drain()

    return handle


PROTOCOLS: dict[int, Callable[[Syslog], Handler]] = {
    80: http, 8080: http, 554: rtsp, 23: telnet, 2323: telnet, 22: ssh, 502: modbus,
    443: tls, 8443: tls,
}  # fmt: skip


def _guarded(handler: Handler) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # attackers hang up mid-way; that is their business
        finally:
            writer.close()

    return handle


TLS_PORTS = (443, 8443)


def _handler(victim: Victim, port: int, log_to: Syslog) -> Handler:
    """HTTP (logged as a web server does) on web ports and, with a certificate, on TLS ports."""
    if port in (80, 8080) or (port in TLS_PORTS and victim.tls is not None):
        return http(log_to, access_log=victim.web_server)
    return PROTOCOLS.get(port, sink)(log_to)


def serve(victim: Victim, ready: threading.Event, stop: threading.Event) -> None:
    """Run the victim's servers until ``stop`` is set (call inside the victim's namespace)."""

    async def main() -> None:
        log_to = Syslog(victim.name, victim.address, victim.syslog_to)
        servers = []
        for port in victim.tcp_ports:
            handler = _handler(victim, port, log_to)
            secure = victim.tls if port in TLS_PORTS else None
            server = await asyncio.start_server(_guarded(handler), victim.address, port, ssl=secure)
            servers.append(server)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for server in servers:
            server.close()

    asyncio.run(main())
