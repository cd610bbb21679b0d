"""The processing pipeline from Sigma's log-source taxonomy to citysoc's ECS events.

citysoc's own rules already use ECS field names; third-party rules (SigmaHQ) use the
taxonomy of their log source (``cs-method``, ``c-uri``, ``query``, ``id.orig_h``...). This
pipeline maps the log sources citysoc collects to the fields its collectors emit, turns
keyword (full-text) searches into substring matches on ``event.original``, and sets the
Elasticsearch index pattern (data streams ``logs-<dataset>-<agency>``) of each log source.
"""

from __future__ import annotations

from dataclasses import dataclass

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation, SetStateTransformation
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaString, SigmaType, SpecialChars

FieldMap = dict[str | None, str | list[str]]

HTTP_FIELDS: FieldMap = {
    "cs-method": "http.request.method",
    "c-uri": "url.original",
    "cs-uri": "url.original",
    "c-uri-query": "url.query",
    "cs-uri-query": "url.query",
    "c-uri-stem": "url.path",
    "cs-uri-stem": "url.path",
    "c-uri-extension": "url.extension",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "sc-status": "http.response.status_code",
    "cs-host": "url.domain",
    "cs-referer": "http.request.referrer",
    "cs-cookie": "http.request.cookie",
    "c-ip": "source.ip",
    "s-ip": "destination.ip",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
}
DNS_FIELDS: FieldMap = {
    "query": "dns.question.name",
    "record_type": "dns.question.type",
    "answer": "dns.answers.data",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
}
FIREWALL_FIELDS: FieldMap = {
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "src_port": "source.port",
    "dst_port": "destination.port",
    "action": "event.action",
    "blocked": "event.outcome",
}
ZEEK_FIELDS: FieldMap = {
    "id.orig_h": "source.ip",
    "id.resp_h": "destination.ip",
    "id.orig_p": "source.port",
    "id.resp_p": "destination.port",
    "query": "dns.question.name",
    "qtype_name": "dns.question.type",
    "answers": "dns.answers.data",
    "rcode_name": "dns.response_code",
    "method": "http.request.method",
    "uri": "url.original",
    "host": "url.domain",
    "user_agent": "user_agent.original",
    "status_code": "http.response.status_code",
    "c-uri": "url.original",
    "c-useragent": "user_agent.original",
}


@dataclass(frozen=True)
class Source:
    """A log source citysoc collects: its Sigma log source, fields and data stream."""

    name: str
    logsource: dict[str, str | None]  # None: the rule must not name this key
    fields: FieldMap
    index: str


HTTP_INDEX = "logs-network_traffic.http-*"
DNS_INDEX = "logs-network_traffic.dns-*"

SUPPORTED_SOURCES = (
    Source("webserver", {"category": "webserver"}, HTTP_FIELDS, HTTP_INDEX),
    Source("proxy", {"category": "proxy"}, HTTP_FIELDS, HTTP_INDEX),
    Source("dns", {"category": "dns"}, DNS_FIELDS, DNS_INDEX),
    Source("firewall", {"category": "firewall"}, FIREWALL_FIELDS, "logs-iptables.log-*"),
    Source("zeek-dns", {"product": "zeek", "service": "dns"}, ZEEK_FIELDS, DNS_INDEX),
    Source("zeek-http", {"product": "zeek", "service": "http"}, ZEEK_FIELDS, HTTP_INDEX),
    Source("citysoc-network", {"product": "citysoc"}, {}, "logs-network_traffic.*-*"),
    # Any Linux program log arrives through syslog: keyword searches on the raw line. Listed
    # before the specific programs, whose index settings must win.
    Source("syslog", {"product": "linux", "category": None}, {}, "logs-syslog.generic-*"),
    Source("sshd", {"product": "linux", "service": "sshd"}, {}, "logs-system.auth-*"),
    Source("suricata", {"product": "suricata"}, {}, "logs-suricata.eve-*"),
)  # fmt: skip


# Linux services whose records reach syslog but whose fields citysoc does not parse yet.
UNPARSED_SERVICES = frozenset({"auditd"})


def is_supported(logsource: dict[str, str | None]) -> bool:
    """Whether citysoc collects events of this Sigma log source."""
    if logsource.get("service") in UNPARSED_SERVICES:
        return False
    return any(
        all(logsource.get(k) == v for k, v in source.logsource.items())
        for source in SUPPORTED_SOURCES
    )


@dataclass
class KeywordsToOriginal(DetectionItemTransformation):
    """Keyword (full-text) searches become substring matches on ``event.original``."""

    field: str = "event.original"

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetection | SigmaDetectionItem | None:
        if detection_item.field is not None:
            return None
        detection_item.field = self.field
        detection_item.value = [_contains(v) for v in detection_item.value]
        return detection_item


def _contains(value: SigmaType) -> SigmaType:
    if not isinstance(value, SigmaString):
        return value
    if not value.startswith(SpecialChars.WILDCARD_MULTI):
        value = SpecialChars.WILDCARD_MULTI + value
    if not value.endswith(SpecialChars.WILDCARD_MULTI):
        value = value + SpecialChars.WILDCARD_MULTI
    return value


def citysoc_pipeline() -> ProcessingPipeline:
    """A fresh pipeline (transformations keep state: build one per backend)."""
    items = [
        ProcessingItem(
            identifier="citysoc_keywords",
            transformation=KeywordsToOriginal(),
        )
    ]
    for source in SUPPORTED_SOURCES:
        named = {k: v for k, v in source.logsource.items() if v is not None}
        if source.fields:
            items.append(
                ProcessingItem(
                    identifier=f"citysoc_{source.name}_fields",
                    transformation=FieldMappingTransformation(source.fields),
                    rule_conditions=[LogsourceCondition(**named)],
                )
            )
        items.append(
            ProcessingItem(
                identifier=f"citysoc_{source.name}_index",
                transformation=SetStateTransformation("index", source.index),
                rule_conditions=[LogsourceCondition(**named)],
            )
        )
    return ProcessingPipeline(name="citysoc ECS", priority=20, items=items)


def index_for(logsource: dict[str, str | None]) -> str:
    """The data-stream pattern events of this log source are stored in (``logs-*`` if none)."""
    found = "logs-*"
    for source in SUPPORTED_SOURCES:  # the last match wins, as in the pipeline
        if all(logsource.get(k) == v for k, v in source.logsource.items()):
            found = source.index
    return found
