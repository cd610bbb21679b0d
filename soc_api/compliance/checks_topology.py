"""Checks answered by the topology model and the Pulumi program's policy pack."""

from __future__ import annotations

from typing import Any

from citysoc.core.topology import INTERNET
from soc_api.compliance.evidence import Context, Status, check, ratio_status


@check("systems_classified")
def systems_classified(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """topology: the agency's segments and their systems with Decree 85 levels"""
    segments = ctx.segments()
    if not segments:
        return Status.NOT_MET, [f"the topology gives agency {ctx.agency!r} no segment"], {}
    rows = [
        {"segment": s.id, "segment_level": s.security_level, "system": sys.id,
         "name": sys.name, "level": sys.security_level}
        for s in segments for sys in s.systems
    ]  # fmt: skip
    bare = [s.id for s in segments if not s.systems]
    findings = [f"segment {sid} lists no classified system" for sid in bare]
    for s in segments:
        top = max((sys.security_level for sys in s.systems), default=s.security_level)
        if top > s.security_level:
            findings.append(
                f"segment {s.id} is level {s.security_level} but holds a level {top} system"
            )
    good = len(segments) - len(bare)
    status = ratio_status(good, len(segments)) if not findings[len(bare) :] else Status.PARTLY_MET
    return status, findings, {"systems": rows, "segments": [s.id for s in segments]}


@check("segmentation_policy")
def segmentation_policy(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """infra: the Pulumi program planned offline under mocks, then every policy of the policy pack
    (city-wide)
    """
    if ctx.policies is None:
        return Status.NOT_MET, ["no policy pack results: the infrastructure plan was not run"], {}
    results = ctx.memo("policies", ctx.policies)
    rows = [
        {"policy": r.policy, "mandatory": r.mandatory, "violations": list(r.violations)}
        for r in sorted(results, key=lambda r: r.policy)
    ]
    findings = [f"{r.policy}: {v}" for r in results for v in r.violations]
    blocking = [r for r in results if r.mandatory and r.violations]
    if not results:
        return Status.NOT_MET, ["the policy pack returned no result"], {"policies": rows}
    status = Status.NOT_MET if blocking else Status.PARTLY_MET if findings else Status.MET
    return status, findings, {"policies": rows}


@check("flows_default_deny")
def flows_default_deny(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """topology: allowed flows into and out of the agency's segments; anything not listed is
    denied"""
    mine = {s.id for s in ctx.segments()}
    flows = [f for f in ctx.topology.model.flows if f.source in mine or f.destination in mine]
    rows = sorted(
        (
            {"from": f.source, "from_host": f.source_host, "to": f.destination,
             "to_host": f.destination_host, "protocol": f.protocol, "ports": list(f.ports),
             "description": f.description}
            for f in flows
        ),
        key=lambda r: (str(r["from"]), str(r["to"]), str(r["protocol"]), str(r["ports"])),
    )  # fmt: skip
    findings = []
    for f in flows:
        if not f.ports and f.protocol != "icmp":
            findings.append(f"flow {f.description!r} allows every {f.protocol} port")
        if f.source == INTERNET and f.destination in mine:
            kind = ctx.topology.segments[f.destination].kind
            if kind != "datacentre":
                findings.append(f"flow {f.description!r} opens {kind} segment to the internet")
    if not mine:
        return Status.NOT_MET, ["the agency has no segment to check"], {}
    return (Status.PARTLY_MET if findings else Status.MET), findings, {"flows": rows}


@check("sensor_coverage")
def sensor_coverage(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """topology: sensors (mirrored ports) watching each of the agency's segments"""
    segments = ctx.segments()
    rows = {s.id: sorted(h.name for h in ctx.topology.sensors_of(s.id)) for s in segments}
    findings = [f"segment {sid} has no sensor" for sid, names in rows.items() if not names]
    return ratio_status(sum(bool(v) for v in rows.values()), len(rows)), findings, {"sensors": rows}


@check("collector_coverage")
def collector_coverage(ctx: Context) -> tuple[Status, list[str], dict[str, Any]]:
    """topology: the collector receiving each of the agency's segments' logs"""
    segments = ctx.segments()
    rows: dict[str, str | None] = {}
    for s in segments:
        host = ctx.topology.collector_of(s.id)
        rows[s.id] = host.name if host else None
    findings = [f"segment {sid} has no log collector" for sid, name in rows.items() if not name]
    good = sum(v is not None for v in rows.values())
    return ratio_status(good, len(rows)), findings, {"collectors": rows}
