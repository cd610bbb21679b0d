"""An alert keeps the client fingerprints of its events, wherever the collectors write them."""

from __future__ import annotations

import json
from pathlib import Path

from detections.engine.catalog_cache import compiled_catalog
from soc_api.alerts.roles import roles_of

RULE = "command_and_control_device_tls_unknown_fingerprint"
SAMPLES = Path(__file__).resolve().parents[3] / "detections/sigma/network" / RULE / "match"


def test_a_wire_ja4_is_an_alert_fingerprint() -> None:
    rule = next(r for r in compiled_catalog().rules if r.name == RULE)
    for sample in sorted(SAMPLES.glob("*.json")):
        event = json.loads(sample.read_text(encoding="utf-8"))
        ja4 = event["citysoc.tls.client.ja4"]
        roles = roles_of(rule, {}, [event])
        assert f"ja4:{ja4}" in roles.fingerprints, sample.name
