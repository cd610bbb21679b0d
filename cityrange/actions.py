"""What attackers (and the benign city) do: small programs on real sockets.

Each action runs in a thread inside the actor's namespace, from the actor's own address
(``src``), against addresses of hosts the range built. Parameters come from the scenario
library; :data:`ACTIONS` names them.
"""

from __future__ import annotations

import base64
import contextlib
import random
import select
import socket
import ssl
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cityrange import sshwire

Params = Mapping[str, Any]
TIMEOUT = 2.0


def _connect(src: str, dst: str, port: int, timeout: float = TIMEOUT) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((src, 0))
    sock.connect((dst, port))
    return sock


def _try(do: Callable[[], None]) -> None:
    # refused, reset, timed out, dropped by the firewall: the wire has it all the same
    with contextlib.suppress(OSError):
        do()


def _send(sock: socket.socket, data: bytes, to: tuple[str, int]) -> None:
    with contextlib.suppress(OSError):  # unreachable, refused: the datagram left all the same
        sock.sendto(data, to)


def _recv_until(sock: socket.socket, marker: bytes, limit: int = 65536) -> bytes:
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def http(src: str, dst: str, p: Params) -> None:
    """Raw HTTP requests, exactly as written in the library (so encodings stay as given)."""
    port = int(p.get("port", 80))
    for n in range(int(p.get("count", 1))):
        for request in p["requests"]:
            raw = request.replace("{n}", str(n)).replace("{host}", dst)
            head, _, body = raw.partition("\n\n")
            lines = [ln for ln in head.split("\n") if ln]
            lines.append(f"Content-Length: {len(body.encode())}") if body else None
            lines.append("Connection: close")
            data = ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

            def send(data: bytes = data) -> None:
                with _connect(src, dst, port) as sock:
                    sock.sendall(data)
                    _recv_until(sock, b"</html>")

            _try(send)
        time.sleep(float(p.get("delay", 0)))


def rtsp(src: str, dst: str, p: Params) -> None:
    """RTSP DESCRIBE with Basic credentials, one connection per guess."""
    users = p.get("users", ["admin"])
    for n in range(int(p.get("count", 1))):
        user = users[n % len(users)]
        guess = f"{user}:{p.get('password', 'guess')}{n}".encode()
        secret = str(p.get("basic") or base64.b64encode(guess).decode())

        def send(secret: str = secret) -> None:
            with _connect(src, dst, int(p.get("port", 554))) as sock:
                sock.sendall(
                    f"{p.get('method', 'DESCRIBE')} rtsp://{dst}/Streaming/Channels/101 RTSP/1.0"
                    "\r\nCSeq: 2\r\n"
                    f"Authorization: Basic {secret}\r\n"
                    f"User-Agent: {p.get('agent', 'LibVLC/3.0.18')}\r\n\r\n".encode()
                )
                _recv_until(sock, b"\r\n\r\n")

        _try(send)
        time.sleep(float(p.get("delay", 0)))


def telnet(src: str, dst: str, p: Params) -> None:
    """Telnet logins with the default credentials IoT malware tries; optional payload."""
    targets = _targets(p, dst)
    pairs = p.get("credentials", [["root", "xc3511"], ["admin", "admin"], ["root", "vizxv"]])
    for target in targets:
        for n in range(int(p.get("count", 1))):
            user, password = pairs[n % len(pairs)]

            def login(target: str = target, user: str = user, password: str = password) -> None:
                with _connect(src, target, int(p.get("port", 23))) as sock:
                    _recv_until(sock, b"login: ")
                    sock.sendall(f"{user}\r\n".encode())
                    _recv_until(sock, b"Password: ")
                    sock.sendall(f"{password}\r\n".encode())
                    _recv_until(sock, b"incorrect")
                    if p.get("payload"):
                        sock.sendall(f"{p['payload']}\r\n".encode())

            _try(login)
            time.sleep(float(p.get("delay", 0)))


def ssh(src: str, dst: str, p: Params) -> None:
    """SSH connections: banner exchange, then one password (or key) attempt each."""
    users = p.get("users", ["root"])
    for n in range(int(p.get("count", 1))):
        user = users[n % len(users)]

        def attempt(user: str = user) -> None:
            with _connect(src, dst, int(p.get("port", 22))) as sock:
                _ssh_login(sock, str(p.get("client", "SSH-2.0-libssh_0.9.6")),
                           str(p.get("method", "password")), user)  # fmt: skip
                time.sleep(0.05)

        _try(attempt)
        time.sleep(float(p.get("delay", 0)))


class _Wire:
    """A socket read by lines, packets and exact sizes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.data = sock, b""

    def exactly(self, n: int) -> bytes:
        while len(self.data) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.data += chunk
        out, self.data = self.data[:n], self.data[n:]
        return out

    def line(self) -> bytes:
        self.data = _recv_until(self.sock, b"\n") if not self.data else self.data
        line, _, self.data = self.data.partition(b"\n")
        return line

    def packet(self) -> bytes:
        (length,) = struct.unpack(">I", self.exactly(4))
        return self.exactly(min(length, sshwire.MAX_PACKET))


def _ssh_login(sock: socket.socket, client: str, method: str, user: str) -> None:
    """One SSH login as the wire shows it (see ``cityrange.sshwire``): the key exchange,
    the service request, the ``none`` probe, then one password or key request."""
    wire = _Wire(sock)
    wire.line()  # the server's banner
    sock.sendall(f"{client}\r\n".encode() + sshwire.kexinit("c"))
    wire.packet()  # the server's KEXINIT
    sock.sendall(sshwire.ecdh_init())
    wire.packet()  # ECDH reply
    wire.packet()  # NEWKEYS
    sock.sendall(sshwire.newkeys() + sshwire.record(sshwire.SERVICE_REQUEST))
    wire.exactly(sshwire.EXT_INFO + sshwire.SERVICE_ACCEPT)
    sock.sendall(sshwire.record(sshwire.NONE_REQUEST))
    wire.exactly(sshwire.REFUSAL)
    sock.sendall(sshwire.auth_request(method, user))
    answer = sshwire.SUCCESS + sum(sshwire.SESSION) if method == "publickey" else sshwire.REFUSAL
    wire.exactly(answer)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def syn_scan(src: str, dst: str, p: Params) -> None:
    """Half-open SYN probes from a raw socket (the kernel answers the replies with RST)."""
    ports = _ports(p)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    raw.bind((src, 0))  # the kernel writes the IP header: from the actor's own address
    base = random.Random(src).randint(40000, 60000)  # noqa: S311 - a port, not a secret
    try:
        for target in _targets(p, dst):
            for port in ports:
                header = struct.pack("!HHIIBBHHH", base, port, 1, 0, 5 << 4, 0x02, 1024, 0, 0)
                pseudo = struct.pack(
                    "!4s4sBBH", socket.inet_aton(src), socket.inet_aton(target), 0, 6, len(header)
                )
                checksum = _checksum(pseudo + header)
                packet = header[:16] + struct.pack("!H", checksum) + header[18:]
                _send(raw, packet, (target, 0))
                time.sleep(float(p.get("delay", 0.002)))
    finally:
        raw.close()


def connect_scan(src: str, dst: str, p: Params) -> None:
    """Full TCP connects to each port of each target, all at once, closed after a moment."""
    socks = []
    for target in _targets(p, dst):
        for port in _ports(p):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((src, 0))
            sock.connect_ex((target, port))
            socks.append(sock)
            time.sleep(float(p.get("delay", 0.002)))
    select.select([], socks, [], float(p.get("wait", 1.0)))
    for sock in socks:
        sock.close()


def udp(src: str, dst: str, p: Params) -> None:
    """Datagrams (a UDP scan, a WS-Discovery probe, DNS queries) from the actor's address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    payload = str(p.get("payload", "")).encode()
    try:
        for target in _targets(p, dst):
            for port in _ports(p):
                _send(sock, payload, (target, port))
                time.sleep(float(p.get("delay", 0.002)))
    finally:
        sock.close()


def dns(src: str, dst: str, p: Params) -> None:
    """DNS queries for names made from a template (``{n}`` and ``{chunk}`` are filled)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((src, 0))
    rng = random.Random(src)  # noqa: S311 - tunnel-like names, not secrets
    try:
        for n in range(int(p.get("count", 1))):
            chunk = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(48))
            name = str(p["name"]).replace("{n}", str(n)).replace("{chunk}", chunk)
            query = struct.pack("!HHHHHH", n & 0xFFFF, 0x0100, 1, 0, 0, 0)
            query += b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
            query += struct.pack("!HH", int(p.get("qtype", 16)), 1)
            _send(sock, query, (dst, 53))
            time.sleep(float(p.get("delay", 0.005)))
    finally:
        sock.close()


def modbus(src: str, dst: str, p: Params) -> None:
    """Modbus/TCP requests: ``requests`` are [function code, hex data] pairs."""

    def send() -> None:
        with _connect(src, dst, int(p.get("port", 502))) as sock:
            for n, (code, data) in enumerate(p["requests"] * int(p.get("count", 1))):
                pdu = bytes([int(code)]) + bytes.fromhex(data)
                sock.sendall(struct.pack("!HHHB", n + 1, 0, len(pdu) + 1, 1) + pdu)
                sock.recv(260)
                time.sleep(float(p.get("delay", 0.01)))

    _try(send)


def dnp3(src: str, dst: str, p: Params) -> None:
    """DNP3 link-layer frames (start bytes 05 64) carrying the given application requests."""

    def send() -> None:
        with _connect(src, dst, int(p.get("port", 20000))) as sock:
            for n, function in enumerate(p.get("functions", [1])):
                app = bytes([0xC0 | (n & 0x0F), int(function)]) + bytes.fromhex(
                    str(p.get("objects", "3c0206"))
                )
                user = bytes([0xC0 | (n & 0x3F)]) + app
                header = bytes([0x05, 0x64, 5 + len(user), 0xC4]) + struct.pack("<HH", 10, 1)
                blocks = b"".join(user[i : i + 16] + b"\0\0" for i in range(0, len(user), 16))
                sock.sendall(header + b"\0\0" + blocks)  # CRCs left zero
                time.sleep(0.02)

    _try(send)


def stream(src: str, dst: str, p: Params) -> None:
    """Protocol bytes to a TCP port (SMB, RDP, stratum, ...), then ``bytes`` of bulk data."""
    for target in _targets(p, dst):

        def send(target: str = target) -> None:
            with _connect(src, target, int(p.get("port", 445)), timeout=10) as sock:
                if p.get("hello_hex"):
                    sock.sendall(bytes.fromhex(str(p["hello_hex"])))
                if p.get("hello"):
                    sock.sendall(str(p["hello"]).encode())
                left = int(p.get("bytes", 0))
                block = b"\x17" * 65536
                while left > 0:
                    sock.sendall(block[: min(left, len(block))])
                    left -= len(block)
                wanted = int(p.get("read_bytes", 0))
                while wanted > 0:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        break
                    wanted -= len(chunk)
                time.sleep(0.05)

        _try(send)


def tls(src: str, dst: str, p: Params) -> None:
    """TLS client hellos with a server name (the only clear text of HTTPS), then data."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for _ in range(int(p.get("count", 1))):

        def hello() -> None:
            with _connect(src, dst, int(p.get("port", 443)), timeout=2.0) as sock:
                try:
                    with context.wrap_socket(sock, server_hostname=str(p["sni"])) as tls_sock:
                        tls_sock.sendall(str(p.get("request", "GET / HTTP/1.1\r\n\r\n")).encode())
                        _recv_until(tls_sock, b"</html>")
                except (ssl.SSLError, TimeoutError):
                    pass  # the portal's answer is not ours to read: the hello has gone out

        _try(hello)
        time.sleep(float(p.get("delay", 0)))


def _targets(p: Params, dst: str) -> list[str]:
    """``targets`` (hosts of the range), else ``sweep`` (first address and count: addresses
    that need not exist, e.g. across the router), else the victim."""
    if p.get("targets"):
        return [str(t) for t in p["targets"]]
    if p.get("sweep"):
        first, count = p["sweep"]
        start = struct.unpack("!I", socket.inet_aton(str(first)))[0]
        return [socket.inet_ntoa(struct.pack("!I", start + i)) for i in range(int(count))]
    return [dst]


def _ports(p: Params) -> Sequence[int]:
    if "ports" in p:
        return [int(x) for x in p["ports"]]
    first, last = p.get("port_range", [1, 100])
    return list(range(int(first), int(last) + 1))


ACTIONS: dict[str, Callable[[str, str, Params], None]] = {
    "http": http, "rtsp": rtsp, "telnet": telnet, "ssh": ssh, "syn_scan": syn_scan,
    "connect_scan": connect_scan, "udp": udp, "dns": dns, "modbus": modbus, "dnp3": dnp3,
    "stream": stream, "tls": tls,
}  # fmt: skip
