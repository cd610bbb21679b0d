"""One range run: build the city's namespaces, play the baseline and the scenarios on the wire,
run the SOC's detections as its scheduler does, score, and remove everything.

The detections are the SOC API's own path: :func:`soc_api.context.build_context` compiles the
rules and builds the scheduler, whose ``run_once`` evaluates the new slice of events, turns
hits into alerts (deduplicated, folded, placed in the agencies), sweeps IOCs and raises early
warnings. The range calls it every :data:`DETECTION_INTERVAL` seconds while it plays, and
notes when each alert first appeared: that is its time to detect.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cityrange import network
from cityrange.actions import ACTIONS
from cityrange.baseline import Baseline, Conversation
from cityrange.certificate import server_context
from cityrange.correlation import score_correlation
from cityrange.library import Scenario, Step, check_against, resolve
from cityrange.netns import range_namespaces, thread_in
from cityrange.plan import COLLECTOR_NS, RangePlan, make_plan
from cityrange.responders import Victim, serve
from cityrange.score import (
    CorrelationResult,
    RangeScore,
    ScenarioRun,
    SeenAlert,
    belongs_to,
    score_baseline,
    score_scenario,
)
from cityrange.sensors import Collector, Sensor
from citysoc.core.errors import RangeError
from citysoc.core.settings import Settings
from citysoc.core.topology import INTERNET, Topology
from soc_api.alerts.models import Alert
from soc_api.context import SocContext, build_context
from soc_api.db import transaction

log = logging.getLogger(__name__)

TOOLS = ("ip", "tc", "nft", "tshark")
DETECTION_INTERVAL = 1.0
STEP_TIMEOUT = 60.0
GAP_SECONDS = 0.3  # between scenarios
SETTLE_SECONDS = 3.0  # after the last scenario, before the capture is stopped
Progress = Callable[[str], None]


@dataclass
class Watch:
    """Runs the detections on a schedule and notes when each alert first appeared."""

    ctx: SocContext
    raised: dict[int, float] = field(default_factory=dict)
    runs: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="range-detections", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(DETECTION_INTERVAL):
            self.once()

    def once(self) -> None:
        try:
            self.ctx.scheduler.run_once()
        except Exception:  # a failed run is logged; the next one takes the same slice
            log.exception("detection run failed")
        self.runs += 1
        now = time.time()
        with transaction(self.ctx.sessions) as session:
            for alert_id in session.scalars(select(Alert.id)):
                self.raised.setdefault(alert_id, now)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def preflight() -> None:
    if os.geteuid() != 0:
        raise RangeError("the range needs root: it builds network namespaces")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise RangeError(f"the range needs {', '.join(missing)} (Debian: iproute2 nftables tshark)")


def range_settings(settings: Settings, data_dir: Path) -> Settings:
    """The run's own SOC: a fresh data folder (SQLite events and SOC state). An engine named by
    ``CITYSOC_EVENT_STORE`` is used as it is: give the range one of its own, since the run's
    fresh checkpoint reads every event already there."""
    return settings.model_copy(update={"data_dir": data_dir, "state_url": ""})


def run_range(
    settings: Settings,
    topology: Topology,
    scenarios: Sequence[Scenario],
    baseline: Baseline,
    *,
    progress: Progress,
    bundle: str | None = None,
    keep_data: bool = False,
) -> RangeScore:
    preflight()
    stale = range_namespaces()
    if stale:
        progress(f"removing {len(stale)} namespaces left by an earlier run")
        network.remove()
    started_at, started = datetime.now(UTC), time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="citysoc-range-"))
    stop = threading.Event()
    try:
        run_settings = range_settings(settings, data_dir)
        ctx = build_context(run_settings)
        try:
            check_against(topology, list(scenarios), {r.name for r in ctx.rules})
            plan = _plan(topology, scenarios, baseline)
            progress(
                f"building the range: {len(plan.hosts)} hosts in {len(plan.segments)} segments"
            )
            network.build(plan, topology)
            _start_victims(plan, topology, stop, data_dir)
            sensor = Sensor(run_settings, topology)
            collector = Collector(run_settings, topology, plan.hosts[COLLECTOR_NS].addresses)
            watch = Watch(ctx)
            try:  # whatever started is stopped, however the run ends
                sensor.start()
                collector.start()
                watch.start()
                progress(f"baseline: {len(baseline.conversations)} kinds of benign conversation")
                _play_baseline(topology, plan, baseline)
                runs = _play_scenarios(topology, plan, scenarios, progress)
                time.sleep(SETTLE_SECONDS)
                progress("stopping the capture (open flows are reported) and detecting")
            finally:
                sensor.stop()
                collector.stop()
                watch.stop()
            watch.once()
            watch.once()
            alerts = _seen(ctx, watch.raised)
            correlation = _correlation(ctx, alerts, runs)
            progress(
                f"sensor stored {sensor.stored} events, collector {collector.stats.events}; "
                f"{len(alerts)} alerts in {watch.runs} detection runs"
            )
        finally:
            ctx.close()
        results = [score_scenario(run, alerts) for run in runs]
        return RangeScore(
            started=started_at,
            seconds=round(time.perf_counter() - started, 1),
            bundle=bundle,
            scenarios=results,
            baseline=score_baseline(alerts, runs, baseline.simulated_hours),
            correlation=correlation,
        )
    finally:
        stop.set()
        removed = network.remove()
        log.info("range removed: %s", ", ".join(removed) or "nothing")
        if keep_data:
            progress(f"events and alerts of the run kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def _plan(topology: Topology, scenarios: Sequence[Scenario], baseline: Baseline) -> RangePlan:
    ports: dict[str, set[int]] = {}
    for conversation in baseline.conversations:
        address = resolve(topology, conversation.target)
        ports.setdefault(address, set()).update(conversation.step.tcp_ports())
    return make_plan(topology, scenarios, baseline.hosts(), ports)


WEB_ROLES = ("web", "app")


def _start_victims(
    plan: RangePlan, topology: Topology, stop: threading.Event, data_dir: Path
) -> None:
    tls = server_context(data_dir / "tls")
    readies = []
    for address, ports in sorted(plan.ports.items()):
        if not ports:
            continue
        placed = topology.locate(address)
        collector = topology.collector_of(placed.segment) if placed else None
        host = next((h for h in topology.model.hosts if str(h.address) == address), None)
        web = host is not None and host.role in WEB_ROLES
        victim = Victim(
            host.name if host else address,
            address,
            tuple(sorted(ports)),
            str(collector.address) if collector else None,
            web_server=web,
            tls=tls if web else None,
        )
        ready = threading.Event()
        thread_in(plan.netns_of(address), partial(serve, victim, ready, stop), f"victim-{address}")
        readies.append((address, ready))
    for address, ready in readies:
        if not ready.wait(10):
            raise RangeError(f"the responder of {address} did not start")


def _resolved(topology: Topology, step: Step) -> dict[str, Any]:
    params = dict(step.params)
    if "targets" in params:
        params["targets"] = [resolve(topology, str(t)) for t in params["targets"]]
    return params


def _act(
    netns: str, src: str, dst: str, steps: Sequence[tuple[str, dict[str, Any]]], name: str
) -> threading.Thread:
    def body() -> None:
        for action, params in steps:
            ACTIONS[action](src, dst, params)

    return thread_in(netns, body, name)


def _play_baseline(topology: Topology, plan: RangePlan, baseline: Baseline) -> None:
    threads = []
    by_actor: dict[str, list[Conversation]] = {}
    for conversation in baseline.conversations:
        by_actor.setdefault(conversation.actor, []).append(conversation)
    for actor, conversations in by_actor.items():
        src = resolve(topology, actor)
        for c in conversations:
            dst = resolve(topology, c.target)
            steps = [(c.step.action, _resolved(topology, c.step))]
            threads.append(_act(plan.netns_of(src), src, dst, steps, f"baseline-{actor}"))
    for thread in threads:
        thread.join(STEP_TIMEOUT)


def _play_scenarios(
    topology: Topology, plan: RangePlan, scenarios: Sequence[Scenario], progress: Progress
) -> list[ScenarioRun]:
    runs = []
    for n, scenario in enumerate(scenarios, start=1):
        src = plan.attackers[scenario.id]
        victim = resolve(topology, scenario.victim)
        placed = topology.locate(victim)
        attacker = topology.locate(src) if scenario.attacker != INTERNET else None
        steps = [(s.action, _resolved(topology, s)) for s in scenario.steps]
        begun = time.time()
        _act(plan.netns_of(src), src, victim, steps, f"attack-{scenario.id}").join(STEP_TIMEOUT)
        runs.append(
            ScenarioRun(
                id=scenario.id,
                title=scenario.title,
                technique=scenario.technique,
                critical=scenario.critical,
                attacker_ip=src,
                victim_agency=scenario.victim_agency or (placed.agency if placed else "unknown"),
                attacker_agency=attacker.agency if attacker else None,
                expected_rules=tuple(scenario.expected_rules),
                window=scenario.window,
                started=begun,
            )
        )
        progress(f"[{n}/{len(scenarios)}] {scenario.id} from {src} ({time.time() - begun:.1f}s)")
        time.sleep(GAP_SECONDS)
    return runs


def _seen(ctx: SocContext, raised: dict[int, float]) -> list[SeenAlert]:
    found = []
    with transaction(ctx.sessions) as session:
        alerts = list(session.scalars(select(Alert)))
        for alert in alerts:
            events = ctx.store.get(list(alert.event_ids))
            addresses = {
                str(e[f])
                for e in events
                for f in ("source.ip", "destination.ip", "host.ip")
                if e.get(f)
            }
            found.append(
                SeenAlert(
                    alert_id=alert.id,
                    rule=alert.rule_name,
                    also=tuple(alert.also_rules or ()),
                    agency=alert.agency,
                    attacker=alert.attacker,
                    addresses=frozenset(addresses),
                    raised_at=raised.get(alert.id, time.time()),
                )
            )
    return found


def _correlation(
    ctx: SocContext, seen: Sequence[SeenAlert], runs: Sequence[ScenarioRun]
) -> CorrelationResult:
    """The SOC's incidents over the run's alerts, scored against the scenarios as labels."""
    labels = {a.alert_id: [r.id for r in runs if belongs_to(a, r)] for a in seen}
    window = timedelta(seconds=ctx.settings.incident_window_seconds)
    with transaction(ctx.sessions) as session:
        alerts = list(session.scalars(select(Alert)))
        return score_correlation(alerts, labels, window)
