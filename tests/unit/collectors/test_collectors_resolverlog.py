"""Resolvers' query logs (BIND, Unbound, dnsmasq) over syslog: the client that asked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from citysoc.core import ecs_reference
from citysoc.core.errors import Location
from collectors.sources import syslog
from collectors.stats import CollectorStats

RECEIVED = datetime(2026, 11, 20, 4, 1, tzinfo=UTC).timestamp()
NAME = "mzxw6ytboi2dsnrqgq3tqmjt.t.exfil.example"


@pytest.mark.parametrize(
    ("line", "dataset", "server", "port"),
    [
        (f"<30>Nov 20 04:00:01 soc-resolver-01 named[812]: client @0x7f3a2c0a1b20 "
         f"10.10.1.5#41234 ({NAME}): query: {NAME} IN TXT +E(0)K (10.50.0.53)",
         "bind.query", "10.50.0.53", 41234),
        (f"<30>Nov 20 04:00:01 soc-resolver-01 named[812]: queries: info: client "
         f"10.10.1.5#41234 ({NAME}): query: {NAME} IN TXT + (10.50.0.53)",
         "bind.query", "10.50.0.53", 41234),
        (f"<30>Nov 20 04:00:01 soc-resolver-01 unbound[77]: [77:0] info: 10.10.1.5 "
         f"{NAME}. TXT IN", "unbound.query", None, None),
        (f"<30>Nov 20 04:00:01 soc-resolver-01 dnsmasq[5]: query[TXT] {NAME} from 10.10.1.5",
         "dnsmasq.query", None, None),
    ],
)  # fmt: skip
def test_query_lines_name_the_client_and_the_question(
    line: str, dataset: str, server: str | None, port: int | None
) -> None:
    stats = CollectorStats()
    event = syslog.parse_syslog(line, Location("test", line=1), stats, received=RECEIVED)
    assert event["event.dataset"] == dataset and event["event.action"] == "dns_query"
    assert event["source.ip"] == "10.10.1.5" and event["dns.question.name"] == NAME
    assert event["dns.question.type"] == "TXT" and event["dns.type"] == "query"
    assert event.get("destination.ip") == server and event.get("source.port") == port
    assert "10.10.1.5" in event["related.ip"]
    assert ecs_reference.problems(event) == []
    assert not stats.errors


def test_other_lines_of_a_resolver_stay_raw() -> None:
    line = "<30>Nov 20 04:00:01 soc-resolver-01 named[812]: zone example/IN: loaded serial 7"
    event = syslog.parse_syslog(line, Location("test", line=1), CollectorStats(), received=0.0)
    assert event["event.dataset"] == "syslog.generic" and "dns.question.name" not in event
