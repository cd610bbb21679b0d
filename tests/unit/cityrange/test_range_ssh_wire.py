"""The range's SSH looks like SSH to the sensors: its action and its responder talk on
127.0.0.1 through a relay that records what each side sent, and the packet collectors' SSH
decoder reads the recording: both KEXINITs, no fault, a failed-looking password guess and a
successful-looking key login; the responder logs what sshd would."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from cityrange import actions, responders
from collectors.packets.protocols import AppRecord
from collectors.packets.ssh import SshSession


class Lines(responders.Syslog):
    def __init__(self) -> None:
        super().__init__("dc-app-01", "127.0.0.1", None)
        self.lines: list[str] = []

    def send(self, program: str, text: str) -> None:
        self.lines.append(f"{program}: {text}")


@pytest.fixture
def server() -> Iterator[tuple[int, Lines]]:
    lines = Lines()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, asyncio.base_events.Server] = {}

    async def start() -> None:
        holder["server"] = await asyncio.start_server(
            responders._guarded(responders.ssh(lines)), "127.0.0.1", 0
        )
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    assert started.wait(5)
    port = holder["server"].sockets[0].getsockname()[1]
    try:
        yield port, lines
    finally:
        holder["server"].close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def relay(port: int) -> tuple[int, list[tuple[int, bytes]], threading.Thread]:
    """A one-connection relay on 127.0.0.1 to ``port``; records (side, bytes) in order."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[tuple[int, bytes]] = []
    lock = threading.Lock()

    def pump(src: socket.socket, dst: socket.socket, side: int) -> None:
        while chunk := src.recv(65536):
            with lock:
                seen.append((side, chunk))
            dst.sendall(chunk)
        dst.shutdown(socket.SHUT_WR)

    def run() -> None:
        client, _ = listener.accept()
        upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        back = threading.Thread(target=pump, args=(upstream, client, 1))
        back.start()
        pump(client, upstream, 0)
        back.join(5)
        client.close()
        upstream.close()
        listener.close()

    thread = threading.Thread(target=run)
    thread.start()
    return listener.getsockname()[1], seen, thread


def decode(seen: list[tuple[int, bytes]]) -> tuple[list[AppRecord], list[tuple[str, str]]]:
    session = SshSession()
    records = []
    for side, chunk in seen:
        feed = session.client_data if side == 0 else session.server_data
        records += feed(chunk, 1.0)
    session.ended(1, 2.0)  # the responder closes when its answer is out
    records += session.finish()
    return records, session.take_errors()


@pytest.mark.parametrize(("method", "outcome"), [("password", "failure"), ("publickey", "success")])
def test_the_range_speaks_ssh_the_decoder_reads(
    server: tuple[int, Lines], method: str, outcome: str
) -> None:
    port, lines = server
    via, seen, thread = relay(port)
    actions.ssh("127.0.0.1", "127.0.0.1", {"port": via, "users": ["root"], "method": method})
    thread.join(10)
    records, errors = decode(seen)
    assert errors == []
    hello, auth = (r.fields for r in records)
    assert hello["ssh.client.software"] == "libssh_0.9.6" and hello["ssh.strict_kex"] is True
    assert hello["ssh.chosen.encryption_client_to_server"] == "chacha20-poly1305@openssh.com"
    assert auth["event.outcome"] == outcome, auth
    verb = "Accepted publickey" if method == "publickey" else "Failed password"
    assert len(lines.lines) == 1
    assert lines.lines[0].startswith(f"sshd: {verb} for root from 127.0.0.1 port ")
