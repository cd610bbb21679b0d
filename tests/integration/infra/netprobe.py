"""Tiny TCP/UDP echo servers and probes, run inside test namespaces with ``ip netns exec``.

    python netprobe.py serve '{"tcp": [22, 443], "udp": [514]}'   # prints "ready", echoes
    python netprobe.py probe '[{"proto": "tcp", "addr": "10.10.0.20", "port": 443}]'

Only ever given addresses of namespaces the test created. ``probe`` prints one JSON list of
booleans: whether each probe got its echo back within the timeout.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import sys
import threading
import time

TIMEOUT = 1.0
LIFETIME = 120.0  # a server never outlives a test run, even if the test dies


def serve(spec: dict[str, list[int]]) -> None:
    selector = selectors.DefaultSelector()
    for port in spec.get("tcp", []):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(64)
        selector.register(server, selectors.EVENT_READ, "tcp")
    for port in spec.get("udp", []):
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("0.0.0.0", port))
        selector.register(server, selectors.EVENT_READ, "udp")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data == "udp":
                data, peer = sock.recvfrom(512)
                sock.sendto(data, peer)
            else:
                conn, _ = sock.accept()
                with conn:
                    conn.settimeout(TIMEOUT)
                    with contextlib.suppress(OSError):
                        conn.sendall(conn.recv(512))


def probe_one(proto: str, addr: str, port: int) -> bool:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(TIMEOUT)
        try:
            if proto == "tcp":
                sock.connect((addr, port))
                sock.sendall(b"ping")
            else:
                sock.sendto(b"ping", (addr, port))
            return sock.recv(512) == b"ping"
        except OSError:
            return False


def probe(probes: list[dict[str, object]]) -> None:
    results: list[bool] = [False] * len(probes)

    def run(i: int, p: dict[str, object]) -> None:
        results[i] = probe_one(str(p["proto"]), str(p["addr"]), int(str(p["port"])))

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(probes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sys.stdout.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(json.loads(sys.argv[2]))
    else:
        probe(json.loads(sys.argv[2]))
