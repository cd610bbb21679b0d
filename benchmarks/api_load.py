"""Open-loop HTTP load at a fixed rate, in a process of its own: the SOC API benchmark's client.

Reads a plan (JSON) naming the server, the rate, the duration and the request kinds (weight,
API token, the paths to choose from), sends request number n at ``start + n / rate`` whether
or not the earlier ones have been answered (as analysts' browsers do), over keep-alive
connections, and writes each kind's latencies as JSON. A latency runs from the time the
request was due, so a server or client that falls behind shows it in the figures instead of
sending fewer requests.

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

import httpx2 as httpx


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    kinds = plan["kinds"]
    rng = random.Random(plan.get("seed", 17))
    rate, seconds, warmup = plan["rate"], plan["seconds"], plan.get("warmup", 0)
    latencies: dict[str, list[float]] = {k["name"]: [] for k in kinds}
    statuses: dict[str, dict[str, int]] = {k["name"]: {} for k in kinds}
    limits = httpx.Limits(max_connections=plan.get("connections", 64), max_keepalive_connections=64)
    timeout = httpx.Timeout(plan.get("timeout", 30.0))
    late = 0
    async with httpx.AsyncClient(base_url=plan["base"], limits=limits, timeout=timeout) as client:

        async def one(kind: dict[str, Any], path: str, due: float, counted: bool) -> None:
            headers = {"Authorization": f"Bearer {kind['token']}"}
            try:
                response = await client.get(path, headers=headers)
                status = str(response.status_code)
            except httpx.HTTPError as exc:
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
    return {
        "latencies": latencies,
        "statuses": statuses,
        "sent": total,
        "send_seconds": sent_in,
        "late_sends": late,
    }


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    json.dump(asyncio.run(run(plan)), sys.stdout)


if __name__ == "__main__":
    main()
