"""Open-loop HTTP load at a fixed rate, in a process of its own: the SOC API benchmark's client.

Reads a plan (JSON) naming the server, the rate, the duration and the request kinds (weight,
API token, the paths to choose from), sends request number n at ``start + n / rate`` whether
or not the earlier ones have been answered (as analysts' browsers do), over keep-alive
connections, and writes each kind's latencies as JSON. A latency runs from the time the
request was due, so a server or client that falls behind shows it in the figures instead of
sending fewer requests.

The client is HTTP/1.1 over asyncio streams, no more than the benchmark needs (GET, keep-alive,
``Content-Length`` or chunked bodies), so that its own CPU stays small beside the server's on
the same two cores: about a tenth of a general client's per request. It reports the CPU it
used (``client_cpu_seconds``), so a run can show the client was not what bounded it.

Run: .venv/bin/python benchmarks/api_load.py PLAN.json > RESULT.json
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class Pool:
    """Keep-alive connections to one server, at most ``size`` at once; a request waits for a
    free one (that wait is part of its latency, as in a browser)."""

    def __init__(self, base: str, size: int) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.free = asyncio.Semaphore(size)

    async def get(self, path: str, token: str) -> int:
        """GET ``path``; its status, once the whole body has been read."""
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n".encode()
        )
        async with self.free:
            reused = bool(self.idle)
            reader, writer = self.idle.pop() if reused else await self._open()
            try:
                writer.write(request)
                status, keep = await _response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                if not reused:
                    raise
                # The server closed a connection idle past its keep-alive time as this
                # request went out on it: sent again on a new one, as browsers do.
                reader, writer = await self._open()
                try:
                    writer.write(request)
                    status, keep = await _response(reader)
                except BaseException:
                    writer.close()
                    raise
            except BaseException:
                writer.close()
                raise
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection", "").lower() != "close"


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    kinds = plan["kinds"]
    rng = random.Random(plan.get("seed", 17))
    rate, seconds, warmup = plan["rate"], plan["seconds"], plan.get("warmup", 0)
    timeout = plan.get("timeout", 30.0)
    latencies: dict[str, list[float]] = {k["name"]: [] for k in kinds}
    statuses: dict[str, dict[str, int]] = {k["name"]: {} for k in kinds}
    late = 0
    pool = Pool(plan["base"], plan.get("connections", 64))
    cpu_started = time.process_time()

    async def one(kind: dict[str, Any], path: str, due: float, counted: bool) -> None:
        try:
            status = str(await asyncio.wait_for(pool.get(path, kind["token"]), timeout))
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            status = type(exc).__name__
        if counted:
            latencies[kind["name"]].append((time.perf_counter() - due) * 1000)
            statuses[kind["name"]][status] = statuses[kind["name"]].get(status, 0) + 1

    weights = [k["weight"] for k in kinds]
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.5
    total = int(rate * (warmup + seconds))
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1  # the client itself fell behind (counted, and in the latencies)
        kind = rng.choices(kinds, weights)[0]
        path = kind["paths"][rng.randrange(len(kind["paths"]))]
        task = asyncio.create_task(one(kind, path, due, n >= rate * warmup))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_in = time.perf_counter() - start
    await asyncio.gather(*tasks)
    pool.close()
    return {
        "latencies": latencies,
        "statuses": statuses,
        "sent": total,
        "send_seconds": sent_in,
        "late_sends": late,
        "client_cpu_seconds": time.process_time() - cpu_started,
    }


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    json.dump(asyncio.run(run(plan)), sys.stdout)


if __name__ == "__main__":
    main()
